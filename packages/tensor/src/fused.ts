// Fused ops for the ViT and ResNet hot paths: LayerNorm, training BatchNorm, exact GELU, attention and one AdamW step. Each runs a single
// kernel when the active backend has one (the native backend registers them under these names)
// and a composite of tfjs ops otherwise. Looked up by name, so this package never imports the
// native backend statically.
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { currentPrecision } from './autocast.js';

/** Kernel names (and their inputs/outputs) a backend may register to run the fused ops. */
export const FUSED_KERNELS = {
  /** inputs {x, gamma, beta}, attr epsilon; outputs [y, mean, rstd] (mean/rstd: x's shape without the last dim). */
  layerNorm: 'SslLayerNorm',
  /** inputs {dy, x, gamma, mean, rstd}; outputs [dx, dgamma, dbeta]. */
  layerNormGrad: 'SslLayerNormGrad',
  /** inputs {x [..., C], gamma [C], beta [C]}, attr epsilon; outputs [y, mean, variance] (each [C], biased variance). */
  batchNorm: 'SslBatchNorm',
  /** inputs {dy, x, gamma, mean, variance}, attr epsilon; outputs [dx, dgamma, dbeta]. */
  batchNormGrad: 'SslBatchNormGrad',
  /** input {x}; output y. */
  gelu: 'SslGelu',
  /** inputs {dy, x}; output dx. */
  geluGrad: 'SslGeluGrad',
  /** inputs {param, grad, m, v}; attrs: see `adamwScalars`; outputs [param, m, v]. */
  adamw: 'SslAdamW',
  /**
   * inputs {q, k, v} (each `[BH, N, d]`); attrs scale, precision (`currentPrecision()`: 'fp16'
   * / 'bf16' read the matmul operands rounded to binary16 / bf16); output softmax(q scale k^T) v `[BH, N, d]`.
   */
  attention: 'SslAttention',
  /** inputs {dy, q, k, v}; attrs scale, precision; outputs [dq, dk, dv]. */
  attentionGrad: 'SslAttentionGrad',
  /**
   * input {qkv} `[B, N, 3 heads d]` (timm's packed projection: q, k, v, each heads-major); attrs
   * heads, scale, precision; output `[B, N, heads d]`: `selfAttention` without the head transposes.
   */
  selfAttention: 'SslSelfAttention',
  /** inputs {dy, qkv}; same attrs; output dqkv. */
  selfAttentionGrad: 'SslSelfAttentionGrad',
} as const;

/** Largest sequence length and head dim an `SslAttention` kernel must take; beyond, the composite runs. */
export const ATTENTION_KERNEL_LIMITS = { maxTokens: 1024, maxHeadDim: 128 } as const;

/** Whether the active backend runs `kernelName` itself (else the ops use their composite). */
export function hasFusedKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

const allFloat32 = (ts: Tensor[]) => ts.every((t) => t.dtype === 'float32');

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

type Saver = (ts: Tensor[]) => void;
type GradFunc = (dy: Tensor, saved: Tensor[]) => Tensor[];
type CustomGradBody = (...args: unknown[]) => { value: Tensor; gradFunc: GradFunc };

// tf.customGrad's typings want exactly Tensor arguments; ours take a saver last.
const customGrad = (f: CustomGradBody) => tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...ts: Tensor[]) => Tensor;

function layerNormComposite(x: Tensor, gamma: Tensor, beta: Tensor, eps: number, save: Saver): { value: Tensor; gradFunc: GradFunc } {
  const axis = x.rank - 1;
  const [value, xhat, rstd] = tf.tidy(() => {
    const xc = tf.sub(x, tf.mean(x, axis, true));
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axis, true), eps)); // biased variance, as PyTorch
    const xh = tf.mul(xc, r);
    return [tf.add(tf.mul(xh, gamma), beta), xh, r];
  }) as [Tensor, Tensor, Tensor];
  save([xhat, rstd, gamma]);
  return {
    value,
    gradFunc: (dy, saved) => {
      const [xh, r, g] = saved as [Tensor, Tensor, Tensor];
      const rows = [...Array(dy.rank - 1).keys()];
      const dxhat = tf.mul(dy, g);
      // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
      const m1 = tf.mean(dxhat, axis, true);
      const m2 = tf.mean(tf.mul(dxhat, xh), axis, true);
      const dx = tf.mul(tf.sub(tf.sub(dxhat, m1), tf.mul(xh, m2)), r);
      return [dx, tf.sum(tf.mul(dy, xh), rows), tf.sum(dy, rows)];
    },
  };
}

function layerNormKernel(x: Tensor, gamma: Tensor, beta: Tensor, eps: number, save: Saver): { value: Tensor; gradFunc: GradFunc } {
  const [value, mean, rstd] = tf.engine().runKernel(FUSED_KERNELS.layerNorm, { x, gamma, beta }, { epsilon: eps }) as Tensor[];
  save([x, gamma, mean!, rstd!]);
  return {
    value: value!,
    gradFunc: (dy, saved) => {
      const [xs, g, m, r] = saved as [Tensor, Tensor, Tensor, Tensor];
      return tf.engine().runKernel(FUSED_KERNELS.layerNormGrad, { dy, x: xs, gamma: g, mean: m, rstd: r }, {}) as Tensor[];
    },
  };
}

/**
 * LayerNorm over the last axis (PyTorch `F.layer_norm` with weight and bias): `(x - mean) /
 * sqrt(var + eps) * gamma + beta`, biased variance. `x` is `[..., C]`, `gamma` and `beta` `[C]`.
 * Differentiable in all three (dx, dgamma, dbeta).
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  if (x.rank === 0) throw new Error('layerNorm: x must have at least one dim, got a scalar');
  const c = x.shape[x.rank - 1]!;
  if (!sameShape(gamma.shape, [c])) throw new Error(`layerNorm: gamma must have shape [${c}] (last dim of x [${x.shape}]), got [${gamma.shape}]`);
  if (!sameShape(beta.shape, [c])) throw new Error(`layerNorm: beta must have shape [${c}] (last dim of x [${x.shape}]), got [${beta.shape}]`);
  if (!(eps >= 0)) throw new Error(`layerNorm: eps must be a non-negative number, got ${eps}`);
  const fused = allFloat32([x, gamma, beta]) && hasFusedKernel(FUSED_KERNELS.layerNorm);
  const body = fused ? layerNormKernel : layerNormComposite;
  return customGrad((...args) => {
    const [xs, g, b, save] = args as [Tensor, Tensor, Tensor, Saver];
    return body(xs, g, b, eps, save);
  })(x, gamma, beta);
}

type BatchNormBody = (x: Tensor, gamma: Tensor, beta: Tensor, eps: number, save: Saver) => { value: Tensor; stats: [Tensor, Tensor]; gradFunc: GradFunc };

function batchNormComposite(x: Tensor, gamma: Tensor, beta: Tensor, eps: number, save: Saver): ReturnType<BatchNormBody> {
  const axes = [...Array(x.rank - 1).keys()];
  const n = x.size / x.shape[x.rank - 1]!;
  const [value, mean, variance, xhat, rstd] = tf.tidy(() => {
    const m = tf.mean(x, axes);
    const xc = tf.sub(x, m);
    const v = tf.mean(tf.square(xc), axes); // biased, as PyTorch normalises
    const r = tf.rsqrt(tf.add(v, eps));
    const xh = tf.mul(xc, r);
    return [tf.add(tf.mul(xh, gamma), beta), m, v, xh, r];
  }) as [Tensor, Tensor, Tensor, Tensor, Tensor];
  save([xhat, rstd, gamma]);
  return {
    value,
    stats: [mean, variance],
    gradFunc: (dy, saved) => {
      const [xh, r, g] = saved as [Tensor, Tensor, Tensor];
      // dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)), the means over all rows
      const dbeta = tf.sum(dy, axes);
      const dgamma = tf.sum(tf.mul(dy, xh), axes);
      const centred = tf.sub(tf.sub(dy, tf.div(dbeta, n)), tf.mul(xh, tf.div(dgamma, n)));
      return [tf.mul(centred, tf.mul(g, r)), dgamma, dbeta];
    },
  };
}

function batchNormKernel(x: Tensor, gamma: Tensor, beta: Tensor, eps: number, save: Saver): ReturnType<BatchNormBody> {
  const attrs = { epsilon: eps };
  const [value, mean, variance] = tf.engine().runKernel(FUSED_KERNELS.batchNorm, { x, gamma, beta }, attrs) as Tensor[];
  save([x, gamma, mean!, variance!]);
  return {
    value: value!,
    stats: [mean!, variance!],
    gradFunc: (dy, saved) => {
      const [xs, g, m, v] = saved as [Tensor, Tensor, Tensor, Tensor];
      return tf.engine().runKernel(FUSED_KERNELS.batchNormGrad, { dy, x: xs, gamma: g, mean: m, variance: v }, attrs) as Tensor[];
    },
  };
}

/**
 * Training-mode BatchNorm on channels-last `x` `[..., C]` (PyTorch `F.batch_norm(training=True)`):
 * statistics over every axis but the last, `y = (x - mean) / sqrt(var + eps) * gamma + beta` with
 * the biased batch variance. Returns y and the batch `mean` and `variance` (`[C]`, biased) for the
 * running-stat update. Gradients flow to x (through the batch statistics, as in PyTorch), gamma
 * and beta; `mean` and `variance` are constants to autograd (PyTorch updates its running stats
 * outside autograd too).
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): { y: Tensor; mean: Tensor; variance: Tensor } {
  if (x.rank < 2) throw new Error(`batchNormTrain: x must be [..., C] with at least 2 dims, got [${x.shape}]`);
  const c = x.shape[x.rank - 1]!;
  if (!sameShape(gamma.shape, [c])) throw new Error(`batchNormTrain: gamma must have shape [${c}] (last dim of x [${x.shape}]), got [${gamma.shape}]`);
  if (!sameShape(beta.shape, [c])) throw new Error(`batchNormTrain: beta must have shape [${c}] (last dim of x [${x.shape}]), got [${beta.shape}]`);
  if (x.size / c < 1 || c === 0) throw new Error(`batchNormTrain: x [${x.shape}] has no values to take statistics over`);
  if (!(eps >= 0)) throw new Error(`batchNormTrain: eps must be a non-negative number, got ${eps}`);
  const fused = allFloat32([x, gamma, beta]) && hasFusedKernel(FUSED_KERNELS.batchNorm);
  const body: BatchNormBody = fused ? batchNormKernel : batchNormComposite;
  // customGrad's forward runs inside a kernel scope: its inner ops are off the tape (so the stats
  // carry no gradient) and disposed at its end unless kept; the kept stats are handed to the
  // caller's scope below as clones.
  let stats: Tensor[] = [];
  const y = customGrad((...args) => {
    const [xs, g, b, save] = args as [Tensor, Tensor, Tensor, Saver];
    const r = body(xs, g, b, eps, save);
    stats = r.stats.map((t) => tf.keep(t));
    return { value: r.value, gradFunc: r.gradFunc };
  })(x, gamma, beta);
  const [mean, variance] = stats.map((t) => tf.clone(t)) as [Tensor, Tensor];
  tf.dispose(stats);
  return { y, mean, variance };
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const geluComposite = customGrad((...args) => {
  const [x, save] = args as [Tensor, Saver];
  save([x]);
  return {
    value: tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1))),
    gradFunc: (dy, saved) => {
      const [xs] = saved as [Tensor];
      // d/dx x Phi(x) = Phi(x) + x phi(x)
      const cdf = tf.mul(tf.add(tf.erf(tf.mul(xs, SQRT1_2)), 1), 0.5);
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(cdf, tf.mul(xs, pdf)))];
    },
  };
});

const geluKernel = customGrad((...args) => {
  const [x, save] = args as [Tensor, Saver];
  save([x]);
  return {
    value: tf.engine().runKernel(FUSED_KERNELS.gelu, { x }, {}) as Tensor,
    gradFunc: (dy, saved) => [tf.engine().runKernel(FUSED_KERNELS.geluGrad, { dy, x: saved[0]! }, {}) as Tensor],
  };
});

/** Exact GELU, `x * Phi(x)` with the normal CDF from erf (PyTorch `nn.GELU()`, not the tanh form). */
export function gelu(x: Tensor): Tensor {
  return x.dtype === 'float32' && hasFusedKernel(FUSED_KERNELS.gelu) ? geluKernel(x) : geluComposite(x);
}

export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** This parameter's step count, 1 on its first update (bias correction). */
  step: number;
}

/**
 * The float32 scalars of one AdamW step, the attrs of the `SslAdamW` kernel. Computed here, in
 * double precision and then rounded once, so that kernel and composite use identical values.
 */
export function adamwScalars(s: AdamWStep): Record<string, number> {
  return {
    decay: 1 - s.lr * s.weightDecay,
    beta1: s.beta1,
    oneMinusBeta1: 1 - s.beta1,
    beta2: s.beta2,
    oneMinusBeta2: 1 - s.beta2,
    sqrtBiasCorrection2: Math.sqrt(1 - s.beta2 ** s.step),
    epsilon: s.eps,
    stepSize: s.lr / (1 - s.beta1 ** s.step),
  };
}

/**
 * One `torch.optim.AdamW` step (single-tensor path) of one parameter; returns new tensors, the
 * inputs are untouched:
 * `p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *  p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
 * The fused kernel and the composite give the same float32 bits.
 */
export function adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, s: AdamWStep): { param: Tensor; m: Tensor; v: Tensor } {
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
    if (!sameShape(t.shape, param.shape)) throw new Error(`adamwUpdate: ${name} must have the shape of param [${param.shape}], got [${t.shape}]`);
  }
  if (!Number.isInteger(s.step) || s.step < 1) throw new Error(`adamwUpdate: step must be an integer >= 1, got ${s.step}`);
  for (const b of [s.beta1, s.beta2]) {
    if (!(b >= 0 && b < 1)) throw new Error(`adamwUpdate: betas must be in [0, 1), got [${s.beta1}, ${s.beta2}]`);
  }
  const k = adamwScalars(s);
  if (allFloat32([param, grad, m, v]) && hasFusedKernel(FUSED_KERNELS.adamw)) {
    const [p1, m1, v1] = tf.engine().runKernel(FUSED_KERNELS.adamw, { param, grad, m, v }, k) as Tensor[];
    return { param: p1!, m: m1!, v: v1! };
  }
  const [p1, m1, v1] = tf.tidy(() => {
    const decayed = tf.mul(param, tf.scalar(k.decay!));
    const m1 = tf.add(tf.mul(m, tf.scalar(k.beta1!)), tf.mul(grad, tf.scalar(k.oneMinusBeta1!)));
    const v1 = tf.add(tf.mul(v, tf.scalar(k.beta2!)), tf.mul(tf.mul(grad, grad), tf.scalar(k.oneMinusBeta2!)));
    const denom = tf.add(tf.div(tf.sqrt(v1), tf.scalar(k.sqrtBiasCorrection2!)), tf.scalar(k.epsilon!));
    return [tf.sub(decayed, tf.mul(tf.div(m1, denom), tf.scalar(k.stepSize!))), m1, v1];
  });
  return { param: p1!, m: m1!, v: v1! };
}

/** The ops the ViT ran before the fused op existed, kept as they were: native's numerics (bf16 GEMMs included) and speed stay. */
function attentionComposite(q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor {
  // Scaling q (N x hd values) instead of the scores (N x N) is the same product, cheaper.
  return tf.matMul(tf.softmax(tf.matMul(tf.mul(q, scale), k, false, true)), v); // [..., N, N] x [..., N, d]
}

function attentionKernel(q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor {
  return customGrad((...args) => {
    const [qs, ks, vs, save] = args as [Tensor, Tensor, Tensor, Saver];
    save([qs, ks, vs]);
    return {
      value: tf.engine().runKernel(FUSED_KERNELS.attention, { q: qs, k: ks, v: vs }, { scale, precision: currentPrecision() }) as Tensor,
      // The backward pass runs in the precision current then, as the composite's gradient matmuls would.
      gradFunc: (dy, saved) => {
        const [q0, k0, v0] = saved as [Tensor, Tensor, Tensor];
        return tf.engine().runKernel(FUSED_KERNELS.attentionGrad, { dy, q: q0, k: k0, v: v0 }, { scale, precision: currentPrecision() }) as Tensor[];
      },
    };
  })(q, k, v);
}

function selfAttentionComposite(qkv: Tensor, heads: number, scale: number): Tensor {
  const [b, n, c] = qkv.shape as [number, number, number];
  const d = c / (3 * heads);
  const [q, k, v] = tf.unstack(tf.transpose(tf.reshape(qkv, [b, n, 3, heads, d]), [2, 0, 3, 1, 4])) as [Tensor, Tensor, Tensor]; // [B, heads, N, d]
  return tf.reshape(tf.transpose(attention(q, k, v, scale), [0, 2, 1, 3]), [b, n, heads * d]);
}

/**
 * The attention of a ViT block on its packed qkv projection: `qkv` `[B, N, 3 heads d]` (timm's
 * `qkv(x).reshape(B, N, 3, heads, d)`), split into heads, `attention` per head, heads merged back:
 * `[B, N, heads d]`. Where the backend registers `SslSelfAttention` (native) one kernel reads the
 * heads in place and writes the merged output (one more for the gradient): no transposed copies
 * of q, k, v, the output or their gradients. Elsewhere the transposes and `attention`.
 */
export function selfAttention(qkv: Tensor, heads: number, scale: number): Tensor {
  if (qkv.rank !== 3) throw new Error(`selfAttention: qkv must be [B, N, 3 * heads * headDim], got [${qkv.shape}]`);
  if (!Number.isInteger(heads) || heads < 1 || qkv.shape[2]! % (3 * heads) !== 0) {
    throw new Error(`selfAttention: heads must be a positive integer dividing qkv's last dim ${qkv.shape[2]} / 3, got ${heads}`);
  }
  if (!Number.isFinite(scale)) throw new Error(`selfAttention: scale must be a finite number, got ${scale}`);
  if (!(allFloat32([qkv]) && hasFusedKernel(FUSED_KERNELS.selfAttention) && qkv.size > 0)) return selfAttentionComposite(qkv, heads, scale);
  return customGrad((...args) => {
    const [x, save] = args as [Tensor, Saver];
    save([x]);
    const attrs = () => ({ heads, scale, precision: currentPrecision() });
    return {
      value: tf.engine().runKernel(FUSED_KERNELS.selfAttention, { qkv: x }, attrs()) as Tensor,
      // The backward pass runs in the precision current then, as the composite's gradient matmuls would.
      gradFunc: (dy, saved) => [tf.engine().runKernel(FUSED_KERNELS.selfAttentionGrad, { dy, qkv: saved[0]! }, attrs()) as Tensor],
    };
  })(qkv);
}

/**
 * Scaled dot-product attention, `softmax(q scale k^T) v` over the last two axes (the ViT's
 * `(q @ k.transpose(-2, -1)) * scale`, softmax, `@ v`, with the scale applied to q). `q`, `k`,
 * `v` are `[..., N, d]` of one shape. Where the backend registers `SslAttention` (webgpu: one
 * dispatch forward, four backward; native: one call each, bf16 products under autocast) its kernels
 * run; elsewhere the composite of matMul and softmax. Differentiable in q, k and v.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor {
  if (q.rank < 2) throw new Error(`attention: q must be [..., N, d], got [${q.shape}]`);
  if (!sameShape(k.shape, q.shape)) throw new Error(`attention: k must have the shape of q [${q.shape}], got [${k.shape}]`);
  if (!sameShape(v.shape, q.shape)) throw new Error(`attention: v must have the shape of q [${q.shape}], got [${v.shape}]`);
  if (!Number.isFinite(scale)) throw new Error(`attention: scale must be a finite number, got ${scale}`);
  const [n, d] = q.shape.slice(-2) as [number, number];
  const fused =
    allFloat32([q, k, v]) &&
    hasFusedKernel(FUSED_KERNELS.attention) &&
    n <= ATTENTION_KERNEL_LIMITS.maxTokens &&
    d <= ATTENTION_KERNEL_LIMITS.maxHeadDim &&
    q.size > 0;
  if (!fused) return attentionComposite(q, k, v, scale);
  const flat = [q.size / (n * d), n, d];
  return tf.tidy(() => {
    const out = attentionKernel(tf.reshape(q, flat), tf.reshape(k, flat), tf.reshape(v, flat), scale); // [BH, N, d]
    return tf.reshape(out, q.shape);
  });
}
