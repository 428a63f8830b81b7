// Binary16 rounding for fp16 autocast: values stay f32 in storage and are rounded where a matmul
// reads them, so products and sums stay f32, as torch.autocast's fp16 GEMMs accumulate. The
// rounding is integer arithmetic on the f32 bits (no `enable f16`: tfjs's shader prefix leaves
// no place for the directive; and lavapipe folds a pack2x16float/unpack2x16float round trip into
// a no-op), so it is the same on every adapter: nearest, ties to even, binary16's subnormals below
// 2^-14, +-infinity past its range, as torch's `.half()`.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { autocastHalf } from '../autocast.js';
import { elementwiseProgram, run } from '../program.js';
import { Views } from './shapes.js';

/** WGSL `toHalf(x)`: x rounded to the nearest binary16 value, as f32 (needs `uniforms.INFINITY`, which tfjs declares). */
export const HALF_WGSL = `
fn toHalf(x: f32) -> f32 {
  let a = abs(x);
  // 65520 and above round past binary16's largest finite value, 65504.
  if (a >= 65520.0) { return sign(x) * uniforms.INFINITY; }
  // Subnormal binary16 (below 2^-14): multiples of 2^-24; WGSL's round() breaks ties to even.
  if (a < 6.103515625e-5) { return sign(x) * round(a * 16777216.0) / 16777216.0; }
  // Normal: keep 10 of the 23 mantissa bits, nearest, ties to even (a carry moves the exponent).
  let u = bitcast<u32>(x);
  return bitcast<f32>((u + 0x0FFFu + ((u >> 13u) & 1u)) & 0xFFFFE000u);
}`;

/** Whether a kernel's `precision` attr asks for binary16 operands ('fp16') or float32 ('fp32' or absent). */
export function halfFlag(kernel: string, attrs: Record<string, unknown> | undefined): boolean {
  const p = attrs?.precision ?? 'fp32';
  if (p === 'fp16') return true;
  if (p === 'fp32') return false;
  throw new Error(`${kernel}: attr 'precision' must be 'fp32' or 'fp16' on webgpu, got ${String(p)}`);
}

/** A float32 copy of `x` with every value rounded to binary16 (1 dispatch). */
export function roundToHalf(backend: WebGPUBackend, x: TensorInfo): TensorInfo {
  const size = x.shape.reduce((a, b) => a * b, 1);
  const views = new Views(backend);
  const code = `${HALF_WGSL}
fn main(index: i32) {
  if (index < uniforms.size) { result[index] = toHalf(X[index]); }
}`;
  const out = run(backend, elementwiseProgram('sslRoundToHalf', [size], ['X'], code), [views.as(x, [size])]);
  views.dispose();
  return views.back(out, x.shape);
}

/**
 * Runs `product(a, b)` on binary16-rounded float32 copies of `a` and `b` inside an fp16 autocast
 * scope (disposed after), on `a` and `b` themselves otherwise.
 */
export function withHalfOperands(backend: WebGPUBackend, a: TensorInfo, b: TensorInfo, product: (a: TensorInfo, b: TensorInfo) => TensorInfo): TensorInfo {
  if (!autocastHalf(backend) || a.dtype !== 'float32' || b.dtype !== 'float32') return product(a, b);
  const ha = roundToHalf(backend, a);
  const hb = roundToHalf(backend, b);
  try {
    return product(ha, hb);
  } finally {
    backend.disposeData(ha.dataId);
    backend.disposeData(hb.dataId);
  }
}
