import { Softmax, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

export function softmax(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const logits = inputs.logits!;
  const values = backend.float32(logits);
  const rank = logits.shape.length;
  const dim = (attrs?.dim as number | undefined) ?? -1;
  // The JS kernel's own checks (last axis only) and its rank-0 behaviour apply to anything else.
  if (!values || rank === 0 || (dim !== -1 && dim !== rank - 1)) return runCpu(Softmax, args);
  const cols = logits.shape[rank - 1]!;
  const out = outputArray(values.length);
  if (cols > 0) binding().softmax(values, out, values.length / cols, cols);
  return backend.makeTensorInfo(logits.shape, 'float32', out);
}

export const softmaxConfig: KernelConfig = {
  kernelName: Softmax,
  backendName: 'native',
  kernelFunc: softmax as unknown as KernelFunc,
};
