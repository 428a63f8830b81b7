import { getKernel, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend.js';

/**
 * The JS cpu kernel of the same name: what a native kernel defers to for dtypes or layouts it
 * does not handle (int32, bool, complex), and the reference every test compares against.
 */
export function cpuKernel(kernelName: string): KernelFunc {
  const config = getKernel(kernelName, 'cpu');
  if (!config) throw new Error(`tfjs-backend-cpu has no kernel '${kernelName}' to fall back to`);
  return config.kernelFunc;
}

export type NativeKernelArgs = {
  inputs: Record<string, TensorInfo | undefined>;
  backend: NativeBackend;
  attrs?: NamedAttrMap;
};

export function runCpu(kernelName: string, args: NativeKernelArgs): TensorInfo {
  return cpuKernel(kernelName)(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
}
