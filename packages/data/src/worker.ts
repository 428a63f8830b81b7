import { buildTransform, type MultiCrop, type TransformSpec } from '@ssl/augment';
import { Piscina } from 'piscina';
import { loadBatch } from './batch.js';
import type { Dataset, DatasetSpec } from './dataset.js';
import { openDataset } from './open.js';

/** One batch job for a loader worker thread. */
export interface BatchTask {
  dataset: DatasetSpec;
  transform: TransformSpec;
  seed: number;
  epoch: number;
  indices: Int32Array;
}

// A worker keeps the dataset and transform of the last spec it saw (one loader per pool).
let cached: { key: string; dataset: Promise<Dataset>; transform: MultiCrop } | null = null;

export default async function runBatch(task: BatchTask): Promise<unknown> {
  const key = JSON.stringify([task.dataset, task.transform]);
  if (!cached || cached.key !== key) {
    cached = { key, dataset: openDataset(task.dataset), transform: buildTransform(task.transform) };
  }
  const result = await loadBatch(await cached.dataset, cached.transform, task.seed, task.epoch, task.indices);
  // Hand the buffers over instead of copying them.
  const buffers = [...result.views.map((v) => v.data.buffer), result.labels.buffer, result.indices.buffer] as ArrayBuffer[];
  const movable = {
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return result;
    },
  };
  // piscina's Transferable type names its own unique symbols, which TS cannot match to the getters.
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
}
