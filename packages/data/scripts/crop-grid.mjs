#!/usr/bin/env node
// Writes PNG grids of every crop of a few images, to look at what the augmentation does:
//   node scripts/crop-grid.mjs [outDir]    (after `pnpm build`; default outDir: ./crop-grids)
// One row per image: the input, then the crops in crop-index order (DINO: 2 global, then local),
// each before normalisation. Fashion-MNIST cells are enlarged 4x (nearest) to be visible.
import { join, resolve } from 'node:path';
import { mkdirSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { DataAugmentationDINO, DINO_FASHION_MNIST, MultiCrop, convertChannels, decodeImage, pawsSpec, resize } from '@ssl/augment';
import { Rng } from '@ssl/tensor';
import { FashionMNIST, fashionMnistFixtureDir, photosFixtureDir } from '../dist/index.js';

const outDir = resolve(process.argv[2] ?? 'crop-grids');
mkdirSync(outDir, { recursive: true });
const PAD = 4;

/** Nearest-neighbour enlargement of an RGB uint8 image. */
function enlarge(img, k) {
  if (k === 1) return img;
  const out = new Uint8Array(img.height * k * img.width * k * 3);
  for (let y = 0; y < img.height * k; y++) {
    for (let x = 0; x < img.width * k; x++) {
      const s = ((Math.floor(y / k) * img.width + Math.floor(x / k)) * 3);
      out.set(img.data.subarray(s, s + 3), (y * img.width * k + x) * 3);
    }
  }
  return { data: out, height: img.height * k, width: img.width * k, channels: 3 };
}

async function grid(name, images, transform, scale, shown = null, seed = 0) {
  const rows = [];
  for (let r = 0; r < images.length; r++) {
    const src = convertChannels(images[r], transform.spec.channels);
    const cells = [shown ? convertChannels(shown[r], transform.spec.channels) : src];
    const rng = new Rng(seed).fork(0, r);
    for (let k = 0; k < transform.numViews; k++) {
      const v = transform.applyView(src, k, rng.fork(k));
      cells.push({ ...v, data: v.data.slice() });
    }
    rows.push(cells.map((c) => enlarge(convertChannels(c, 3), scale)));
  }
  const cellH = Math.max(...rows.flat().map((c) => c.height));
  const widths = rows[0].map((_, j) => Math.max(...rows.map((row) => row[j].width)));
  const W = widths.reduce((a, b) => a + b + PAD, PAD);
  const H = rows.length * (cellH + PAD) + PAD;
  const canvas = Buffer.alloc(W * H * 3, 255);
  rows.forEach((row, i) => {
    let x0 = PAD;
    row.forEach((c, j) => {
      const y0 = PAD + i * (cellH + PAD);
      for (let y = 0; y < c.height; y++) {
        const dst = ((y0 + y) * W + x0) * 3;
        canvas.set(c.data.subarray(y * c.width * 3, (y + 1) * c.width * 3), dst);
      }
      x0 += widths[j] + PAD;
    });
  });
  const file = join(outDir, `${name}.png`);
  await sharp(canvas, { raw: { width: W, height: H, channels: 3 } }).png().toFile(file);
  console.log(`wrote ${file} (${W}x${H}): ${images.length} images x (input + ${transform.numViews} crops)`);
}

const fm = await FashionMNIST.load({ root: fashionMnistFixtureDir() });
const fmImages = [0, 1, 2, 3, 5, 8].map((i) => fm.get(i).image);
await grid('dino-fashion-mnist', fmImages, new DataAugmentationDINO(DINO_FASHION_MNIST), 4);

const dir = photosFixtureDir();
const photos = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort()) photos.push(await decodeImage(join(dir, f)));
// Crops come from the full-size photos; the input cell shows each photo scaled to 224 high.
const shown = photos.map((p) => resize(p, 224, Math.round((p.width * 224) / p.height), 'bicubic'));
await grid('dino-photos', photos, new DataAugmentationDINO(), 1, shown);
await grid('paws-imagenet-photos', photos, new MultiCrop(pawsSpec({ dataset: 'imagenet' })), 1, shown);
