import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildTransform } from '@ssl/augment';
import type { MultiCrop } from '@ssl/augment';
import { loadBatch } from '@ssl/data';
import type { BatchResult, Dataset, SampleFailure } from '@ssl/data';
import { rgbToPng } from '@ssl/eval';
import type { DinoConfig } from '../config/dino.js';
import { resolveDataLocation } from '../data.js';
import { dinoTransformSpec, openDatasets } from '../train/run.js';
import { folderOptions } from '../train/runner.js';

export interface CropGrid {
  rgb: Uint8Array;
  height: number;
  width: number;
  /** Files that could not be read (left out of the grid). */
  skipped: SampleFailure[];
}

/**
 * One row per image: the original, then its 2 global and N local crops, de-normalised, every
 * pixel enlarged `scale` times so relative crop sizes stay visible; 4-pixel white gutters.
 */
export async function cropGrid(
  dataset: Dataset,
  transform: MultiCrop,
  options: { images: number; seed: number; epoch?: number; scale: number; mean: number[]; std: number[] },
): Promise<CropGrid> {
  // The first `images` samples that can be read: a broken file is skipped, counted, and the next one taken.
  const want = Math.min(options.images, dataset.length);
  const skipped: SampleFailure[] = [];
  const batches: BatchResult[] = [];
  let kept = 0;
  for (let next = 0; kept < want && next < dataset.length; ) {
    const idx = Array.from({ length: Math.min(want - kept, dataset.length - next) }, (_, i) => next + i);
    next += idx.length;
    const b = await loadBatch(dataset, transform, options.seed, options.epoch ?? 0, idx);
    skipped.push(...b.failures);
    batches.push(b);
    kept += b.indices.length;
  }
  const n = kept;
  if (n === 0) throw new Error(`show-crops: none of the ${dataset.length} images could be read (first error: ${skipped[0]?.name}: ${skipped[0]?.message})`);
  const batch = concatBatches(batches);
  const originals = await Promise.all(Array.from(batch.indices, async (i) => (await dataset.get(i)).image));
  const s = options.scale;
  const gap = 4;
  const cellSizes = [Math.max(...originals.map((o) => Math.max(o.height, o.width))), ...batch.views.map((v) => v.shape[1])];
  const width = cellSizes.reduce((a, c) => a + c * s + gap, gap);
  const rowH = Math.max(...cellSizes) * s + gap;
  const height = gap + n * rowH;
  const rgb = new Uint8Array(height * width * 3).fill(255);
  const put = (y: number, x: number, v: number[]) => {
    const o = (y * width + x) * 3;
    rgb[o] = v[0] as number;
    rgb[o + 1] = v[1] as number;
    rgb[o + 2] = v[2] as number;
  };
  for (let r = 0; r < n; r++) {
    let x0 = gap;
    const y0 = gap + r * rowH;
    const orig = originals[r] as { data: Uint8Array; height: number; width: number; channels: number };
    for (let y = 0; y < orig.height * s; y++) {
      for (let x = 0; x < orig.width * s; x++) {
        const p = (Math.floor(y / s) * orig.width + Math.floor(x / s)) * orig.channels;
        const v = orig.channels === 1 ? [orig.data[p], orig.data[p], orig.data[p]] : [orig.data[p], orig.data[p + 1], orig.data[p + 2]];
        put(y0 + y, x0 + x, v as number[]);
      }
    }
    x0 += (cellSizes[0] as number) * s + gap;
    for (const view of batch.views) {
      const [, h, w, c] = view.shape;
      const base = r * h * w * c;
      for (let y = 0; y < h * s; y++) {
        for (let x = 0; x < w * s; x++) {
          const p = base + (Math.floor(y / s) * w + Math.floor(x / s)) * c;
          const px: number[] = [];
          for (let k = 0; k < 3; k++) {
            const ch = c === 1 ? 0 : k;
            const v = ((view.data[p + ch] as number) * (options.std[ch] ?? 1) + (options.mean[ch] ?? 0)) * 255;
            px.push(Math.max(0, Math.min(255, Math.round(v))));
          }
          put(y0 + y, x0 + x, px);
        }
      }
      x0 += w * s + gap;
    }
  }
  return { rgb, height, width, skipped };
}

/** Several batch results as one (views concatenated along the batch axis). */
function concatBatches(batches: BatchResult[]): Pick<BatchResult, 'views' | 'indices'> {
  const first = batches[0] as BatchResult;
  const views = first.views.map((v, k) => {
    const parts = batches.map((b) => (b.views[k] as typeof v).data);
    const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) data.set(p, (o += p.length) - p.length);
    const [, h, w, c] = v.shape;
    return { data, shape: [data.length / (h * w * c), h, w, c] as [number, number, number, number] };
  });
  return { views, indices: Int32Array.from(batches.flatMap((b) => Array.from(b.indices))) };
}

/** `ssl-train show-crops`: the multi-crop views of the configured DINO pipeline as one PNG. */
export async function runShowCrops(config: DinoConfig, out: string, images: number, scale: number): Promise<string> {
  const data = resolveDataLocation(config.data.dataset, config.data.data_path);
  // Only the training images are shown: no evaluation split is needed.
  const sets = await openDatasets({ data }, config.data.dataset, null, 0, { ...folderOptions(config), valSplit: undefined, labels: 'none' });
  const transform = buildTransform(dinoTransformSpec(config.data, sets));
  const grid = await cropGrid(sets.train, transform, { images, seed: config.runtime.seed, scale, mean: sets.mean, std: sets.std });
  for (const f of grid.skipped) process.stderr.write(`show-crops: skipped ${f.name}: ${f.message}\n`);
  const path = resolve(out);
  writeFileSync(path, await rgbToPng(grid.rgb, grid.height, grid.width));
  return path;
}
