import {
  Add,
  Maximum,
  Minimum,
  Multiply,
  Pow,
  RealDiv,
  SquaredDifference,
  Sub,
  backend_util,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

// Op codes of native/kernels/Binary.cc.
export const BINARY_OPS: Record<string, number> = {
  [Add]: 0,
  [Sub]: 1,
  [Multiply]: 2,
  [RealDiv]: 3,
  [Maximum]: 4,
  [Minimum]: 5,
  [SquaredDifference]: 6,
  [Pow]: 7,
};

/** A broadcasting float32 binary kernel; other dtypes go to the JS kernel of the same name. */
function binaryKernel(kernelName: string, op: number): KernelFunc {
  const fn = (args: NativeKernelArgs): TensorInfo => {
    const { inputs, backend } = args;
    const a = inputs.a!;
    const b = inputs.b!;
    const av = backend.float32(a);
    const bv = backend.float32(b);
    if (!av || !bv) return runCpu(kernelName, args);
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = outputArray(util.sizeFromShape(outShape));
    binding().binary(op, av, Int32Array.from(a.shape), bv, Int32Array.from(b.shape), out, Int32Array.from(outShape));
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
  return fn as unknown as KernelFunc;
}

export const binaryConfigs: KernelConfig[] = Object.entries(BINARY_OPS).map(([kernelName, op]) => ({
  kernelName,
  backendName: 'native',
  kernelFunc: binaryKernel(kernelName, op),
}));
