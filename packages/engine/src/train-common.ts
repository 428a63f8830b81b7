import { tf, Rng } from '@ssl/tensor';
import type { RngState, Tensor } from '@ssl/tensor';
import type { Module } from '@ssl/models';

/** A batch as `@ssl/data`'s DataLoader yields it. */
export interface TrainBatch {
  views: Array<{ data: Float32Array; shape: [number, number, number, number] | number[] }>;
  labels?: Int32Array;
  indices?: Int32Array;
}

/** What the loops need of a loader (`@ssl/data` DataLoader satisfies it). */
export interface BatchSource {
  /** Batches per epoch (`len(data_loader)`). */
  length(epoch?: number): number;
  /** The batches of `epoch`, a function of (seed, epoch) only, so a resumed run sees the same ones. */
  epoch(epoch: number): AsyncIterable<TrainBatch>;
}

/** Raised when the loss is NaN or infinite; training stopped and the last checkpoint is untouched. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly loss: number,
    readonly epoch: number,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(
      `Loss is ${loss} at epoch ${epoch}, iteration ${step}: stopping training. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}. ` : 'No checkpoint was saved yet. ') +
        'Try a lower learning rate, a stronger gradient clip, or (DINO) a lower teacher temperature.',
    );
    this.name = 'NonFiniteLossError';
  }
}

/** Views of a batch as NHWC tensors (the caller disposes them). */
export function viewTensors(batch: TrainBatch): Tensor[] {
  if (!batch || !Array.isArray(batch.views) || batch.views.length === 0) {
    throw new Error('train: a batch must have views: [{ data: Float32Array, shape: [B, H, W, C] }, ...]');
  }
  return batch.views.map((v, i) => {
    if (v.shape.length !== 4) throw new Error(`train: view ${i} must have shape [B, H, W, C], got [${v.shape}]`);
    return tf.tensor4d(v.data, v.shape as [number, number, number, number]);
  });
}

/** Every `rng` (an Rng) held by a module of `net`, by `<prefix>.<module name>`. */
export function moduleRngs(prefix: string, net: Module): Map<string, Rng> {
  const out = new Map<string, Rng>();
  for (const [name, m] of net.namedModules()) {
    const r = (m as unknown as { rng?: unknown }).rng;
    if (r instanceof Rng) out.set(name ? `${prefix}.${name}` : prefix, r);
  }
  return out;
}

export function getRngStates(rngs: Map<string, Rng>): Record<string, RngState> {
  const out: Record<string, RngState> = {};
  for (const [k, r] of rngs) out[k] = r.getState();
  return out;
}

export function setRngStates(rngs: Map<string, Rng>, states: Record<string, unknown>): void {
  for (const [k, r] of rngs) {
    const s = states[k];
    if (s) r.setState(s as RngState);
  }
}

export function checkEpochs(name: string, epochs: number, stopAtEpoch: number | undefined): number {
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${name}: epochs must be a positive integer, got ${epochs}`);
  const stop = stopAtEpoch ?? epochs;
  if (!Number.isInteger(stop) || stop < 0 || stop > epochs) {
    throw new Error(`${name}: stopAtEpoch must be an integer in [0, epochs=${epochs}], got ${stopAtEpoch}`);
  }
  return stop;
}

/** Config fields that differ between a checkpoint and this run (`key: old -> new`), for a warning. */
export function configChanges(saved: unknown, current: object): string[] {
  if (!saved || typeof saved !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(current)) {
    const old = (saved as Record<string, unknown>)[k];
    if (old !== undefined && JSON.stringify(old) !== JSON.stringify(v)) out.push(`${k}: ${JSON.stringify(old)} -> ${JSON.stringify(v)}`);
  }
  return out;
}
