import type { FloatTensor } from '@ssl/onnx';
import type { Extractor } from './native-engine.js';
import { stack, type Prepared } from './preprocess.js';

/** Thrown when the queue is full; the server answers 429 with Retry-After. */
export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`queue full: ${queued} images waiting (limit ${limit}); retry after ${retryAfterSeconds} s`);
  }
}

export interface BatcherOptions {
  /** Most images per ORT run. Default 16. */
  maxBatch?: number;
  /** How long the first image of a batch waits for company, in ms. Default 5. */
  maxWaitMs?: number;
  /** Most images waiting (not yet running); beyond it `submit` throws QueueFullError. Default 64. */
  maxQueue?: number;
  /** Called after each ORT run with the batch size and its seconds (metrics). */
  onBatch?: (size: number, seconds: number) => void;
}

interface Item {
  prepared: Prepared;
  outputs: string[];
  resolve: (r: Record<string, FloatTensor>) => void;
  reject: (e: Error) => void;
}


/**
 * Dynamic batching in front of the extractor: images that arrive within `maxWaitMs` of each other
 * (same output set and size) run as one batch of up to `maxBatch`. Results come back per image.
 */
export class Batcher {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxQueue: number;
  private readonly groups = new Map<string, Item[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private waiting = 0;
  private running = 0;
  private avgImageSeconds = 0.05;
  private idleWaiters: (() => void)[] = [];
  private readonly onBatch: ((size: number, seconds: number) => void) | undefined;

  constructor(
    private readonly extractor: Extractor,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 16;
    this.maxWaitMs = options.maxWaitMs ?? 5;
    this.maxQueue = options.maxQueue ?? 64;
    this.onBatch = options.onBatch;
    if (!(this.maxBatch >= 1) || !(this.maxQueue >= 1) || !(this.maxWaitMs >= 0)) {
      throw new RangeError(`Batcher: need maxBatch >= 1, maxQueue >= 1, maxWaitMs >= 0; got ${this.maxBatch}, ${this.maxQueue}, ${this.maxWaitMs}`);
    }
  }

  /** Images waiting for a batch plus images in running batches. */
  get depth(): number {
    return this.waiting + this.running;
  }

  /**
   * Reserves room for `n` images or throws QueueFullError; call before the (costly) decode so a
   * full server refuses work early. Pair with `release(n)` or pass the count to `submitReserved`.
   */
  reserve(n: number): void {
    if (this.waiting + n > this.maxQueue) {
      const wait = Math.max(1, Math.ceil(((this.waiting + this.running) * this.avgImageSeconds) / this.extractor.workers));
      throw new QueueFullError(this.waiting, this.maxQueue, wait);
    }
    this.waiting += n;
  }

  release(n: number): void {
    this.waiting -= n;
    this.notifyIdle();
  }

  /** Runs one prepared image (room reserved with `reserve(1)`) and resolves with its outputs (batch axis removed). */
  submitReserved(prepared: Prepared, outputs: string[]): Promise<Record<string, FloatTensor>> {
    return new Promise((resolve, reject) => {
      const key = `${outputs.join(',')}|${prepared.channels}x${prepared.height}x${prepared.width}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = []));
      group.push({ prepared, outputs, resolve, reject });
      if (group.length >= this.maxBatch) this.flush(key);
      else if (!this.timers.has(key)) this.timers.set(key, setTimeout(() => this.flush(key), this.maxWaitMs));
    });
  }

  /** reserve(1) + submitReserved. */
  submit(prepared: Prepared, outputs: string[]): Promise<Record<string, FloatTensor>> {
    this.reserve(1);
    return this.submitReserved(prepared, outputs);
  }

  private flush(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
    const group = this.groups.get(key);
    if (!group || group.length === 0) return;
    const batch = group.splice(0, this.maxBatch);
    if (group.length === 0) this.groups.delete(key);
    else this.timers.set(key, setTimeout(() => this.flush(key), 0));
    void this.runBatch(batch);
  }

  private async runBatch(batch: Item[]): Promise<void> {
    const n = batch.length;
    this.waiting -= n;
    this.running += n;
    const t0 = performance.now();
    try {
      const input = stack(batch.map((b) => b.prepared));
      const out = await this.extractor.run({ input }, (batch[0] as Item).outputs);
      const seconds = (performance.now() - t0) / 1000;
      this.avgImageSeconds = 0.8 * this.avgImageSeconds + 0.2 * (seconds / n);
      this.onBatch?.(n, seconds);
      batch.forEach((item, i) => {
        const mine: Record<string, FloatTensor> = {};
        for (const [name, t] of Object.entries(out)) {
          const per = t.data.length / n;
          mine[name] = { data: t.data.slice(i * per, (i + 1) * per), dims: t.dims.slice(1) };
        }
        item.resolve(mine);
      });
    } catch (err) {
      for (const item of batch) item.reject(err as Error);
    } finally {
      this.running -= n;
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.depth > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when no image is waiting or running (graceful shutdown). */
  drain(): Promise<void> {
    for (const key of [...this.groups.keys()]) this.flush(key);
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
