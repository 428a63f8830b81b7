import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { decodeImage, resize, type ImageU8 } from '@ssl/augment';
import { rgbToPng } from '@ssl/eval';
import { attentionImages, clsMaps } from './attention.js';
import type { LoadedModel } from './model.js';
import type { ResolvedPreprocess } from './preprocess.js';

const VIDEO_EXT = new Set(['.mp4', '.mkv', '.webm', '.mov', '.avi', '.m4v', '.gif']);
const FRAME_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);

/** True when the path names a video file (by extension), false for a folder of frames. */
export function isVideoPath(path: string): boolean {
  return VIDEO_EXT.has(extname(path).toLowerCase());
}

function needFfmpeg(tool: 'ffmpeg' | 'ffprobe'): void {
  const r = spawnSync(tool, ['-version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new Error(`${tool} is needed for videos and was not found on PATH (Debian/Ubuntu: apt-get install ffmpeg)`);
}

export interface VideoInfo {
  width: number;
  height: number;
  /** Frames per second (the stream's average frame rate). */
  fps: number;
  /** Frame count when the container states it or the duration gives it, else null. */
  frames: number | null;
}

/** Size, frame rate and frame count of a video's first video stream (ffprobe). */
export function probeVideo(file: string): VideoInfo {
  needFfmpeg('ffprobe');
  const r = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,duration', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`${file}: not a readable video (${(r.stderr || '').trim() || `ffprobe exit ${r.status}`})`);
  const s = (JSON.parse(r.stdout) as { streams?: Record<string, string | number>[] }).streams?.[0];
  if (!s) throw new Error(`${file}: no video stream`);
  const rate = (v: unknown): number => {
    const [a, b] = String(v ?? '0/0').split('/').map(Number);
    return b ? (a as number) / b : Number(a);
  };
  const fps = rate(s['avg_frame_rate']) || rate(s['r_frame_rate']);
  if (!(fps > 0)) throw new Error(`${file}: the video states no frame rate`);
  const nb = Number(s['nb_frames']);
  const dur = Number(s['duration']);
  const frames = Number.isFinite(nb) && nb > 0 ? nb : Number.isFinite(dur) && dur > 0 ? Math.round(dur * fps) : null;
  return { width: Number(s['width']), height: Number(s['height']), fps, frames };
}

/**
 * Decoded RGB frames of a video, one at a time from ffmpeg's raw output: only the frame being
 * read is held in memory, so a video of any length streams through.
 */
export async function* readVideoFrames(file: string, info: VideoInfo): AsyncGenerator<ImageU8> {
  needFfmpeg('ffmpeg');
  const { width, height } = info;
  const frameBytes = width * height * 3;
  const proc = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
  let pending: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      have += chunk.length;
      while (have >= frameBytes) {
        const all = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
        yield { data: new Uint8Array(all.subarray(0, frameBytes)), height, width, channels: 3 };
        const rest = all.subarray(frameBytes);
        pending = rest.length ? [rest] : [];
        have = rest.length;
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`ffmpeg could not decode ${file}: ${stderr.trim() || `exit ${code}`}`);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

/** The image files of a folder of frames, sorted by name. */
export function frameFiles(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => FRAME_EXT.has(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
  if (files.length === 0) throw new Error(`${dir}: no frames (.jpg/.png/...) in the folder`);
  return files;
}

/** An ffmpeg encoder fed raw RGB frames on stdin, waiting for the pipe to drain (back pressure). */
export class VideoWriter {
  private readonly proc: ChildProcess;
  private readonly done: Promise<void>;
  private stderr = '';

  constructor(
    readonly file: string,
    readonly width: number,
    readonly height: number,
    fps: number,
  ) {
    needFfmpeg('ffmpeg');
    const gif = extname(file).toLowerCase() === '.gif';
    const codec = gif ? [] : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '18'];
    // yuv420p needs even sides: pad by one black pixel where odd
    const args = ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-'];
    args.push('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', ...codec, file);
    this.proc = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.done = new Promise((resolve, reject) => {
      this.proc.on('error', reject);
      this.proc.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg could not write ${file}: ${this.stderr.trim() || `exit ${code}`}`))));
    });
  }

  async write(rgb: Uint8Array): Promise<void> {
    if (rgb.length !== this.width * this.height * 3) throw new Error(`VideoWriter: frame has ${rgb.length} bytes, expected ${this.width}x${this.height}x3`);
    const stdin = this.proc.stdin as NodeJS.WritableStream;
    if (!stdin.write(rgb)) await Promise.race([new Promise((r) => stdin.once('drain', r)), this.done]);
  }

  async close(): Promise<void> {
    (this.proc.stdin as NodeJS.WritableStream).end();
    await this.done;
  }
}

/**
 * A frame as video_generation.py feeds it: optionally resized (shorter side, bicubic), cropped at
 * the top-left to a multiple of the patch size, normalised, as a 1 x C x H x W input.
 */
export function videoFrameInput(frame: ImageU8, pre: ResolvedPreprocess, patch: number, resizeTo?: number): { image: ImageU8; input: { data: Float32Array; dims: number[] } } {
  let img = frame;
  if (resizeTo !== undefined) {
    const s = resizeTo / Math.min(img.height, img.width);
    img = resize(img, Math.max(1, Math.round(img.height * s)), Math.max(1, Math.round(img.width * s)), 'bicubic');
  }
  const H = img.height - (img.height % patch);
  const W = img.width - (img.width % patch);
  if (H < patch || W < patch) throw new Error(`video frame ${img.width}x${img.height} is smaller than one ${patch}px patch`);
  const C = pre.channels;
  const cropped = new Uint8Array(H * W * 3);
  for (let y = 0; y < H; y++) cropped.set(img.data.subarray(y * img.width * 3, (y * img.width + W) * 3), y * W * 3);
  const data = new Float32Array(C * H * W);
  for (let p = 0; p < H * W; p++) {
    if (C === 3) {
      for (let c = 0; c < 3; c++) data[c * H * W + p] = ((cropped[p * 3 + c] as number) / 255 - (pre.mean[c] as number)) / (pre.std[c] as number);
    } else {
      const g = (0.299 * (cropped[p * 3] as number) + 0.587 * (cropped[p * 3 + 1] as number) + 0.114 * (cropped[p * 3 + 2] as number)) / 255;
      data[p] = (g - (pre.mean[0] as number)) / (pre.std[0] as number);
    }
  }
  return { image: { data: cropped, height: H, width: W, channels: 3 }, input: { data, dims: [1, C, H, W] } };
}

/**
 * One output frame: the mean-over-heads attention as a heat map and the frame with its threshold
 * mask side by side; with `allHeads`, every head too (heat maps over mask overlays, mean last).
 */
export function attentionFrame(image: ImageU8, attention: { data: Float32Array; dims: number[] }, patch: number, threshold: number, allHeads: boolean): { rgb: Uint8Array; height: number; width: number } {
  const maps = clsMaps({ data: attention.data, dims: attention.dims.slice(1) }, image.height / patch, image.width / patch);
  const tiles = attentionImages(image, maps, patch, threshold);
  const H = image.height;
  const W = image.width;
  const chosen = allHeads ? tiles : tiles.slice(-1);
  const rows = allHeads ? 2 : 1;
  const cols = allHeads ? chosen.length : 2;
  const out = new Uint8Array(rows * H * cols * W * 3);
  const put = (src: Uint8Array, r: number, c: number): void => {
    for (let y = 0; y < H; y++) out.set(src.subarray(y * W * 3, (y + 1) * W * 3), ((r * H + y) * cols * W + c * W) * 3);
  };
  if (allHeads) {
    chosen.forEach((t, c) => {
      put(t.heat, 0, c);
      put(t.mask, 1, c);
    });
  } else {
    put((chosen[0] as { heat: Uint8Array }).heat, 0, 0);
    put((chosen[0] as { mask: Uint8Array }).mask, 0, 1);
  }
  return { rgb: out, height: rows * H, width: cols * W };
}

export interface AttentionVideoOptions {
  input: string;
  /** A video file (by extension: .mp4, .webm, .gif, ...) or a folder for PNG frames. */
  out: string;
  threshold: number;
  /** Shorter side of the frames fed to the model (default: the source size). */
  resize?: number;
  /** Frame rate of the output when the input is a folder of frames (default 30, as video_generation.py). */
  fps?: number;
  allHeads?: boolean;
  progress?: (done: number, total: number | null) => void;
}

/**
 * `video_generation.py` as a stream: frames from a video (ffmpeg) or a folder, the last block's CLS
 * attention of each, rendered (see `attentionFrame`) and written to a video at the source frame
 * rate or to numbered PNGs. One frame is in memory at a time.
 */
export async function attentionVideo(model: LoadedModel, pre: ResolvedPreprocess, o: AttentionVideoOptions): Promise<{ frames: number; fps: number; width: number; height: number }> {
  if (!model.hasAttention || model.patchSize === null) throw new Error('the model has no attention output (export a ViT)');
  const patch = model.patchSize;
  let fps = o.fps ?? 30;
  let total: number | null;
  let frames: AsyncIterable<ImageU8>;
  if (isVideoPath(o.input)) {
    const info = probeVideo(o.input);
    fps = info.fps;
    total = info.frames;
    frames = readVideoFrames(o.input, info);
  } else {
    const files = frameFiles(o.input);
    total = files.length;
    frames = (async function* () {
      for (const f of files) yield await decodeImage(f, { channels: 3 });
    })();
  }
  const toVideo = isVideoPath(o.out);
  if (!toVideo) mkdirSync(o.out, { recursive: true });
  let writer: VideoWriter | null = null;
  let n = 0;
  let size = { width: 0, height: 0 };
  try {
    for await (const frame of frames) {
      const { image, input } = videoFrameInput(frame, pre, patch, o.resize);
      const att = (await model.extractor.run({ input }, ['attention']))['attention']!;
      const f = attentionFrame(image, att, patch, o.threshold, Boolean(o.allHeads));
      if (n === 0) size = { width: f.width, height: f.height };
      else if (f.width !== size.width || f.height !== size.height) throw new Error(`frame ${n} renders at ${f.width}x${f.height}, the first at ${size.width}x${size.height}: frames must share one size`);
      if (toVideo) {
        writer ??= new VideoWriter(o.out, f.width, f.height, fps);
        await writer.write(f.rgb);
      } else {
        writeFileSync(join(o.out, `attn-${String(n).padStart(5, '0')}.png`), await rgbToPng(f.rgb, f.height, f.width));
      }
      n++;
      o.progress?.(n, total);
    }
    if (n === 0) throw new Error(`${o.input}: no frames`);
  } finally {
    if (writer) await writer.close();
  }
  return { frames: n, fps, ...size };
}

/** A one-line progress bar redrawn in place: `[#####.....] 12/24 frames 3.1 fps` (the caller ends the line). */
export function progressBar(write: (s: string) => void, label = 'frames'): (done: number, total: number | null) => void {
  const t0 = performance.now();
  return (done, total) => {
    const rate = done / Math.max(1e-3, (performance.now() - t0) / 1000);
    const width = 30;
    const bar = total ? `[${'#'.repeat(Math.round((width * Math.min(done, total)) / total)).padEnd(width, '.')}] ` : '';
    write(`\r${bar}${done}${total ? `/${total}` : ''} ${label} ${rate.toFixed(1)} fps`);
  };
}
