import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { tf } from '@ssl/tensor';
import { intFlag, MODEL_FLAGS, MODEL_HELP, modelFromFlags } from './cli-common.js';
import { davisScore, type DavisScore } from './davis-metrics.js';
import { decodeLabelPng, encodeIndexedPng } from './indexed-png.js';
import { oneHot, resizeLabelsNearest, segmentationLabels, videoSegmenter, type FrameFeatures } from './video-segmentation.js';
import type { EvalViT } from './suite.js';

const HELP = `ssl-eval video-seg: video object segmentation by label propagation, as DINO's eval_video_segmentation.py

usage: ssl-eval video-seg (--weights PATH | --random-init) --data-path DAVIS --out DIR [options]

  --data-path DIR        DAVIS layout: JPEGImages/<video>/*.jpg (or JPEGImages/480p/<video>) and
                         Annotations/<video>/00000.png (the first frame's mask; palette PNG, or any
                         mask image: black = background); more annotated frames give J and F
  --video NAMES          comma-separated videos (default: all in ImageSets/2017/val.txt, else all folders)
  --out DIR              palette PNGs per video, named as the frames (default ./video-seg-out)
  --n-last-frames N      preceding frames in the context (default 7)
  --size-mask-neighborhood N   source patches within N patches of the target (default 12)
  --topk N               sources mixed per target patch (default 5)
  --short-side N         frames resized to this short side, long side floored to a multiple of 64 (default 480)
${MODEL_HELP}`;

// eval_video_segmentation.py's color_normalize: ImageNet mean, std with 0.228 for red (sic)
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.228, 0.224, 0.225];

/** The official `read_frame` size: short side `short`, the other side floored to a multiple of 64. */
export function davisFrameSize(height: number, width: number, short = 480): [number, number] {
  if (height > width) return [Math.floor(((short * height) / width) / 64) * 64, short];
  return [short, Math.floor(((short * width) / height) / 64) * 64];
}

/** A frame as the official `read_frame`: bilinear resize (cv2 default), /255, normalised, `[1, th, tw, 3]`. */
export async function readDavisFrame(file: string, short = 480): Promise<{ x: tf.Tensor4D; height: number; width: number }> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const [th, tw] = davisFrameSize(info.height, info.width, short);
  const x = tf.tidy(() => {
    const img = tf.div(tf.tensor3d(Float32Array.from(data), [info.height, info.width, 3]), 255);
    const r = tf.image.resizeBilinear(img as tf.Tensor3D, [th, tw], false, true);
    return tf.expandDims(tf.div(tf.sub(r, tf.tensor1d(MEAN)), tf.tensor1d(STD)), 0) as tf.Tensor4D;
  });
  return { x, height: info.height, width: info.width };
}

/** Last-layer patch features of a frame (`get_intermediate_layers(x, n=1)[0][:, 1:]`), `[h*w, dim]`. */
export function framePatchFeatures(model: EvalViT, x: tf.Tensor4D): FrameFeatures {
  const [, H, W] = x.shape;
  const h = Math.floor(H / model.patchSize);
  const w = Math.floor(W / model.patchSize);
  const t = tf.tidy(() => {
    const out = model.getIntermediateLayers(x, 1)[0] as tf.Tensor3D; // [1, N+1, D]
    const [, N1, D] = out.shape;
    return tf.reshape(tf.slice(out, [0, 1, 0], [1, N1 - 1, D]), [N1 - 1, D]);
  });
  const dim = t.shape[1] as number;
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return { data, h, w, dim };
}

/** Distinct mask values to consecutive labels (0 stays background), so a 0/255 mask is one object. */
function labelRemap(labels: Uint8Array): Map<number, number> {
  const values = [...new Set(labels)].sort((a, b) => a - b);
  const map = new Map<number, number>([[0, 0]]);
  let next = 1;
  for (const v of values) if (v !== 0) map.set(v, next++);
  return map;
}

export interface VideoSegResult {
  video: string;
  frames: number;
  out: string;
  score?: DavisScore;
}

/** Segments one DAVIS-layout video; writes its palette PNGs; scores J/F where annotations exist. */
export async function segmentVideo(
  model: EvalViT,
  o: { frameDir: string; annotationDir: string; outDir: string; video: string; nLastFrames: number; sizeMaskNeighborhood: number; topk: number; shortSide: number; log?: (s: string) => void },
): Promise<VideoSegResult> {
  const frames = readdirSync(o.frameDir).filter((f) => /\.jpe?g$/i.test(f)).sort();
  if (frames.length === 0) throw new Error(`${o.frameDir}: no .jpg frames`);
  const stem = (f: string): string => basename(f).replace(/\.[^.]+$/, '');
  const firstMaskPath = join(o.annotationDir, `${stem(frames[0] as string)}.png`);
  if (!existsSync(firstMaskPath)) throw new Error(`${firstMaskPath}: the first frame's mask is missing`);
  const firstMask = await decodeLabelPng(readFileSync(firstMaskPath), firstMaskPath);
  const remap = labelRemap(firstMask.labels);
  const mapLabels = (l: Uint8Array): Uint8Array => l.map((v) => remap.get(v) ?? 0);
  const C = remap.size;
  const outDir = join(o.outDir, o.video);
  mkdirSync(outDir, { recursive: true });

  const first = await readDavisFrame(join(o.frameDir, frames[0] as string), o.shortSide);
  if (first.height !== firstMask.height || first.width !== firstMask.width) {
    first.x.dispose();
    throw new Error(`${firstMaskPath}: mask is ${firstMask.width}x${firstMask.height}, the frame ${first.width}x${first.height}`);
  }
  const firstFeat = framePatchFeatures(model, first.x);
  first.x.dispose();
  const { h, w } = firstFeat;
  // read_seg: the mask resized (nearest) to the patch grid, one-hot
  const small = resizeLabelsNearest(mapLabels(firstMask.labels), firstMask.height, firstMask.width, h, w);
  const step = videoSegmenter(firstFeat, oneHot(small, h, w, C), { nLastFrames: o.nLastFrames, sizeMaskNeighborhood: o.sizeMaskNeighborhood, topk: o.topk });
  const inverse = new Uint8Array(256);
  for (const [from, to] of remap) inverse[to] = from;
  writeFileSync(join(outDir, `${stem(frames[0] as string)}.png`), encodeIndexedPng(firstMask.labels, first.height, first.width));

  const results: Uint8Array[] = [mapLabels(firstMask.labels)];
  const truths: (Uint8Array | null)[] = [mapLabels(firstMask.labels)];
  for (let i = 1; i < frames.length; i++) {
    const f = await readDavisFrame(join(o.frameDir, frames[i] as string), o.shortSide);
    const feat = framePatchFeatures(model, f.x);
    f.x.dispose();
    if (feat.h !== h || feat.w !== w) throw new Error(`${frames[i]}: frame size differs from the first frame's`);
    const up = segmentationLabels(step(feat), model.patchSize);
    const labels = resizeLabelsNearest(up.labels, up.h, up.w, f.height, f.width);
    results.push(labels);
    writeFileSync(join(outDir, `${stem(frames[i] as string)}.png`), encodeIndexedPng(labels.map((v) => inverse[v] as number), f.height, f.width));
    const gtPath = join(o.annotationDir, `${stem(frames[i] as string)}.png`);
    truths.push(existsSync(gtPath) ? mapLabels((await decodeLabelPng(readFileSync(gtPath), gtPath)).labels) : null);
    o.log?.(`${o.video}: ${i + 1}/${frames.length}`);
  }
  const scored = truths.slice(1, -1).some((t) => t !== null);
  return { video: o.video, frames: frames.length, out: outDir, ...(scored ? { score: davisScore(results, truths, first.height, first.width) } : {}) };
}

export async function videoSegCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_FLAGS,
      'data-path': { type: 'string' },
      video: { type: 'string' },
      out: { type: 'string', default: 'video-seg-out' },
      'n-last-frames': { type: 'string', default: '7' },
      'size-mask-neighborhood': { type: 'string', default: '12' },
      topk: { type: 'string', default: '5' },
      'short-side': { type: 'string', default: '480' },
    },
  });
  if (values.help || !values['data-path'] || (!values.weights && !values['random-init'])) {
    process.stdout.write(HELP);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const root = values['data-path'];
  const jpegRoot = existsSync(join(root, 'JPEGImages', '480p')) ? join(root, 'JPEGImages', '480p') : join(root, 'JPEGImages');
  const annRoot = existsSync(join(root, 'Annotations', '480p')) ? join(root, 'Annotations', '480p') : join(root, 'Annotations');
  if (!existsSync(jpegRoot)) throw new Error(`${root}: no JPEGImages folder (DAVIS layout expected)`);
  const valList = join(root, 'ImageSets', '2017', 'val.txt');
  const videos = values.video
    ? values.video.split(',').map((s) => s.trim())
    : existsSync(valList)
      ? readFileSync(valList, 'utf8').split('\n').map((s) => s.trim()).filter(Boolean)
      : readdirSync(jpegRoot).filter((d) => statSync(join(jpegRoot, d)).isDirectory()).sort();
  const { model, desc } = await modelFromFlags(values, log);
  log(`model: ${desc}`);
  const results: VideoSegResult[] = [];
  for (const video of videos) {
    results.push(
      await segmentVideo(model, {
        frameDir: join(jpegRoot, video),
        annotationDir: join(annRoot, video),
        outDir: values.out as string,
        video,
        nLastFrames: intFlag(values, 'n-last-frames'),
        sizeMaskNeighborhood: intFlag(values, 'size-mask-neighborhood'),
        topk: intFlag(values, 'topk'),
        shortSide: intFlag(values, 'short-side'),
        log,
      }),
    );
  }
  const scored = results.filter((r) => r.score);
  const mean = (f: (s: DavisScore) => number): number => scored.reduce((s, r) => s + f(r.score as DavisScore), 0) / Math.max(1, scored.length);
  const summary = scored.length ? { J: mean((s) => s.J), F: mean((s) => s.F), JF: mean((s) => s.JF) } : null;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ model: desc, videos: results, mean: summary })}\n`);
    return;
  }
  const lines = results.map((r) => `${r.video}: ${r.frames} frames -> ${r.out}${r.score ? `  J ${r.score.J.toFixed(3)}  F ${r.score.F.toFixed(3)}  J&F ${r.score.JF.toFixed(3)}` : ''}`);
  if (summary) lines.push(`mean over ${scored.length} video(s): J ${summary.J.toFixed(3)}  F ${summary.F.toFixed(3)}  J&F ${summary.JF.toFixed(3)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
