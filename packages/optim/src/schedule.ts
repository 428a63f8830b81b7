import { linspace } from '@ssl/tensor';

export interface CosineSchedulerOptions {
  /** Epochs of linear warm-up from `startWarmupValue` to `base` (default 0). */
  warmupEpochs?: number;
  startWarmupValue?: number;
}

/**
 * Per-iteration values as DINO's `utils.cosine_scheduler`: `linspace(startWarmupValue, base,
 * warmupEpochs * itersPerEpoch)`, then `final + 0.5 (base - final)(1 + cos(pi i / n))` for
 * i = 0..n-1 over the remaining n iterations (so the last value stays just above `final`).
 * Used for lr, weight decay and teacher momentum. Float64, as numpy.
 */
export function cosineScheduler(
  base: number,
  final: number,
  epochs: number,
  itersPerEpoch: number,
  options: CosineSchedulerOptions = {},
): Float64Array {
  const warmupEpochs = options.warmupEpochs ?? 0;
  const start = options.startWarmupValue ?? 0;
  for (const [k, v] of [['epochs', epochs], ['itersPerEpoch', itersPerEpoch], ['warmupEpochs', warmupEpochs]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`cosineScheduler: ${k} must be a non-negative integer, got ${v}`);
  }
  if (![base, final, start].every(Number.isFinite)) {
    throw new Error(`cosineScheduler: base, final and startWarmupValue must be finite, got ${base}, ${final}, ${start}`);
  }
  const total = epochs * itersPerEpoch;
  const warmupIters = warmupEpochs * itersPerEpoch;
  if (warmupIters > total) {
    throw new Error(`cosineScheduler: warmupEpochs (${warmupEpochs}) must not exceed epochs (${epochs})`);
  }
  const out = new Float64Array(total);
  if (warmupEpochs > 0) out.set(linspace(start, base, warmupIters));
  const n = total - warmupIters;
  for (let i = 0; i < n; i++) {
    out[warmupIters + i] = final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * i) / n));
  }
  return out;
}

export interface WarmupCosineScheduleOptions {
  warmupSteps: number;
  startLr: number;
  refLr: number;
  /** Total steps (warm-up included). */
  tMax: number;
  finalLr?: number;
}

/**
 * PAWS's `WarmupCosineSchedule` (suncet src/utils.py): linear from `startLr` to `refLr` over
 * `warmupSteps`, then cosine to `finalLr` over `tMax - warmupSteps`, clamped at `finalLr`.
 * `lr(step)` is the learning rate used at step `step` (0-based: the scheduler steps after the
 * optimizer, so step 0 runs at `startLr`).
 */
export class WarmupCosineSchedule {
  readonly warmupSteps: number;
  readonly startLr: number;
  readonly refLr: number;
  readonly finalLr: number;
  /** Cosine length after warm-up, as the official `T_max - warmup_steps`. */
  readonly tMax: number;

  constructor(options: WarmupCosineScheduleOptions) {
    const { warmupSteps, startLr, refLr, tMax } = options;
    if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
      throw new Error(`WarmupCosineSchedule: warmupSteps must be a non-negative integer, got ${warmupSteps}`);
    }
    if (!Number.isInteger(tMax) || tMax < 0) throw new Error(`WarmupCosineSchedule: tMax must be a non-negative integer, got ${tMax}`);
    if (!(refLr > 0)) throw new Error(`WarmupCosineSchedule: refLr must be > 0, got ${refLr}`);
    this.warmupSteps = warmupSteps;
    this.startLr = startLr;
    this.refLr = refLr;
    this.finalLr = options.finalLr ?? 0;
    this.tMax = tMax - warmupSteps;
  }

  /** The multiplier of the base lr (`lr_lambda`). */
  lambda(step: number): number {
    if (step < this.warmupSteps) {
      const progress = step / Math.max(1, this.warmupSteps);
      const lr = this.startLr + progress * (this.refLr - this.startLr);
      return lr / this.refLr;
    }
    // progress after warm-up
    const progress = (step - this.warmupSteps) / Math.max(1, this.tMax);
    const lr = Math.max(
      this.finalLr,
      this.finalLr + (this.refLr - this.finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress)),
    );
    return lr / this.refLr;
  }

  /** Learning rate at `step`: `refLr * lambda(step)`, as LambdaLR sets it. */
  lr(step: number): number {
    return this.refLr * this.lambda(step);
  }

  /** `lr(0..n-1)`. */
  toArray(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.lr(i);
    return out;
  }
}
