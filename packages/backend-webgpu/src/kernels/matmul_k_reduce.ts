// A matmul for few output elements and a long inner dimension (batch 1, K >= 2000): the shapes
// for which tfjs-backend-webgpu 4.22 picks its split-K program, whose vectorised path ignores
// `transposeB` and returns wrong values (e.g. [32,2048] x [256,2048]^T, DINOHead's 2048 -> 256
// layer, is off by up to ~73). Here each workgroup owns one output element and its
// `ROW_WORKGROUP` lanes stride over K, then sum in workgroup memory: no atomics, exact layout.
import { backend_util, env, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ROW_INDEX, ROW_WORKGROUP, WORKGROUP_SUM, rowProgram, run } from '../program.js';

/** tfjs 4.22's own choice (BatchMatMul_impl.ts), reproduced to know when it would split K. */
export function wouldUseSplitK(backend: WebGPUBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): boolean {
  if ((env().get('WEBGPU_MATMUL_PROGRAM_TYPE') as number) >= 0) return false;
  const m = transposeA ? a.shape[a.shape.length - 1]! : a.shape[a.shape.length - 2]!;
  const n = transposeB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
  const k = transposeB ? b.shape[b.shape.length - 1]! : b.shape[b.shape.length - 2]!;
  const batch = Math.max(util.sizeFromShape(a.shape.slice(0, -2)), util.sizeFromShape(b.shape.slice(0, -2)));
  const flag = env().getNumber('WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL');
  const threshold = flag > 0 ? flag : (backend as unknown as { thresholdToIncreaseWorkgroups: number }).thresholdToIncreaseWorkgroups;
  const workgroups = batch * Math.ceil(m / 32) * Math.ceil(n / 32);
  const few = workgroups <= threshold || (m <= 8 && workgroups <= threshold * 2);
  return few && batch * m * n > 128 && batch === 1 && k >= 2000;
}

/** `[1, M, N]` = op(A) op(B) for batch-1 (or rank-2) `a`, `b`; the caller reshapes. */
export function matMulKReduce(backend: WebGPUBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const m = transposeA ? a.shape[a.shape.length - 1]! : a.shape[a.shape.length - 2]!;
  const n = transposeB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
  const k = transposeA ? a.shape[a.shape.length - 2]! : a.shape[a.shape.length - 1]!;
  // Row-major element (row, col) of op(A) and op(B): the transposes are index arithmetic.
  const aAt = transposeA ? 'A[kk * uniforms.m + row]' : 'A[row * uniforms.k + kk]';
  const bAt = transposeB ? 'B[col * uniforms.k + kk]' : 'B[kk * uniforms.n + col]';
  const code = `
var<workgroup> scratch: array<f32, ${ROW_WORKGROUP}>;
${WORKGROUP_SUM}
fn main() {
  // No early return: every lane must reach the barriers in workgroupSum.
  let cell = ${ROW_INDEX};
  let valid = cell < uniforms.m * uniforms.n;
  let row = cell / uniforms.n;
  let col = cell - row * uniforms.n;
  let lane = localId.x;
  var acc = 0.0;
  if (valid) {
    for (var kk = i32(lane); kk < uniforms.k; kk = kk + ${ROW_WORKGROUP}) {
      acc = acc + ${aAt} * ${bAt};
    }
  }
  let total = workgroupSum(lane, acc);
  if (valid && lane == 0u) { result[cell] = total; }
}`;
  const program = rowProgram(`sslMatMulKReduce_${transposeA}_${transposeB}`, [1, m, n], m * n, ['A', 'B'], code, 'm : i32, n : i32, k : i32,');
  return run(backend, program, [a, b], [
    { type: 'int32', data: [m] },
    { type: 'int32', data: [n] },
    { type: 'int32', data: [k] },
  ]);
}

export type Activation = backend_util.Activation;
