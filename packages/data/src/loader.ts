import { buildTransform, MultiCrop, type TransformSpec } from '@ssl/augment';
import { Rng } from '@ssl/tensor';
import { Piscina } from 'piscina';
import { loadBatch, type Batch, type BatchResult, type SampleFailure } from './batch.js';
import type { Dataset } from './dataset.js';
import type { BatchTask } from './worker.js';

/** Yields the dataset indices of each batch of an epoch (e.g. PAWS's ClassStratifiedSampler). */
export interface BatchSampler {
  batches(epoch: number): Iterable<ArrayLike<number>>;
  /** Batches per epoch, when known. */
  length?(epoch: number): number;
}

export interface DataLoaderOptions {
  dataset: Dataset;
  /** The augmentation, or its spec (required for worker threads, which rebuild it). */
  transform: MultiCrop | TransformSpec;
  batchSize: number;
  /** Reshuffle every epoch with Rng(seed).fork('shuffle', epoch). Default true. */
  shuffle?: boolean;
  /** Drop the last incomplete batch. Default true (as DINO and PAWS). */
  dropLast?: boolean;
  /** Run seed: shuffling and every sample's augmentation derive from it. Default 0. */
  seed?: number;
  /** Custom batch composition; replaces batchSize/shuffle/dropLast. */
  sampler?: BatchSampler;
  /** Stop with an error when more than this fraction of samples failed to load (after 100). Default 0.05. */
  maxSkipRatio?: number;
  /** Called for every skipped sample. Default: a console.warn line naming the file. */
  onSkip?: (failure: SampleFailure) => void;
  /**
   * Worker threads (piscina) that load and augment whole batches. 0 (default) works on the calling
   * thread. Batches are identical for any count. Needs a dataset with a `spec`.
   */
  workers?: number;
  /** Batches in flight ahead of the consumer when using workers. Default 2 per worker. */
  prefetch?: number;
}

/** The built worker script: dist/worker.js, a sibling of both src/ and dist/ entry points. */
const WORKER_FILE = new URL('../dist/worker.js', import.meta.url);

/** Number of samples seen before the skip ratio is enforced (one bad file early is not a trend). */
const SKIP_RATIO_MIN_SAMPLES = 100;

/**
 * Batches of augmented views, one epoch at a time, on the calling thread (see `WorkerDataLoader`
 * for worker threads; both give identical batches for the same seed).
 */
export class DataLoader {
  readonly dataset: Dataset;
  readonly transform: MultiCrop;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  protected readonly sampler: BatchSampler;
  protected readonly maxSkipRatio: number;
  protected readonly onSkip: (f: SampleFailure) => void;
  readonly workers: number;
  readonly prefetch: number;
  /** Samples attempted and skipped so far (over all epochs). */
  seen = 0;
  skipped = 0;
  private pool: Piscina | null = null;
  private readonly transformSpec: TransformSpec;

  constructor(options: DataLoaderOptions) {
    const { dataset, batchSize } = options;
    if (!dataset || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length)) {
      throw new TypeError('DataLoader: dataset must have an integer `length` and a `get(index)` method');
    }
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    this.dataset = dataset;
    this.transform = options.transform instanceof MultiCrop ? options.transform : buildTransform(options.transform);
    this.transformSpec = options.transform instanceof MultiCrop ? { kind: 'multicrop', ...options.transform.spec } : options.transform;
    this.workers = options.workers ?? 0;
    if (!Number.isInteger(this.workers) || this.workers < 0) throw new RangeError(`DataLoader: workers must be an integer >= 0, got ${this.workers}`);
    if (this.workers > 0 && !dataset.spec) {
      throw new TypeError('DataLoader: worker threads need a dataset with a `spec` (FashionMNIST, ImageFolder, Subset); use workers: 0 for custom datasets');
    }
    this.prefetch = Math.max(1, options.prefetch ?? 2 * this.workers);
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? true;
    this.seed = options.seed ?? 0;
    this.maxSkipRatio = options.maxSkipRatio ?? 0.05;
    this.onSkip = options.onSkip ?? ((f) => console.warn(`data: skipped ${f.name}: ${f.message}`));
    this.sampler = options.sampler ?? new SequentialBatchSampler(dataset.length, batchSize, this.shuffle, this.dropLast, this.seed);
  }

  /** Batches per epoch. */
  length(epoch = 0): number {
    if (this.sampler.length) return this.sampler.length(epoch);
    let n = 0;
    for (const _ of this.sampler.batches(epoch)) n++;
    return n;
  }

  /**
   * The batches of `epoch`, in order. `start` skips the first `start` batches without loading
   * them (a run resumed mid-epoch continues with exactly the batches it had not yet seen); their
   * `step` keeps its position in the whole epoch.
   */
  async *epoch(epoch: number, start = 0): AsyncGenerator<Batch> {
    if (!Number.isInteger(start) || start < 0) throw new RangeError(`DataLoader.epoch: start must be an integer >= 0, got ${start}`);
    let step = start;
    if (this.workers === 0) {
      let b = 0;
      for (const indices of this.sampler.batches(epoch)) {
        if (b++ < start) continue;
        const result = await loadBatch(this.dataset, this.transform, this.seed, epoch, indices);
        const batch = this.accept(result, epoch, step++);
        if (batch) yield batch;
      }
      return;
    }
    const pool = (this.pool ??= new Piscina({
      filename: WORKER_FILE.href,
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: 60_000,
    }));
    const order = this.sampler.batches(epoch)[Symbol.iterator]();
    for (let b = 0; b < start && !order.next().done; b++);
    const inflight: Promise<BatchResult>[] = [];
    const submit = (): boolean => {
      const next = order.next();
      if (next.done) return false;
      const task: BatchTask = {
        dataset: this.dataset.spec!,
        transform: this.transformSpec,
        seed: this.seed,
        epoch,
        indices: Int32Array.from(next.value),
      };
      const p = pool.run(task) as Promise<BatchResult>;
      p.catch(() => {}); // surfaced when awaited below; avoids unhandled rejections if the consumer stops early
      inflight.push(p);
      return true;
    };
    while (inflight.length < this.prefetch && submit());
    while (inflight.length > 0) {
      const result = await (inflight.shift() as Promise<BatchResult>);
      submit();
      const batch = this.accept(result, epoch, step++);
      if (batch) yield batch;
    }
  }

  /** Stop the worker threads (a later epoch starts them again). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.destroy();
  }

  /** Count and log failures, enforce the skip ratio, and turn a result into a Batch (null if empty). */
  protected accept(result: BatchResult, epoch: number, step: number): Batch | null {
    this.seen += result.indices.length + result.failures.length;
    this.skipped += result.failures.length;
    for (const f of result.failures) this.onSkip(f);
    if (this.skipped > 0 && this.seen >= Math.min(SKIP_RATIO_MIN_SAMPLES, this.dataset.length) && this.skipped > this.maxSkipRatio * this.seen) {
      const last = result.failures[result.failures.length - 1] ?? null;
      throw new Error(
        `DataLoader: ${this.skipped} of ${this.seen} samples failed to load (${((100 * this.skipped) / this.seen).toFixed(1)}% > maxSkipRatio ${
          100 * this.maxSkipRatio
        }%)${last ? `; last: ${last.name}: ${last.message}` : ''}`,
      );
    }
    if (result.indices.length === 0) return null;
    return { views: result.views, labels: result.labels, indices: result.indices, epoch, step };
  }
}

/** torch's RandomSampler/SequentialSampler + BatchSampler, with a per-epoch seeded permutation. */
export class SequentialBatchSampler implements BatchSampler {
  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly shuffle = true,
    readonly dropLast = true,
    readonly seed = 0,
  ) {}

  order(epoch: number): Int32Array {
    if (this.shuffle) return new Rng(this.seed).fork('shuffle', epoch).permutation(this.size);
    return Int32Array.from({ length: this.size }, (_, i) => i);
  }

  length(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  *batches(epoch: number): Iterable<Int32Array> {
    const order = this.order(epoch);
    const n = this.length();
    for (let b = 0; b < n; b++) yield order.subarray(b * this.batchSize, Math.min(this.size, (b + 1) * this.batchSize));
  }
}
