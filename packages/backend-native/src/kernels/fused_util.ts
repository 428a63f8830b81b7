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

/**
 * `x` seen as [rows, cols] over its last dim, after checking that each named parameter is `[cols]`
 * (the per-column gamma, beta, ... of the normalisation kernels). The caller checks x's rank.
 */
export function rowsByLastDim(kernel: string, x: TensorInfo, params: Record<string, TensorInfo | undefined>): [number, number] {
  const cols = x.shape[x.shape.length - 1]!;
  for (const [name, t] of Object.entries(params)) {
    if (!t) throw new Error(`${kernel}: input '${name}' is missing`);
    if (!sameShape(t.shape, [cols])) {
      throw new Error(`${kernel}: ${name} must have shape [${cols}] (the last dim of x [${x.shape}]), got [${t.shape}]`);
    }
  }
  return [x.shape.slice(0, -1).reduce((a, d) => a * d, 1), cols];
}
