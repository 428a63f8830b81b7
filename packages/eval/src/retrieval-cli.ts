import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { PickleObject, unpickle } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { intFlag, MODEL_FLAGS, MODEL_HELP, modelFromFlags } from './cli-common.js';
import { extractFeatures, type Embed, type ImageBatchSource } from './features.js';
import { labelRetrieval, multiScaleEmbed, rankByCosine, revisitedMap, type RevisitedGnd } from './retrieval.js';

const HELP = `ssl-eval retrieval: image retrieval as DINO's eval_image_retrieval.py

usage: ssl-eval retrieval (--weights PATH | --random-init) [--multiscale] MODE

modes:
  --data-path DIR --dataset roxford5k|rparis6k
                         revisited Oxford/Paris: DIR/<dataset>/gnd_<dataset>.pkl (the official file, read
                         without executing it) or .json with its fields (imlist, qimlist, gnd[i].easy/hard/junk),
                         and DIR/<dataset>/jpg/*.jpg;
                         prints mAP and mP@1,5,10 for Easy, Medium and Hard
  --queries DIR --database DIR [--labels FILE]
                         any two image folders; positives of a query are the database images of its
                         label: from FILE (lines "path label", paths relative to their folder) or else
                         the sub-folder name (class/xxx.jpg); prints mAP and recall@k

options:
  --multiscale           average the CLS features at scales 1, 1/sqrt(2), 1/2 (official --multiscale)
  --imsize N             longest side of the thumbnail fed to the model (default 224, as the official)
  --k LIST               recall@k values in the folder mode (default 1,5,10)
${MODEL_HELP}`;

const IMAGE = /\.(jpe?g|png|webp|tiff?|bmp|gif|avif)$/i;
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Image files under `dir`, recursively, sorted by relative path. */
export function listImages(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (IMAGE.test(e)) out.push(p);
    }
  };
  walk(dir);
  if (out.length === 0) throw new Error(`${dir}: no images found`);
  return out;
}

/**
 * Size of PIL's `Image.thumbnail((n, n))`: unchanged when it fits, else the side that does not
 * fill the box rounded (floor or ceil) to whichever keeps the aspect ratio closest.
 */
export function thumbnailSize(width: number, height: number, n: number): [number, number] {
  if (n >= width && n >= height) return [width, height];
  const aspect = width / height;
  const roundAspect = (v: number, key: (k: number) => number): number => {
    const lo = Math.floor(v);
    const hi = Math.ceil(v);
    return Math.max(key(hi) < key(lo) ? hi : lo, 1);
  };
  // the box is square, so PIL's `x / y >= aspect` is `1 >= aspect` (portrait or square)
  if (1 >= aspect) return [roundAspect(n * aspect, (k) => Math.abs(aspect - k / n)), n];
  return [n, roundAspect(n / aspect, (k) => (k === 0 ? 0 : Math.abs(aspect - n / k)))];
}

/**
 * One image as the official retrieval loader gives it: RGB, thumbnail to `imsize` (Lanczos, as
 * PIL's ANTIALIAS; sharp's lanczos3 rather than Pillow's, so pixels differ slightly), ImageNet
 * normalisation, `[1, H, W, 3]`.
 */
export async function loadRetrievalImage(file: string, imsize: number): Promise<tf.Tensor4D> {
  const img = sharp(file, { failOn: 'error' }).removeAlpha().toColourspace('srgb');
  const { width = 0, height = 0 } = await img.metadata();
  const [w, h] = thumbnailSize(width, height, imsize);
  const raw = await img.resize(w, h, { kernel: 'lanczos3', fit: 'fill' }).raw().toBuffer();
  const out = new Float32Array(w * h * 3);
  for (let i = 0; i < out.length; i++) out[i] = ((raw[i] as number) / 255 - (IMAGENET_MEAN[i % 3] as number)) / (IMAGENET_STD[i % 3] as number);
  return tf.tensor4d(out, [1, h, w, 3]);
}

/** Files as a batch source of one image each (sizes differ, as the official batch size 1). */
function fileSource(files: string[], imsize: number): ImageBatchSource {
  return {
    size: files.length,
    batch: async (s, e) => {
      if (e - s !== 1) throw new Error('retrieval images differ in size: batch size must be 1');
      return loadRetrievalImage(files[s] as string, imsize);
    },
  };
}

/** Labels of a folder's images: from a "path label" file, else the sub-folder name. */
function labelsOf(files: string[], root: string, table: Map<string, string> | null): string[] {
  return files.map((f) => {
    const rel = relative(root, f).split(sep).join('/');
    if (table) {
      const l = table.get(rel);
      if (l === undefined) throw new Error(`--labels: no label for ${rel}`);
      return l;
    }
    const parts = rel.split('/');
    if (parts.length < 2) throw new Error(`${rel}: without --labels, images must sit in one sub-folder per label (label/file.jpg)`);
    return parts[parts.length - 2] as string;
  });
}

function readLabels(path: string): Map<string, string> {
  const table = new Map<string, string>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) return;
      const m = /^(.*\S)\s+(\S+)$/.exec(t);
      if (!m) throw new Error(`${path}:${i + 1}: expected "path label", got "${t}"`);
      table.set(m[1] as string, m[2] as string);
    });
  return table;
}

/** Integers of a pickled list or numpy array (`numpy.core.multiarray._reconstruct` + its BUILD state). */
function pickledNumbers(v: unknown, what: string): number[] {
  if (Array.isArray(v)) return v.map((x) => Number(x));
  if (v instanceof PickleObject && v.callable.endsWith('multiarray._reconstruct') && Array.isArray(v.state)) {
    // state: (version, shape, dtype, is_fortran, raw bytes); dtype = numpy.dtype('i8' | 'i4' | ...) with (3, '<' | '>' | '|', ...)
    const [, , dtype, , raw] = v.state as [unknown, unknown, PickleObject, unknown, Uint8Array];
    const code = String(dtype?.args?.[0] ?? '');
    const little = !(Array.isArray(dtype?.state) && dtype.state[1] === '>');
    const size = Number(code.slice(1));
    if (!(raw instanceof Uint8Array) || !/^[iu][1248]$/.test(code)) throw new Error(`${what}: a numpy array of dtype '${code}', expected integers`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: raw.byteLength / size }, (_, i) => {
      const o = i * size;
      if (size === 8) return Number(code[0] === 'i' ? dv.getBigInt64(o, little) : dv.getBigUint64(o, little));
      if (size === 4) return code[0] === 'i' ? dv.getInt32(o, little) : dv.getUint32(o, little);
      if (size === 2) return code[0] === 'i' ? dv.getInt16(o, little) : dv.getUint16(o, little);
      return code[0] === 'i' ? dv.getInt8(o) : dv.getUint8(o);
    });
  }
  throw new Error(`${what}: expected a list or a numpy array of indices`);
}

/**
 * A revisited Oxford/Paris ground truth, checked: the official `gnd_<dataset>.pkl` (read without
 * executing it; lists or numpy arrays of indices) or the same fields as JSON.
 */
export function readRevisitedGnd(path: string): RevisitedGnd {
  let g: Partial<RevisitedGnd>;
  if (path.endsWith('.pkl')) {
    const raw = unpickle(readFileSync(path), { name: path }) as Record<string, unknown>;
    const list = (v: unknown, what: string): unknown[] => {
      if (!Array.isArray(v)) throw new Error(`${path}: ${what} must be a list`);
      return v;
    };
    g = {
      imlist: list(raw['imlist'], 'imlist').map(String),
      qimlist: list(raw['qimlist'], 'qimlist').map(String),
      gnd: list(raw['gnd'], 'gnd').map((q, i) => {
        const d = q as Record<string, unknown>;
        return {
          easy: pickledNumbers(d['easy'], `${path}: gnd[${i}].easy`),
          hard: pickledNumbers(d['hard'], `${path}: gnd[${i}].hard`),
          junk: pickledNumbers(d['junk'], `${path}: gnd[${i}].junk`),
        };
      }),
    };
  } else {
    g = JSON.parse(readFileSync(path, 'utf8')) as Partial<RevisitedGnd>;
  }
  if (!Array.isArray(g.imlist) || !Array.isArray(g.qimlist) || !Array.isArray(g.gnd)) {
    throw new Error(`${path}: expected { imlist: [...], qimlist: [...], gnd: [{ easy, hard, junk }, ...] }`);
  }
  if (g.gnd.length !== g.qimlist.length) throw new Error(`${path}: ${g.gnd.length} gnd entries for ${g.qimlist.length} queries`);
  g.gnd.forEach((q, i) => {
    for (const key of ['easy', 'hard', 'junk'] as const) {
      const l = q[key];
      if (!Array.isArray(l) || l.some((v) => !Number.isInteger(v) || v < 0 || v >= (g.imlist as string[]).length)) {
        throw new Error(`${path}: gnd[${i}].${key} must list database indices in [0, ${(g.imlist as string[]).length})`);
      }
    }
  });
  return g as RevisitedGnd;
}

export async function retrievalCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_FLAGS,
      'data-path': { type: 'string' },
      dataset: { type: 'string' },
      queries: { type: 'string' },
      database: { type: 'string' },
      labels: { type: 'string' },
      multiscale: { type: 'boolean' },
      imsize: { type: 'string', default: '224' },
      k: { type: 'string', default: '1,5,10' },
    },
  });
  if (values.help || (!values.weights && !values['random-init'])) {
    process.stdout.write(HELP);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const { model, desc } = await modelFromFlags(values, log);
  log(`model: ${desc}`);
  const imsize = intFlag(values, 'imsize');
  const cls: Embed = (x) => model.forward(x);
  const embed = values.multiscale ? multiScaleEmbed(cls) : cls;
  const features = async (files: string[], what: string) =>
    extractFeatures(embed, fileSource(files, imsize), {
      batchSize: 1,
      onBatch: (done, total) => {
        if (done === total || done % 50 === 0) log(`${what}: ${done}/${total}`);
      },
    });
  const scales = values.multiscale ? 'scales 1, 1/sqrt2, 1/2' : 'scale 1';

  if (values['data-path'] || values.dataset) {
    const dataset = values.dataset;
    if (!values['data-path'] || (dataset !== 'roxford5k' && dataset !== 'rparis6k')) {
      throw new Error('revisited mode needs --data-path DIR and --dataset roxford5k|rparis6k');
    }
    const dir = join(values['data-path'], dataset);
    const gndPath = [join(dir, `gnd_${dataset}.pkl`), join(dir, `gnd_${dataset}.json`)].find((p) => existsSync(p));
    if (!gndPath) throw new Error(`${dir}: no gnd_${dataset}.pkl (or .json)`);
    const cfg = readRevisitedGnd(gndPath);
    const img = (name: string): string => join(dir, 'jpg', `${name}.jpg`);
    const db = await features(cfg.imlist.map(img), 'database');
    const q = await features(cfg.qimlist.map(img), 'queries');
    const r = revisitedMap(rankByCosine(q, db), cfg.gnd);
    const pct = (v: number): string => (100 * v).toFixed(2);
    if (values.json) {
      const strip = (s: { map: number; mpr: number[] }) => ({ map: s.map, mpr: s.mpr });
      process.stdout.write(`${JSON.stringify({ model: desc, dataset, multiscale: Boolean(values.multiscale), easy: strip(r.easy), medium: strip(r.medium), hard: strip(r.hard) })}\n`);
      return;
    }
    process.stdout.write(
      [
        `${dataset} (${cfg.qimlist.length} queries, ${cfg.imlist.length} images, ${scales}):`,
        `  mAP E: ${pct(r.easy.map)}, M: ${pct(r.medium.map)}, H: ${pct(r.hard.map)}`,
        `  mP@k[1 5 10] E: ${r.easy.mpr.map(pct).join(' ')}, M: ${r.medium.mpr.map(pct).join(' ')}, H: ${r.hard.mpr.map(pct).join(' ')}`,
      ].join('\n') + '\n',
    );
    return;
  }

  if (!values.queries || !values.database) throw new Error('give --data-path and --dataset, or --queries DIR and --database DIR');
  const table = values.labels ? readLabels(values.labels) : null;
  const qFiles = listImages(values.queries);
  const dbFiles = listImages(values.database);
  const qLabels = labelsOf(qFiles, values.queries, table);
  const dbLabels = labelsOf(dbFiles, values.database, table);
  const ks = (values.k as string).split(',').map((s) => Number(s.trim()));
  if (ks.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`--k must list positive integers, got '${values.k}'`);
  const db = await features(dbFiles, 'database');
  const q = await features(qFiles, 'queries');
  const s = labelRetrieval(rankByCosine(q, db), qLabels, dbLabels, ks);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ model: desc, multiscale: Boolean(values.multiscale), queries: qFiles.length, database: dbFiles.length, ...s })}\n`);
    return;
  }
  process.stdout.write(
    `retrieval (${qFiles.length} queries, ${dbFiles.length} database images, ${scales}${s.skipped ? `, ${s.skipped} queries without a positive skipped` : ''}):\n` +
      `  mAP ${(100 * s.map).toFixed(2)}  ${ks.map((k) => `recall@${k} ${(100 * (s.recallAt[k] as number)).toFixed(2)}`).join('  ')}\n`,
  );
}
