import { FusedBatchNorm, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';
import { f32Input, rowsByLastDim, sameShape } from './fused_util.js';

/**
 * Training BatchNorm over every axis but the last: inputs {x `[..., C]`, gamma `[C]`, beta `[C]`},
 * attr epsilon; outputs [y, mean, variance] (`[C]`, biased variance).
 */
export const SSL_BATCH_NORM = 'SslBatchNorm';
/** Its gradient: inputs {dy, x, gamma, mean, variance}, attr epsilon; outputs [dx, dgamma, dbeta]. */
export const SSL_BATCH_NORM_GRAD = 'SslBatchNormGrad';

function rowsCols(kernel: string, x: TensorInfo, params: Record<string, TensorInfo | undefined>): [number, number] {
  if (x.shape.length < 2) throw new Error(`${kernel}: x must be [..., C] with at least 2 dims, got [${x.shape}]`);
  return rowsByLastDim(kernel, x, params);
}

function epsilonAttr(kernel: string, attrs: NativeKernelArgs['attrs']): number {
  const eps = attrs?.epsilon as number | undefined;
  if (typeof eps !== 'number' || !(eps >= 0)) throw new Error(`${kernel}: attr 'epsilon' must be a non-negative number, got ${String(eps)}`);
  return eps;
}

function batchNormTrain(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const k = SSL_BATCH_NORM;
  const x = inputs.x!;
  const xv = f32Input(backend, k, 'x', x);
  const [rows, cols] = rowsCols(k, x, { gamma: inputs.gamma, beta: inputs.beta });
  const gv = f32Input(backend, k, 'gamma', inputs.gamma);
  const bv = f32Input(backend, k, 'beta', inputs.beta);
  const eps = epsilonAttr(k, attrs);
  if (rows < 1) throw new Error(`${k}: x [${x.shape}] has no rows to take statistics over`);
  const y = outputArray(xv.length);
  const mean = new Float32Array(cols);
  const variance = new Float32Array(cols);
  if (cols > 0) binding().batchNorm(xv, gv, bv, y, mean, variance, rows, cols, eps);
  return [
    backend.makeTensorInfo(x.shape, 'float32', y),
    backend.makeTensorInfo([cols], 'float32', mean),
    backend.makeTensorInfo([cols], 'float32', variance),
  ];
}

function batchNormTrainGrad(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const k = SSL_BATCH_NORM_GRAD;
  const x = inputs.x!;
  const xv = f32Input(backend, k, 'x', x);
  const [rows, cols] = rowsCols(k, x, { gamma: inputs.gamma, mean: inputs.mean, variance: inputs.variance });
  if (!inputs.dy || !sameShape(inputs.dy.shape, x.shape)) throw new Error(`${k}: dy must have the shape of x [${x.shape}], got [${inputs.dy?.shape}]`);
  const dyv = f32Input(backend, k, 'dy', inputs.dy);
  const gv = f32Input(backend, k, 'gamma', inputs.gamma);
  const mv = f32Input(backend, k, 'mean', inputs.mean);
  const vv = f32Input(backend, k, 'variance', inputs.variance);
  const eps = epsilonAttr(k, attrs);
  const dx = outputArray(xv.length);
  const dgamma = new Float32Array(cols);
  const dbeta = new Float32Array(cols);
  if (rows > 0 && cols > 0) binding().batchNormGrad(dyv, xv, gv, mv, vv, dx, dgamma, dbeta, rows, cols, eps);
  return [
    backend.makeTensorInfo(x.shape, 'float32', dx),
    backend.makeTensorInfo([cols], 'float32', dgamma),
    backend.makeTensorInfo([cols], 'float32', dbeta),
  ];
}

/** `n` copies of a length-1 parameter, or the parameter itself. */
function expand(v: Float32Array, n: number): Float32Array {
  return v.length === n ? v : new Float32Array(n).fill(v[0]!);
}

/**
 * tfjs's FusedBatchNorm (tf.batchNorm). The JS kernel indexes each parameter cyclically
 * (`x[i]` uses `p[i % p.length]`); handled here when every parameter has length 1 or one common
 * length that divides x's size (per-channel NHWC parameters); anything else goes to the JS kernel.
 */
function fusedBatchNorm(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, mean, variance, offset, scale } = inputs;
  const eps = (attrs?.varianceEpsilon as number | undefined) ?? 0.001;
  const xv = x && backend.float32(x);
  const mv = mean && backend.float32(mean);
  const vv = variance && backend.float32(variance);
  const ov = offset ? backend.float32(offset) : new Float32Array([0]);
  const sv = scale ? backend.float32(scale) : new Float32Array([1]);
  if (!xv || !mv || !vv || !ov || !sv) return runCpu(FusedBatchNorm, args);
  // The JS kernel's rank checks (mean, variance, offset, scale of equal ranks) still apply.
  const ranks = [variance, offset, scale].filter((t) => t !== undefined).map((t) => t!.shape.length);
  if (ranks.some((r) => r !== mean!.shape.length)) return runCpu(FusedBatchNorm, args);
  const cols = Math.max(mv.length, vv.length, ov.length, sv.length);
  const fits = (v: Float32Array) => v.length === 1 || v.length === cols;
  if (cols === 0 || xv.length % cols !== 0 || ![mv, vv, ov, sv].every(fits)) return runCpu(FusedBatchNorm, args);
  const out = outputArray(xv.length);
  if (xv.length > 0) binding().fusedBatchNorm(xv, expand(mv, cols), expand(vv, cols), expand(ov, cols), expand(sv, cols), out, cols, eps);
  return backend.makeTensorInfo(x!.shape, 'float32', out);
}

export const batchNormConfigs: KernelConfig[] = [
  { kernelName: SSL_BATCH_NORM, backendName: 'native', kernelFunc: batchNormTrain as unknown as KernelFunc },
  { kernelName: SSL_BATCH_NORM_GRAD, backendName: 'native', kernelFunc: batchNormTrainGrad as unknown as KernelFunc },
  { kernelName: FusedBatchNorm, backendName: 'native', kernelFunc: fusedBatchNorm as unknown as KernelFunc },
];
