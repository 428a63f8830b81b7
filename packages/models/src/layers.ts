/**
 * Shared layers (one place): Linear, Conv2d, LayerNorm, BatchNorm, exact GELU, and the PyTorch
 * initialisers the official code relies on. Inputs are channels-last: `[..., C]`, images NHWC.
 * LayerNorm, training BatchNorm and GELU are @ssl/tensor's fused ops (one native kernel each way on
 * the native backend).
 */
import { Rng, batchNormTrain, gelu, layerNorm, tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';
import { Module } from './module.js';

/** Where initial weights come from: a generator, or a seed for one. */
export type InitRng = Rng | number;

export function toRng(rng: InitRng | undefined): Rng {
  if (rng instanceof Rng) return rng;
  return new Rng(rng ?? 0);
}

/**
 * `trunc_normal_(std)` as DINO/timm: normal(0, std) resampled until inside [a, b]. Note a and b are
 * absolute bounds (-2, 2), not multiples of std, so at std 0.02 the truncation almost never bites.
 */
export function truncNormal(shape: number[], std: number, rng: Rng, a = -2, b = 2): Tensor {
  const n = shape.reduce((x, d) => x * d, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = rng.normal(0, std); while (v < a || v > b);
    out[i] = v;
  }
  return tf.tensor(out, shape);
}

/** U(-bound, bound): PyTorch's default Linear/Conv init uses bound = 1/sqrt(fan_in) for weight and bias. */
export function uniform(shape: number[], bound: number, rng: Rng): Tensor {
  const n = shape.reduce((x, d) => x * d, 1);
  return tf.tensor(rng.uniformArray(n, -bound, bound), shape);
}

/** `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, torchvision's conv init. */
export function kaimingNormalFanOut(shape: number[], fanOut: number, rng: Rng): Tensor {
  const n = shape.reduce((x, d) => x * d, 1);
  return tf.tensor(rng.normalArray(n, 0, Math.sqrt(2 / fanOut)), shape);
}

/** Exact GELU, x * Phi(x) (PyTorch `nn.GELU()`): @ssl/tensor's op, re-exported for the model code. */
export { gelu };

export type LinearInit = 'torch' | 'trunc_normal';

export interface LinearOptions {
  bias?: boolean;
  /** 'torch': PyTorch's default (uniform 1/sqrt(in)); 'trunc_normal': DINO's trunc normal 0.02, bias 0. */
  init?: LinearInit;
  rng?: InitRng;
}

/** `nn.Linear`: weight `[out, in]` (PyTorch layout, used with transposeB), bias `[out]`. */
export class Linear extends Module {
  readonly weight: Variable;
  readonly bias: Variable | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    const rng = toRng(options.rng);
    const bound = 1 / Math.sqrt(inFeatures);
    const trunc = options.init === 'trunc_normal';
    this.weight = this.registerParameter(
      'weight',
      trunc ? truncNormal([outFeatures, inFeatures], 0.02, rng) : uniform([outFeatures, inFeatures], bound, rng),
    );
    this.bias = options.bias ?? true
      ? this.registerParameter('bias', trunc ? tf.zeros([outFeatures]) : uniform([outFeatures], bound, rng))
      : null;
  }

  /** `[..., in]` -> `[..., out]` */
  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`Linear: input last dim must be ${this.inFeatures}, got shape [${x.shape}]`);
    }
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, this.inFeatures]); // [rows, in]
    const y = tf.fused.matMul({ a: x2 as tf.Tensor2D, b: this.weight as Tensor as tf.Tensor2D, transposeB: true, bias: this.bias ?? undefined });
    return x.rank === 2 ? y : tf.reshape(y, [...lead, this.outFeatures]);
  }
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
  /** 'torch' default init, or torchvision's 'kaiming_fan_out' (bias, if any, zero). */
  init?: 'torch' | 'kaiming_fan_out';
  rng?: InitRng;
}

/** `nn.Conv2d` on NHWC input. The kernel is stored HWIO; its state-dict entry is OIHW. */
export class Conv2d extends Module {
  readonly weight: Variable;
  readonly bias: Variable | null;
  readonly stride: number;
  readonly padding: number;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, options: Conv2dOptions = {}) {
    super();
    const rng = toRng(options.rng);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const k = kernelSize;
    const shape = [k, k, inChannels, outChannels];
    const bound = 1 / Math.sqrt(inChannels * k * k);
    const kaiming = options.init === 'kaiming_fan_out';
    this.weight = this.registerParameter(
      'weight',
      kaiming ? kaimingNormalFanOut(shape, outChannels * k * k, rng) : uniform(shape, bound, rng),
      { layout: 'conv' },
    );
    this.bias = options.bias ?? true
      ? this.registerParameter('bias', kaiming ? tf.zeros([outChannels]) : uniform([outChannels], bound, rng))
      : null;
  }

  /** `[B, H, W, Cin]` -> `[B, H', W', Cout]` */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d: input must be NHWC with ${this.inChannels} channels, got shape [${x.shape}]`);
    }
    return tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: this.weight as Tensor as tf.Tensor4D,
      strides: this.stride,
      pad: this.padding,
      bias: this.bias ?? undefined,
    });
  }
}

/** `nn.LayerNorm(dim, eps)` over the last axis, weight 1, bias 0. */
export class LayerNorm extends Module {
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.registerParameter('weight', tf.ones([dim]));
    this.bias = this.registerParameter('bias', tf.zeros([dim]));
  }

  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.dim) throw new Error(`LayerNorm: input last dim must be ${this.dim}, got shape [${x.shape}]`);
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * `nn.BatchNorm1d/2d` on channels-last input `[..., C]`: statistics over every axis but the last.
 * Training: normalise with the batch mean and biased variance; update running_mean/running_var
 * (unbiased variance) with `momentum` (PyTorch convention: new = (1 - m) old + m batch) and count
 * `num_batches_tracked`. Eval: use the running statistics.
 */
export class BatchNorm extends Module {
  readonly weight: Variable;
  readonly bias: Variable;
  readonly runningMean: Variable;
  readonly runningVar: Variable;
  readonly numBatchesTracked: Variable;

  constructor(readonly numFeatures: number, readonly options: { eps?: number; momentum?: number } = {}) {
    super();
    this.weight = this.registerParameter('weight', tf.ones([numFeatures]));
    this.bias = this.registerParameter('bias', tf.zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', tf.zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', tf.ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', tf.scalar(0, 'int32'));
  }

  get eps(): number {
    return this.options.eps ?? 1e-5;
  }

  get momentum(): number {
    return this.options.momentum ?? 0.1;
  }

  forward(x: Tensor): Tensor {
    const c = this.numFeatures;
    if (x.rank < 2 || x.shape[x.rank - 1] !== c) {
      throw new Error(`BatchNorm: input must be [..., ${c}] (channels last), got shape [${x.shape}]`);
    }
    if (!this.training) {
      return tf.batchNorm(x, this.runningMean, this.runningVar, this.bias, this.weight, this.eps);
    }
    const n = x.size / c;
    if (n < 2) throw new Error(`BatchNorm: training needs more than 1 value per channel, got input shape [${x.shape}]`);
    // mean and biased variance of the batch; they carry no gradient (the update below is outside
    // autograd, as in PyTorch), while y's gradient goes through them.
    const { y, mean, variance } = batchNormTrain(x, this.weight, this.bias, this.eps);
    const m = this.momentum;
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1))));
      this.numBatchesTracked.assign(tf.add(this.numBatchesTracked, tf.scalar(1, 'int32')));
    });
    tf.dispose([mean, variance]);
    return y;
  }
}
