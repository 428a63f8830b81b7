// Our kernels see their inputs as 1-D or 2-D views (tfjs's Reshape: same buffer), so each kernel
// compiles to one pipeline whatever the rank of the caller's tensors.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { reshapeInfo } from './upstream.js';

/** Views made in one kernel call, disposed together at its end. */
export class Views {
  private readonly made: TensorInfo[] = [];
  constructor(private readonly backend: WebGPUBackend) {}

  as(x: TensorInfo, shape: number[]): TensorInfo {
    const v = reshapeInfo(this.backend, x, shape);
    this.made.push(v);
    return v;
  }

  /** A result computed on a view, reshaped back to `shape`; the intermediate is disposed. */
  back(x: TensorInfo, shape: number[]): TensorInfo {
    const v = reshapeInfo(this.backend, x, shape);
    this.backend.disposeData(x.dataId);
    return v;
  }

  dispose(): void {
    for (const v of this.made) this.backend.disposeData(v.dataId);
    this.made.length = 0;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function float32Input(kernel: string, name: string, t: TensorInfo | undefined): TensorInfo {
  if (!t) throw new Error(`${kernel}: input '${name}' is missing`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: input '${name}' must be float32, got ${t.dtype}`);
  return t;
}

/** `[rows, C]` of a `[..., C]` tensor. */
export function rowsByLastDim(kernel: string, x: TensorInfo): [number, number] {
  if (x.shape.length === 0) throw new Error(`${kernel}: x must have at least one dim, got a scalar`);
  const c = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((a, b) => a * b, 1);
  return [c === 0 ? 0 : size / c, c];
}

export function numberAttr(kernel: string, attrs: Record<string, unknown> | undefined, name: string): number {
  const value = attrs?.[name];
  if (typeof value !== 'number') throw new Error(`${kernel}: attr '${name}' must be a number, got ${String(value)}`);
  return value;
}
