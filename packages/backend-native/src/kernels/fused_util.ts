import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend.js';

/**
 * The float32 values of a fused kernel's input. The fused kernels have no JS twin to fall back to
 * (the ops in @ssl/tensor pick the composite for other dtypes), so anything else is an error.
 */
export function f32Input(backend: NativeBackend, kernel: string, name: string, t: TensorInfo | undefined): Float32Array {
  if (!t) throw new Error(`${kernel}: input '${name}' is missing`);
  const v = backend.float32(t);
  if (!v) throw new Error(`${kernel}: input '${name}' must be float32, got ${t.dtype}`);
  return v;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
