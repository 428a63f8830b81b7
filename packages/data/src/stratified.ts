import { Rng } from '@ssl/tensor';
import type { BatchSampler } from './loader.js';

export interface ClassStratifiedSamplerOptions {
  /** Label of every sample of the (labelled) dataset. */
  targets: Int32Array;
  /** Number of classes; default max(target) + 1. */
  numClasses?: number;
  /** Images per class in a batch (PAWS `s_batch_size`). */
  batchSize: number;
  /** Classes per batch (PAWS `classes_per_batch`). */
  classesPerBatch: number;
  /** Inner epochs before the class samplers are rebuilt (`set_inner_epochs`); PAWS sets ceil(unlabelled batches / supervised batches). */
  epochs?: number;
  seed?: number;
  /** Each rank draws different classes (PAWS `unique_classes`). */
  uniqueClasses?: boolean;
  worldSize?: number;
  rank?: number;
}

/**
 * PAWS's ClassStratifiedSampler (suncet src/data_manager.py): each batch takes `batchSize` images
 * from each of `classesPerBatch` classes, laid out as [c1, c2, ..., ck, c1, c2, ..., ck, ...]
 * (the official `zip` order). Classes are visited in a random permutation, each once per inner
 * epoch; every inner epoch reshuffles each class's images; `epochs` inner epochs form one pass.
 * Draws use our seeded generator instead of torch's, keyed by (seed, outer epoch, ...), so a
 * pass is a function of its epoch number.
 */
export class ClassStratifiedSampler implements BatchSampler {
  readonly numClasses: number;
  readonly batchSize: number;
  readonly classesPerBatch: number;
  epochs: number;
  readonly seed: number;
  readonly uniqueClasses: boolean;
  readonly worldSize: number;
  readonly rank: number;
  /** Indices of each class, in dataset order. */
  readonly targetIndices: Int32Array[];

  constructor(options: ClassStratifiedSamplerOptions) {
    const { targets, batchSize, classesPerBatch } = options;
    if (!(targets instanceof Int32Array) || targets.length === 0) throw new TypeError('ClassStratifiedSampler: targets must be a non-empty Int32Array');
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`ClassStratifiedSampler: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(classesPerBatch) || classesPerBatch <= 0) {
      throw new RangeError(`ClassStratifiedSampler: classesPerBatch must be a positive integer, got ${classesPerBatch}`);
    }
    let max = -1;
    for (const t of targets) max = Math.max(max, t);
    this.numClasses = options.numClasses ?? max + 1;
    this.batchSize = batchSize;
    this.classesPerBatch = classesPerBatch;
    this.epochs = options.epochs ?? 1;
    this.seed = options.seed ?? 0;
    this.uniqueClasses = options.uniqueClasses ?? false;
    this.worldSize = options.worldSize ?? 1;
    this.rank = options.rank ?? 0;
    if (!this.uniqueClasses && this.numClasses % classesPerBatch !== 0) {
      throw new RangeError(
        `ClassStratifiedSampler: ${this.numClasses} classes are not a multiple of classesPerBatch ${classesPerBatch} (as the official sampler requires)`,
      );
    }
    const lists: number[][] = Array.from({ length: this.numClasses }, () => []);
    targets.forEach((t, i) => {
      if (t < 0 || t >= this.numClasses) throw new RangeError(`ClassStratifiedSampler: target ${t} of sample ${i} outside [0, ${this.numClasses})`);
      (lists[t] as number[]).push(i);
    });
    this.targetIndices = lists.map((l) => Int32Array.from(l));
    for (let t = 0; t < this.numClasses; t++) {
      const have = this.localIndices(t).length;
      if (have < batchSize) {
        throw new RangeError(`ClassStratifiedSampler: class ${t} has ${have} samples on this rank, fewer than batchSize ${batchSize}`);
      }
    }
  }

  /** `set_inner_epochs`. */
  setInnerEpochs(epochs: number): void {
    this.epochs = epochs;
  }

  /** Batches per outer epoch (`__len__`). */
  length(): number {
    const ipe = this.uniqueClasses ? Math.floor(this.numClasses / (this.classesPerBatch * this.worldSize)) : this.numClasses / this.classesPerBatch;
    return this.epochs * ipe;
  }

  private localIndices(t: number): Int32Array {
    const all = this.targetIndices[t] as Int32Array;
    if (this.uniqueClasses) return all;
    const size = Math.floor(all.length / this.worldSize);
    return size > 0 ? all.subarray(this.rank * size, (this.rank + 1) * size) : all;
  }

  /** One outer epoch (`set_epoch(epoch)` then `__iter__`). */
  *batches(epoch: number): Iterable<Int32Array> {
    const cpb = this.classesPerBatch;
    const C = this.numClasses;
    let permCount = 0;
    let perm: Int32Array = new Int32Array(0);
    const nextPerm = () => {
      perm = new Rng(this.seed).fork('stratified-classes', epoch, permCount++).permutation(C);
    };
    let ssi = this.uniqueClasses ? this.rank * cpb : 0;
    nextPerm();
    const nextSsi = () => {
      if (!this.uniqueClasses) {
        ssi = (ssi + cpb) % C;
        if (ssi === 0) nextPerm();
      } else {
        ssi += cpb * this.worldSize;
        if (ssi + cpb * (this.worldSize - this.rank) > C) {
          ssi = this.rank * cpb;
          nextPerm();
        }
      }
    };
    const batchesPerInner = this.length() / this.epochs;
    for (let inner = 0; inner < this.epochs; inner++) {
      // Fresh per-class orders each inner epoch; each class's cursor advances as it is used.
      const orders = Array.from({ length: C }, (_, t) => {
        const local = this.localIndices(t);
        const p = new Rng(this.seed).fork('stratified-samples', epoch, inner, this.rank, t).permutation(local.length);
        return p.map((i) => local[i] as number);
      });
      const cursor = new Int32Array(C);
      for (let b = 0; b < batchesPerInner; b++) {
        const classes = perm.slice(ssi, ssi + cpb);
        nextSsi();
        const batch = new Int32Array(cpb * this.batchSize);
        for (let r = 0; r < this.batchSize; r++) {
          for (let j = 0; j < cpb; j++) {
            const t = classes[j] as number;
            const order = orders[t] as Int32Array;
            const pos = cursor[t] as number;
            cursor[t] = pos + 1;
            if (pos >= order.length) throw new Error(`ClassStratifiedSampler: class ${t} ran out of samples in inner epoch ${inner}`);
            batch[r * cpb + j] = order[pos] as number;
          }
        }
        yield batch;
      }
    }
  }
}
