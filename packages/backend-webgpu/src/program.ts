// Our WGSL kernels run through tfjs's own program runner (`WebGPUBackend.runWebGPUProgram`), so
// buffers, uniforms and pipeline caching stay tfjs's. The runner prepends the declarations: the
// output `result: array<f32>`, one `array<f32>` per name in `variableNames` (in that order), and
// `uniforms` with each input's shape plus the fields listed in `uniforms`.
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export interface Uniform {
  type: 'int32' | 'float32' | 'uint32';
  data: number[];
}

/** Workgroup size of the row-wise kernels: one workgroup reduces one row. */
export const ROW_WORKGROUP = 64;
/** Workgroup size of the elementwise kernels. */
export const FLAT_WORKGROUP = 256;
/** Most workgroups one dispatch dimension may have in WebGPU's default limits. */
const MAX_DISPATCH = 65535;

/**
 * One output per element, flat: `main(index)` runs once per element of `outputShape`
 * (`index < uniforms.size` must be checked; the dispatch is rounded up).
 */
export function elementwiseProgram(shaderKey: string, outputShape: number[], variableNames: string[], userCode: string, uniforms = ''): WebGPUProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    outputShape,
    shaderKey,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    // The runner folds a too-long x into 2 or 3 dimensions itself (getGlobalIndex follows).
    dispatch: [Math.ceil(size / FLAT_WORKGROUP), 1, 1],
    variableNames,
    workgroupSize: [FLAT_WORKGROUP, 1, 1],
    size: true,
    uniforms,
    getUserCode: () => userCode,
  } as WebGPUProgram;
}

/**
 * One workgroup of `ROW_WORKGROUP` threads per output row (`rows` of them), two-dimensional
 * dispatch so any row count fits: `main()` finds its row from `workgroupId` (see `ROW_INDEX`).
 */
export function rowProgram(shaderKey: string, outputShape: number[], rows: number, variableNames: string[], userCode: string, uniforms = ''): WebGPUProgram {
  const x = Math.min(Math.max(rows, 1), MAX_DISPATCH);
  return {
    outputShape,
    shaderKey,
    // Not flat: the runner then calls `main()` without an index.
    dispatchLayout: { x: [0], y: [1] },
    dispatch: [x, Math.ceil(rows / x), 1],
    variableNames,
    workgroupSize: [ROW_WORKGROUP, 1, 1],
    uniforms,
    getUserCode: () => userCode,
  } as WebGPUProgram;
}

/** WGSL: this workgroup's row in a `rowProgram` dispatch. */
export const ROW_INDEX = 'i32(workgroupId.y * numWorkgroups.x + workgroupId.x)';

/**
 * WGSL: a tree sum over the workgroup of `ROW_WORKGROUP` lanes in `scratch` (declared by the
 * kernel as `var<workgroup> scratch: array<f32, ROW_WORKGROUP>`); every lane gets the total.
 */
export const WORKGROUP_SUM = `
fn workgroupSum(lane: u32, value: f32) -> f32 {
  scratch[lane] = value;
  workgroupBarrier();
  for (var stride = ${ROW_WORKGROUP / 2}u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) { scratch[lane] = scratch[lane] + scratch[lane + stride]; }
    workgroupBarrier();
  }
  let total = scratch[0];
  workgroupBarrier();
  return total;
}`;

/** WGSL: the maximum over the workgroup, as `WORKGROUP_SUM` (same `scratch`). */
export const WORKGROUP_MAX = `
fn workgroupMax(lane: u32, value: f32) -> f32 {
  scratch[lane] = value;
  workgroupBarrier();
  for (var stride = ${ROW_WORKGROUP / 2}u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) { scratch[lane] = max(scratch[lane], scratch[lane + stride]); }
    workgroupBarrier();
  }
  let total = scratch[0];
  workgroupBarrier();
  return total;
}`;

export function run(backend: WebGPUBackend, program: WebGPUProgram, inputs: TensorInfo[], uniforms: Uniform[] = [], dtype: DataType = 'float32'): TensorInfo {
  return backend.runWebGPUProgram(program, inputs, dtype, uniforms);
}
