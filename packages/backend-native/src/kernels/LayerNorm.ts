import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import type { NativeKernelArgs } from './fallback.js';
import { f32Input, rowsByLastDim, sameShape } from './fused_util.js';

/** Fused LayerNorm over the last axis: inputs {x, gamma, beta}, attr epsilon; outputs [y, mean, rstd]. */
export const SSL_LAYER_NORM = 'SslLayerNorm';
/** Its gradient: inputs {dy, x, gamma, mean, rstd}; outputs [dx, dgamma, dbeta]. */
export const SSL_LAYER_NORM_GRAD = 'SslLayerNormGrad';

function rowsCols(kernel: string, x: TensorInfo, params: Record<string, TensorInfo | undefined>): [number, number] {
  if (x.shape.length === 0) throw new Error(`${kernel}: x must have at least one dim, got a scalar`);
  return rowsByLastDim(kernel, x, params);
}

function layerNorm(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const k = SSL_LAYER_NORM;
  const x = inputs.x!;
  const xv = f32Input(backend, k, 'x', x);
  const gv = f32Input(backend, k, 'gamma', inputs.gamma);
  const bv = f32Input(backend, k, 'beta', inputs.beta);
  const [rows, cols] = rowsCols(k, x, { gamma: inputs.gamma, beta: inputs.beta });
  const eps = attrs?.epsilon as number | undefined;
  if (typeof eps !== 'number') throw new Error(`${k}: attr 'epsilon' must be a number, got ${String(eps)}`);
  const y = outputArray(xv.length);
  const mean = new Float32Array(rows);
  const rstd = new Float32Array(rows);
  if (rows > 0 && cols > 0) binding().layerNorm(xv, gv, bv, y, mean, rstd, rows, cols, eps);
  const statShape = x.shape.slice(0, -1);
  return [
    backend.makeTensorInfo(x.shape, 'float32', y),
    backend.makeTensorInfo(statShape, 'float32', mean),
    backend.makeTensorInfo(statShape, 'float32', rstd),
  ];
}

function layerNormGrad(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend } = args;
  const k = SSL_LAYER_NORM_GRAD;
  const x = inputs.x!;
  const dyv = f32Input(backend, k, 'dy', inputs.dy);
  const xv = f32Input(backend, k, 'x', x);
  const gv = f32Input(backend, k, 'gamma', inputs.gamma);
  const mv = f32Input(backend, k, 'mean', inputs.mean);
  const rv = f32Input(backend, k, 'rstd', inputs.rstd);
  const [rows, cols] = rowsCols(k, x, { gamma: inputs.gamma });
  if (!sameShape(inputs.dy!.shape, x.shape)) throw new Error(`${k}: dy must have the shape of x [${x.shape}], got [${inputs.dy!.shape}]`);
  if (mv.length !== rows || rv.length !== rows) throw new Error(`${k}: mean and rstd must have ${rows} values (x [${x.shape}] without its last dim)`);
  const dx = outputArray(xv.length);
  const dgamma = new Float32Array(cols);
  const dbeta = new Float32Array(cols);
  if (rows > 0 && cols > 0) binding().layerNormGrad(dyv, xv, gv, mv, rv, dx, dgamma, dbeta, rows, cols);
  return [
    backend.makeTensorInfo(x.shape, 'float32', dx),
    backend.makeTensorInfo([cols], 'float32', dgamma),
    backend.makeTensorInfo([cols], 'float32', dbeta),
  ];
}

export const layerNormConfigs: KernelConfig[] = [
  { kernelName: SSL_LAYER_NORM, backendName: 'native', kernelFunc: layerNorm as unknown as KernelFunc },
  { kernelName: SSL_LAYER_NORM_GRAD, backendName: 'native', kernelFunc: layerNormGrad as unknown as KernelFunc },
];
