import { buildTransform, MultiCrop } from '@ssl/augment';
import type { TransformSpec } from '@ssl/augment';
import { loadBatch } from './batch.js';
import type { Batch } from './batch.js';
import type { Dataset } from './dataset.js';
import type { BatchSampler } from './loader.js';

export interface SupportBatchesOptions {
  /** The labelled images (e.g. a `Subset` of the training set). */
  dataset: Dataset;
  /** Support augmentation with `supervisedViews` views (e.g. `{ kind: 'paws', views: 2, multicrop: 0, ... }`). */
  transform: MultiCrop | TransformSpec;
  /** Batch composition, normally `@ssl/data`'s `ClassStratifiedSampler` (rows in [c1..ck, c1..ck, ...] order). */
  sampler: BatchSampler;
  seed?: number;
}

/**
 * PAWS's labelled support stream: iteration `step` takes the next batch of the sampler's passes
 * (pass k = `sampler.batches(k)`, restarted when exhausted, as paws_train.py re-creates its
 * iterator), augmented with the stream of (seed, step, index). A function of `step` only, so a
 * resumed run draws exactly the support batches the uninterrupted run would have drawn.
 */
export class SupportBatches {
  readonly transform: MultiCrop;
  readonly seed: number;
  private readonly perPass: number;
  private cachedPass = -1;
  private cached: Int32Array[] = [];

  constructor(private readonly options: SupportBatchesOptions) {
    if (!options?.dataset || typeof options.dataset.get !== 'function') throw new Error('SupportBatches: dataset must be a Dataset');
    if (!options.sampler || typeof options.sampler.batches !== 'function') throw new Error('SupportBatches: sampler must be a BatchSampler');
    this.transform = options.transform instanceof MultiCrop ? options.transform : buildTransform(options.transform);
    this.seed = options.seed ?? 0;
    this.perPass = options.sampler.length ? options.sampler.length(0) : [...options.sampler.batches(0)].length;
    if (!(this.perPass > 0)) throw new Error('SupportBatches: the sampler yields no batch');
  }

  /** Dataset indices of the support batch of iteration `step`. */
  indices(step: number): Int32Array {
    if (!Number.isInteger(step) || step < 0) throw new Error(`SupportBatches: step must be a non-negative integer, got ${step}`);
    const pass = Math.floor(step / this.perPass);
    if (pass !== this.cachedPass) {
      this.cached = [...this.options.sampler.batches(pass)].map((b) => Int32Array.from(b));
      this.cachedPass = pass;
    }
    const b = this.cached[step % this.perPass];
    if (!b) throw new Error(`SupportBatches: pass ${pass} gave ${this.cached.length} batches, expected ${this.perPass}`);
    return b;
  }

  async batch(step: number): Promise<Batch> {
    const indices = this.indices(step);
    const r = await loadBatch(this.options.dataset, this.transform, this.seed, step, indices);
    if (r.failures.length) {
      // a shrunken support batch would no longer match the labels matrix
      const f = r.failures[0];
      throw new Error(`SupportBatches: ${r.failures.length} support image(s) failed to load, e.g. ${f?.name}: ${f?.message}`);
    }
    return { views: r.views, labels: r.labels, indices: r.indices, epoch: step, step };
  }
}
