import {
  Abs,
  Elu,
  Erf,
  Exp,
  LeakyRelu,
  Log,
  Log1p,
  Neg,
  OnesLike,
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
  ZerosLike,
  util,
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

/**
 * ZerosLike and OnesLike of float32 (gradient seeds and the zero gradients of unused inputs): a
 * recycled buffer filled, where the JS kernel allocates fresh zeroed memory every time.
 */
function fillLikeKernel(kernelName: string, value: number): KernelFunc {
  const fn = (args: NativeKernelArgs): TensorInfo => {
    const x = args.inputs.x!;
    if (x.dtype !== 'float32') return runCpu(kernelName, args);
    const out = outputArray(util.sizeFromShape(x.shape)).fill(value);
    return args.backend.makeTensorInfo(x.shape, 'float32', out);
  };
  return fn as unknown as KernelFunc;
}

export const fillLikeConfigs: KernelConfig[] = [
  { kernelName: ZerosLike, backendName: 'native', kernelFunc: fillLikeKernel(ZerosLike, 0) },
  { kernelName: OnesLike, backendName: 'native', kernelFunc: fillLikeKernel(OnesLike, 1) },
];
