// Sums of the row-wise and column-wise kernels: one workgroup per output (a row of a [rows, C]
// view, or a column), its ROW_WORKGROUP lanes stride over the summed axis, then a tree sum.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ROW_INDEX, ROW_WORKGROUP, WORKGROUP_SUM, rowProgram, run } from '../program.js';
import type { Uniform } from '../program.js';

export interface Reduction {
  key: string;
  /** Outputs: one per row (`along: 'row'`, summing over C) or per column (summing over rows). */
  along: 'row' | 'column';
  rows: number;
  cols: number;
  variableNames: string[];
  inputs: TensorInfo[];
  /** WGSL expression of one summed term; `row`, `col`, `i` (= row * C + col) are in scope. */
  term: string;
  /** WGSL expression of the output from `total` (and `row`/`col` of the output). */
  finish: string;
  /** Extra uniform fields (WGSL) and their values, after `rows` and `cols`. */
  uniforms?: string;
  uniformData?: Uniform[];
}

export function reduce(backend: WebGPUBackend, r: Reduction): TensorInfo {
  const count = r.along === 'row' ? r.rows : r.cols;
  const loop =
    r.along === 'row'
      ? `let row = out; for (var col = i32(lane); col < uniforms.cols; col = col + ${ROW_WORKGROUP}) { let i = row * uniforms.cols + col; acc = acc + (${r.term}); }`
      : `let col = out; for (var row = i32(lane); row < uniforms.rows; row = row + ${ROW_WORKGROUP}) { let i = row * uniforms.cols + col; acc = acc + (${r.term}); }`;
  const own = r.along === 'row' ? 'let row = out;' : 'let col = out;';
  const code = `
var<workgroup> scratch: array<f32, ${ROW_WORKGROUP}>;
${WORKGROUP_SUM}
fn main() {
  // No early return: every lane must reach the barriers in workgroupSum.
  let out = ${ROW_INDEX};
  let valid = out < ${r.along === 'row' ? 'uniforms.rows' : 'uniforms.cols'};
  let lane = localId.x;
  var acc = 0.0;
  if (valid) { ${loop} }
  let total = workgroupSum(lane, acc);
  if (valid && lane == 0u) { ${own} result[out] = ${r.finish}; }
}`;
  const program = rowProgram(r.key, [count], count, r.variableNames, code, `rows : i32, cols : i32, ${r.uniforms ?? ''}`);
  return run(backend, program, r.inputs, [{ type: 'int32', data: [r.rows] }, { type: 'int32', data: [r.cols] }, ...(r.uniformData ?? [])]);
}
