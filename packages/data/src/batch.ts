import type { MultiCrop } from '@ssl/augment';
import { Rng } from '@ssl/tensor';
import type { Dataset, Sample } from './dataset.js';

/** One crop index of a batch: `data` is [B, H, W, C] float32, contiguous. */
export interface ViewBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface Batch {
  /** One entry per crop index of the transform (e.g. DINO: 2 global then the local crops). */
  views: ViewBatch[];
  labels: Int32Array;
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
  epoch: number;
  /** Position of this batch in its epoch. */
  step: number;
}

export interface SampleFailure {
  index: number;
  name: string;
  message: string;
}

/** What one batch job returns (the worker transfers the view buffers). */
export interface BatchResult {
  views: ViewBatch[];
  labels: Int32Array;
  indices: Int32Array;
  failures: SampleFailure[];
}

/** The augmentation stream of one sample: a function of (seed, epoch, index) only. */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(seed).fork(epoch, index);
}

/**
 * Load, augment and collate the samples `indices`. A sample whose `get` or transform throws is
 * left out (the batch shrinks) and reported in `failures`; the rest stay in order, so the
 * result is the same whichever thread runs it.
 */
export async function loadBatch(
  dataset: Dataset,
  transform: MultiCrop,
  seed: number,
  epoch: number,
  indices: ArrayLike<number>,
): Promise<BatchResult> {
  const B = indices.length;
  const shapes = transform.shapes;
  const buffers = shapes.map(([h, w, c]) => new Float32Array(B * h * w * c));
  const labels = new Int32Array(B);
  const kept = new Int32Array(B);
  const failures: SampleFailure[] = [];
  // Start reading/decoding sample i + 1 (sharp decodes off the JS thread) while sample i is augmented.
  const fetch = (i: number): Promise<Sample | Error> =>
    Promise.resolve()
      .then(() => dataset.get(indices[i] as number))
      .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  let next = B > 0 ? fetch(0) : null;
  let n = 0;
  for (let i = 0; i < B; i++) {
    const index = indices[i] as number;
    const got = await (next as Promise<Sample | Error>);
    next = i + 1 < B ? fetch(i + 1) : null;
    try {
      if (got instanceof Error) throw got;
      const targets = shapes.map(([h, w, c], k) => ({ data: buffers[k] as Float32Array, offset: n * h * w * c }));
      transform.apply(got.image, sampleRng(seed, epoch, index), targets);
      labels[n] = got.label;
      kept[n] = index;
      n++;
    } catch (err) {
      failures.push({ index, name: dataset.describe?.(index) ?? `sample ${index}`, message: (err as Error).message });
    }
  }
  return {
    // Subarrays keep the whole buffer transferable; the shape says how much is used.
    views: shapes.map(([h, w, c], k) => ({ data: (buffers[k] as Float32Array).subarray(0, n * h * w * c), shape: [n, h, w, c] })),
    labels: labels.subarray(0, n),
    indices: kept.subarray(0, n),
    failures,
  };
}
