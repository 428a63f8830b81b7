import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** A float32 tensor crossing the worker boundary. */
export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

export interface FeatureExtractorOptions {
  /** Path of an .onnx file, or its bytes. */
  model: string | Uint8Array;
  /**
   * Worker threads, each holding one ORT session. ORT's `run()` blocks the thread that calls it,
   * so sessions live off the main thread and an HTTP server stays responsive. Default 1.
   */
  workers?: number;
  /** ORT intra-op threads per session. Default: available cores / workers (at least 1). */
  intraOpThreads?: number;
  /** ORT graph optimisation level. Default 'all'. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface SessionInfo {
  inputNames: string[];
  outputNames: string[];
}

// The worker is plain JavaScript evaluated from a string so that it runs unchanged from the
// TypeScript sources (tests) and from the built package; it loads onnxruntime-node from the path
// the main thread resolved.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
(async () => {
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.model, {
      intraOpNumThreads: workerData.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: workerData.graphOptimizationLevel,
      executionMode: 'sequential',
    });
  } catch (err) {
    parentPort.postMessage({ type: 'error', id: -1, message: String(err && err.message || err) });
    return;
  }
  parentPort.postMessage({ type: 'ready', inputNames: session.inputNames, outputNames: session.outputNames });
  parentPort.on('message', async (msg) => {
    if (msg.type === 'close') { await session.release(); process.exit(0); }
    try {
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
      const result = await session.run(feeds, msg.outputs);
      const out = {};
      const transfer = [];
      for (const name of msg.outputs) {
        const t = result[name];
        const data = new Float32Array(t.data);
        out[name] = { data, dims: Array.from(t.dims) };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ type: 'result', id: msg.id, out }, transfer);
    } catch (err) {
      parentPort.postMessage({ type: 'error', id: msg.id, message: String(err && err.message || err) });
    }
  });
})();
`;

interface Pending {
  resolve: (out: Record<string, FloatTensor>) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

interface Job {
  feeds: Record<string, FloatTensor>;
  outputs: string[];
  pending: Pending;
}

/**
 * ONNX Runtime inference in a pool of worker threads. `run` resolves with the requested outputs;
 * jobs queue while all workers are busy (callers bound the queue themselves).
 */
export class OnnxFeatureExtractor implements SessionInfo {
  readonly inputNames: string[];
  readonly outputNames: string[];
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private readonly inflight = new Map<Worker, { id: number; pending: Pending }>();
  private nextId = 0;
  private closed = false;

  private constructor(slots: Slot[], info: SessionInfo) {
    this.slots = slots;
    this.inputNames = info.inputNames;
    this.outputNames = info.outputNames;
    for (const slot of slots) {
      slot.worker.on('message', (msg: { type: string; id: number; out?: Record<string, FloatTensor>; message?: string }) => {
        const job = this.inflight.get(slot.worker);
        if (!job || job.id !== msg.id) return;
        this.inflight.delete(slot.worker);
        slot.busy = false;
        if (msg.type === 'result' && msg.out) job.pending.resolve(msg.out);
        else job.pending.reject(new Error(`onnxruntime: ${msg.message ?? 'unknown error'}`));
        this.pump();
      });
      slot.worker.on('error', (err) => this.failWorker(slot, err));
      slot.worker.on('exit', (code) => {
        if (!this.closed) this.failWorker(slot, new Error(`onnxruntime worker exited with code ${code}`));
      });
    }
  }

  static async create(options: FeatureExtractorOptions): Promise<OnnxFeatureExtractor> {
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`FeatureExtractor: workers must be a positive integer, got ${workers}`);
    const intraOpThreads = options.intraOpThreads ?? Math.max(1, Math.floor(availableParallelism() / workers));
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const model = typeof options.model === 'string' ? options.model : new Uint8Array(options.model);
    const started = await Promise.allSettled(
      Array.from({ length: workers }, () => {
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { ortPath, model, intraOpThreads, graphOptimizationLevel: options.graphOptimizationLevel ?? 'all' },
        });
        return new Promise<{ worker: Worker; info: SessionInfo }>((resolve, reject) => {
          const onMsg = (msg: { type: string; message?: string } & SessionInfo): void => {
            worker.off('error', onErr);
            if (msg.type === 'ready') resolve({ worker, info: { inputNames: msg.inputNames, outputNames: msg.outputNames } });
            else {
              void worker.terminate();
              reject(new Error(`FeatureExtractor: cannot load ${typeof options.model === 'string' ? options.model : 'model bytes'}: ${msg.message}`));
            }
          };
          const onErr = (err: Error): void => reject(err);
          worker.once('message', onMsg);
          worker.once('error', onErr);
        });
      }),
    );
    const ok = started.filter((s): s is PromiseFulfilledResult<{ worker: Worker; info: SessionInfo }> => s.status === 'fulfilled');
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((s) => s.value.worker.terminate()));
      throw failed.reason as Error;
    }
    const first = ok[0] as PromiseFulfilledResult<{ worker: Worker; info: SessionInfo }>;
    return new OnnxFeatureExtractor(
      ok.map((s) => ({ worker: s.value.worker, busy: false })),
      first.value.info,
    );
  }

  /** Number of worker threads. */
  get workers(): number {
    return this.slots.length;
  }

  /** Jobs waiting for a free worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Runs the model on float32 feeds (copied, so the caller keeps its arrays). */
  run(feeds: Record<string, FloatTensor>, outputs: string[] = this.outputNames): Promise<Record<string, FloatTensor>> {
    if (this.closed) return Promise.reject(new Error('FeatureExtractor: closed'));
    for (const o of outputs) {
      if (!this.outputNames.includes(o)) return Promise.reject(new Error(`FeatureExtractor: no output "${o}" (model has ${this.outputNames.join(', ')})`));
    }
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) return Promise.reject(new Error(`FeatureExtractor: missing input "${name}"`));
      const size = t.dims.reduce((a, b) => a * b, 1);
      if (t.data.length !== size) return Promise.reject(new Error(`FeatureExtractor: input "${name}" has ${t.data.length} values for dims [${t.dims.join(', ')}]`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, outputs, pending: { resolve, reject } });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const job = this.queue.shift();
      if (!job) return;
      const id = this.nextId++;
      slot.busy = true;
      this.inflight.set(slot.worker, { id, pending: job.pending });
      const feeds: Record<string, FloatTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(job.feeds)) {
        const data = new Float32Array(t.data); // own copy, transferred without a second copy
        feeds[name] = { data, dims: t.dims };
        transfer.push(data.buffer);
      }
      slot.worker.postMessage({ type: 'run', id, feeds, outputs: job.outputs }, transfer);
    }
  }

  private failWorker(slot: Slot, err: Error): void {
    const job = this.inflight.get(slot.worker);
    this.inflight.delete(slot.worker);
    job?.pending.reject(err);
    // A dead worker takes no more jobs; fail the queue if none is left.
    const idx = this.slots.indexOf(slot);
    if (idx >= 0) this.slots.splice(idx, 1);
    if (this.slots.length === 0) for (const j of this.queue.splice(0)) j.pending.reject(err);
  }

  /** Waits for running jobs, rejects queued ones, and stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const j of this.queue.splice(0)) j.pending.reject(new Error('FeatureExtractor: closed'));
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            const finish = (): void => {
              slot.worker.once('exit', () => resolve());
              slot.worker.postMessage({ type: 'close' });
            };
            if (!slot.busy) finish();
            else {
              const check = (): void => (slot.busy ? setTimeout(check, 5) : finish()) as unknown as void;
              check();
            }
          }),
      ),
    );
  }
}
