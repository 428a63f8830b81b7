import {
  Abs,
  Elu,
  Erf,
  Exp,
  LeakyRelu,
  Log,
  Log1p,
  Neg,
  Reciprocal,
  Relu,
  Relu6,
  Rsqrt,
  Sigmoid,
  Softplus,
  Sqrt,
  Square,
  Step,
  Tanh,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

// Op codes of native/kernels/Unary.cc.
export const UNARY_OPS: Record<string, number> = {
  [Exp]: 0,
  [Log]: 1,
  [Sqrt]: 2,
  [Rsqrt]: 3,
  [Erf]: 4,
  [Tanh]: 5,
  [Relu]: 6,
  [Neg]: 7,
  [Square]: 8,
  [Abs]: 9,
  [Sigmoid]: 10,
  [Step]: 11,
  [Reciprocal]: 12,
  [Relu6]: 13,
  [Elu]: 14,
  [Log1p]: 15,
  [Softplus]: 16,
  [LeakyRelu]: 17,
};

/** A float32 elementwise kernel; `alpha` is Step's and LeakyRelu's attribute. */
function unaryKernel(kernelName: string, op: number): KernelFunc {
  const fn = (args: NativeKernelArgs): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    const xv = backend.float32(x);
    if (!xv) return runCpu(kernelName, args);
    const out = outputArray(xv.length);
    const alpha = (attrs?.alpha as number | undefined) ?? 0;
    binding().unary(op, xv, out, alpha);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
  return fn as unknown as KernelFunc;
}

export const unaryConfigs: KernelConfig[] = Object.entries(UNARY_OPS).map(([kernelName, op]) => ({
  kernelName,
  backendName: 'native',
  kernelFunc: unaryKernel(kernelName, op),
}));
