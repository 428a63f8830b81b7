import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import type { NativeKernelArgs } from './fallback.js';
import { f32Input, sameShape } from './fused_util.js';

/** Exact (erf) GELU: input {x}; output y = x Phi(x). */
export const SSL_GELU = 'SslGelu';
/** Its gradient: inputs {dy, x}; output dx = dy (Phi(x) + x phi(x)). */
export const SSL_GELU_GRAD = 'SslGeluGrad';

function gelu(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const xv = f32Input(backend, SSL_GELU, 'x', inputs.x);
  const y = outputArray(xv.length);
  binding().gelu(xv, y);
  return backend.makeTensorInfo(inputs.x!.shape, 'float32', y);
}

function geluGrad(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const dyv = f32Input(backend, SSL_GELU_GRAD, 'dy', inputs.dy);
  const xv = f32Input(backend, SSL_GELU_GRAD, 'x', inputs.x);
  if (!sameShape(inputs.dy!.shape, inputs.x!.shape)) {
    throw new Error(`${SSL_GELU_GRAD}: dy must have the shape of x [${inputs.x!.shape}], got [${inputs.dy!.shape}]`);
  }
  const dx = outputArray(xv.length);
  binding().geluGrad(dyv, xv, dx);
  return backend.makeTensorInfo(inputs.x!.shape, 'float32', dx);
}

export const geluConfigs: KernelConfig[] = [
  { kernelName: SSL_GELU, backendName: 'native', kernelFunc: gelu as unknown as KernelFunc },
  { kernelName: SSL_GELU_GRAD, backendName: 'native', kernelFunc: geluGrad as unknown as KernelFunc },
];
