#!/usr/bin/env node
// DINO multi-crop loader throughput: JPEG photos (2 x 224 + 8 x 96) and Fashion-MNIST (2 x 28 + 8 x 12),
// ours with 0/1/2 worker threads against torchvision + PIL (DataLoader num_workers 0/1/2) in the same run;
// and multi-megapixel photos (Debian's plasma-workspace-wallpapers) with 2 workers, full-resolution and
// fast (reduced-size) decode against torchvision + PIL.
//   pnpm --filter @ssl/data bench        (after pnpm build; set BENCH_PHOTOS=N for more JPEG files)
//   BENCH_ONLY=large BENCH_LARGE=48 pnpm --filter @ssl/data bench     (only the large photos, 48 files)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DINO_FASHION_MNIST, decodeImage, dinoSpec, MultiCrop, multiCropDecodeSide, randomResizedCropParams, resizedCrop } from '@ssl/augment';
import { Rng } from '@ssl/tensor';
import { DataLoader, FashionMNIST, ImageFolder, defaultFashionMnistDir, photosFixtureDir } from '../dist/index.js';

const N_PHOTOS = Number(process.env.BENCH_PHOTOS ?? 96);
const N_FMNIST = Number(process.env.BENCH_FMNIST ?? 2000);
const N_LARGE = Number(process.env.BENCH_LARGE ?? 48);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'photos,large,fmnist').split(','));
const WALLPAPERS = process.env.BENCH_WALLPAPERS ?? '/usr/share/wallpapers';
const PY = '/usr/bin/python3';

// An ImageNet-like folder: 500x375 JPEGs (quality 90) cut from the committed photographs.
const root = mkdtempSync(join(tmpdir(), 'dino-bench-'));
const photoDir = photosFixtureDir();
const sources = readdirSync(photoDir).filter((f) => f.endsWith('.jpg')).sort();
for (let i = 0; i < N_PHOTOS; i++) {
  const cls = join(root, `class${i % 4}`);
  mkdirSync(cls, { recursive: true });
  const src = join(photoDir, sources[i % sources.length]);
  // Vary the framing so files differ: rotate the source by multiples of 90 degrees and flop.
  await sharp(src).rotate((i % 4) * 90).flop(i % 2 === 1).resize(500, 375, { fit: 'cover' }).jpeg({ quality: 90 }).toFile(join(cls, `img${i}.jpg`));
}

/** The largest JPEG of each real-photo wallpaper (2560x1600 and up), repeated to `n` files in one class folder. */
function largePhotoFolder(n) {
  const photos = ['Autumn', 'BytheWater', 'ColorfulCups', 'EveningGlow', 'FallenLeaf', 'Path', 'OneStandsOut', 'DarkestHour']
    .map((name) => join(WALLPAPERS, name, 'contents', 'images'))
    .filter((dir) => existsSync(dir))
    .map((dir) => {
      const jpegs = readdirSync(dir).filter((f) => f.endsWith('.jpg'));
      const pixels = (f) => f.replace('.jpg', '').split('x').reduce((a, b) => a * Number(b), 1);
      return jpegs.length ? join(dir, jpegs.sort((a, b) => pixels(b) - pixels(a))[0]) : null;
    })
    .filter(Boolean);
  if (photos.length === 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'dino-bench-large-'));
  mkdirSync(join(dir, 'photos'));
  for (let i = 0; i < n; i++) symlinkSync(photos[i % photos.length], join(dir, 'photos', `img${i}.jpg`));
  return { dir, photos };
}

/**
 * Where the time of one large photo goes, on the calling thread: decode, then the 10 DINO crops,
 * full-resolution against fast decode. And what the fast decode changes in a crop: the same region
 * (the full-resolution crop box scaled to the reduced grid) resized to the crop size from both
 * decodes, mean absolute difference on 0-255.
 */
async function largePhotoStages(files, side) {
  const mc = new MultiCrop(dinoSpec());
  const ms = { full: { decode: 0, crops: 0 }, fast: { decode: 0, crops: 0 } };
  let sum = 0;
  let count = 0;
  for (const [i, file] of files.entries()) {
    const images = {};
    for (const kind of ['full', 'fast']) {
      let t = performance.now();
      const img = await decodeImage(file, kind === 'fast' ? { minDecodedSide: side } : {});
      ms[kind].decode += performance.now() - t;
      t = performance.now();
      mc.apply(img, new Rng(0).fork(i));
      ms[kind].crops += performance.now() - t;
      images[kind] = img;
    }
    const { full, fast } = images;
    const rng = new Rng(1).fork(i);
    for (const [size, scale] of [[224, [0.4, 1]], [96, [0.05, 0.4]]]) {
      for (let k = 0; k < 4; k++) {
        const box = randomResizedCropParams(full.height, full.width, scale, [3 / 4, 4 / 3], rng);
        const fy = fast.height / full.height;
        const fx = fast.width / full.width;
        const top = Math.round(box.top * fy);
        const left = Math.round(box.left * fx);
        const small = { top, left, height: Math.min(fast.height - top, Math.round(box.height * fy)), width: Math.min(fast.width - left, Math.round(box.width * fx)) };
        const a = resizedCrop(full, box, size, size, 'bicubic');
        const b = resizedCrop(fast, small, size, size, 'bicubic');
        for (let j = 0; j < a.data.length; j++) sum += Math.abs(a.data[j] - b.data[j]);
        count += a.data.length;
      }
    }
  }
  const per = (x) => (x / files.length).toFixed(1);
  return {
    text:
      `Per photo on the calling thread (mean of ${files.length}): full-resolution decode ${per(ms.full.decode)} ms + 10 crops ${per(ms.full.crops)} ms; ` +
      `fast decode ${per(ms.fast.decode)} ms + 10 crops ${per(ms.fast.crops)} ms. The same crop region from both decodes differs by ` +
      `${(sum / count).toFixed(2)} of 255 on average (8 boxes per photo, 224 and 96 px, bicubic).`,
  };
}

async function timeLoader(dataset, transform, workers) {
  const loader = new DataLoader({ dataset, transform, batchSize: 16, seed: 0, workers });
  // Warm-up: start the threads and JIT the kernels.
  for await (const b of loader.epoch(100)) if (b.step >= 1) break;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let n = 0;
  for await (const b of loader.epoch(0)) n += b.indices.length;
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await loader.close();
  // CPU time of the whole process (all threads): images per CPU-second is throughput per core.
  return { wall: n / s, perCpu: n / ((cpu.user + cpu.system) / 1e6) };
}

function timeTorch(args) {
  try {
    const out = execFileSync(PY, [new URL('./torchvision_dino.py', import.meta.url).pathname, ...args.map(String)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r = JSON.parse(out.trim().split('\n').pop());
    return { wall: r.images_per_s, perCpu: r.images_per_cpu_s };
  } catch (err) {
    console.error(`torchvision run failed: ${err.message.split('\n')[0]}`);
    return { wall: NaN, perCpu: NaN };
  }
}

const hasTorch = existsSync(PY) && (() => {
  try {
    execFileSync(PY, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const rows = [];
const fmRoot = defaultFashionMnistDir();
const fm = await FashionMNIST.load({ root: fmRoot });
const { Subset } = await import('../dist/index.js');
const fmSub = new Subset(fm, Array.from({ length: Math.min(N_FMNIST, fm.length) }, (_, i) => i));
if (ONLY.has('photos')) {
  const photos = await ImageFolder.create(root);
  for (const workers of [0, 1, 2]) {
    const ours = await timeLoader(photos, { kind: 'dino' }, workers);
    const torch = hasTorch ? timeTorch(['photos', root, workers]) : { wall: NaN, perCpu: NaN };
    rows.push({ pipeline: `photos 500x375 JPEG, 2x224 + 8x96`, workers, ours, torch });
  }
}
let largeNote = '';
if (ONLY.has('large')) {
  const large = largePhotoFolder(N_LARGE);
  if (!large) {
    console.error(`no wallpapers under ${WALLPAPERS}: apt-get install plasma-workspace-wallpapers for the large-photo rows`);
  } else {
    const side = multiCropDecodeSide(dinoSpec());
    const full = await ImageFolder.create(large.dir);
    const fast = await ImageFolder.create(large.dir, { minDecodedSide: side });
    const what = `${large.photos.length} real photos 2560x1600 JPEG, 2x224 + 8x96`;
    const torch = hasTorch ? timeTorch(['photos', large.dir, 2]) : { wall: NaN, perCpu: NaN };
    rows.push({ pipeline: `${what}, full-resolution decode`, workers: 2, ours: await timeLoader(full, { kind: 'dino' }, 2), torch });
    rows.push({ pipeline: `${what}, fast decode (shorter side ${side})`, workers: 2, ours: await timeLoader(fast, { kind: 'dino' }, 2), torch });
    largeNote = (await largePhotoStages(large.photos, side)).text;
    rmSync(large.dir, { recursive: true, force: true });
  }
}
if (ONLY.has('fmnist')) {
  for (const workers of [0, 1, 2]) {
    const ours = await timeLoader(fmSub, { kind: 'dino', ...DINO_FASHION_MNIST }, workers);
    const torch = hasTorch ? timeTorch(['fmnist', fmRoot, workers, fmSub.length]) : { wall: NaN, perCpu: NaN };
    rows.push({ pipeline: `Fashion-MNIST 28px, 2x28 + 8x12`, workers, ours, torch });
  }
}
rmSync(root, { recursive: true, force: true });

const f = (x) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1));
const ratio = (a, b) => (Number.isNaN(b) ? 'n/a' : (a / b).toFixed(2));
console.log(`\n${N_PHOTOS} JPEG files, ${N_LARGE} large photo files, ${fmSub.length} Fashion-MNIST images, batch 16; images/s, higher is better.`);
console.log('workers 0: on the calling thread (torch: num_workers=0, one process, 1 intra-op thread).');
console.log('per CPU-s: images per second of CPU time used (ours: all threads of the process; torch: only for');
console.log('workers 0, where its main process does all the work): throughput per core, robust to a busy machine.');
console.log('| pipeline | workers | ours img/s | torchvision+PIL img/s | ratio | ours img/CPU-s | torch img/CPU-s | ratio per core |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const perCore = r.workers === 0;
  console.log(
    `| ${r.pipeline} | ${r.workers} | ${f(r.ours.wall)} | ${f(r.torch.wall)} | ${ratio(r.ours.wall, r.torch.wall)} | ${f(r.ours.perCpu)} | ${perCore ? f(r.torch.perCpu) : '-'} | ${perCore ? ratio(r.ours.perCpu, r.torch.perCpu) : '-'} |`,
  );
}
if (largeNote) console.log(largeNote);
