import { Transpose, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend.js';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

/** Native transpose of float32 values; shared by the reductions that move axes inward. */
export function transposeValues(backend: NativeBackend, x: TensorInfo, values: Float32Array, perm: number[]): TensorInfo {
  const outShape = perm.map((p) => x.shape[p]!);
  const out = outputArray(values.length);
  binding().transpose(values, out, Int32Array.from(x.shape), Int32Array.from(perm));
  return backend.makeTensorInfo(outShape, 'float32', out);
}

export function transpose(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const perm = attrs?.perm as number[];
  const values = backend.float32(x);
  if (!values) return runCpu(Transpose, args);
  util.assert(
    perm.length === x.shape.length,
    () => `Transpose: perm ${perm} must have one entry per dim of x (shape ${x.shape})`,
  );
  return transposeValues(backend, x, values, perm);
}

export const transposeConfig: KernelConfig = {
  kernelName: Transpose,
  backendName: 'native',
  kernelFunc: transpose as unknown as KernelFunc,
};
