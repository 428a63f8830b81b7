import { BatchMatMul, broadcast_util, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend.js';
import { binding, GEMM_MODES } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

export interface MatMulPlan {
  outShape: number[];
  m: number;
  n: number;
  k: number;
  aIndex: Int32Array;
  bIndex: Int32Array;
}

/** Output shape, GEMM sizes, and which a/b matrix each output batch entry reads (broadcasting). */
export function planMatMul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatMulPlan {
  const ra = a.shape.length;
  const rb = b.shape.length;
  util.assert(ra >= 2 && rb >= 2, () => `matMul: a and b must have rank >= 2, got shapes ${a.shape} and ${b.shape}`);
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  util.assert(
    k === kb,
    () =>
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const batch = util.sizeFromShape(outBatch);
  const aIndex = new Int32Array(batch);
  const bIndex = new Int32Array(batch);
  const aSize = util.sizeFromShape(aBatch);
  const bSize = util.sizeFromShape(bBatch);
  if (aSize === batch && bSize === batch) {
    for (let i = 0; i < batch; i++) aIndex[i] = bIndex[i] = i;
  } else {
    // Walk the output batch index and map it into each operand, dims of size 1 pinned to 0.
    const r = outBatch.length;
    const idx = new Array<number>(r).fill(0);
    for (let i = 0; i < batch; i++) {
      let ia = 0;
      let ib = 0;
      for (let d = 0; d < r; d++) {
        const da = aBatch[d - (r - aBatch.length)];
        const db = bBatch[d - (r - bBatch.length)];
        if (da !== undefined) ia = ia * da + (da === 1 ? 0 : idx[d]!);
        if (db !== undefined) ib = ib * db + (db === 1 ? 0 : idx[d]!);
      }
      aIndex[i] = ia;
      bIndex[i] = ib;
      for (let d = r - 1; d >= 0; d--) {
        idx[d]! += 1;
        if (idx[d]! < outBatch[d]!) break;
        idx[d] = 0;
      }
    }
  }
  return { outShape: [...outBatch, m, n], m, n, k, aIndex, bIndex };
}

/** Runs the planned GEMMs on float32 values: out = act(op(a) @ op(b) + bias), in the backend's GEMM mode (bf16 under autocast). */
export function runMatMul(
  backend: NativeBackend,
  a: TensorInfo,
  aVals: Float32Array,
  b: TensorInfo,
  bVals: Float32Array,
  plan: MatMulPlan,
  transposeA: boolean,
  transposeB: boolean,
  bias: Float32Array | null = null,
  activation = 0,
  alpha = 0,
): TensorInfo {
  const out = outputArray(util.sizeFromShape(plan.outShape));
  if (out.length > 0) {
    const bf16 = backend.gemmMode === GEMM_MODES.bf16;
    const aShadow = bf16 ? backend.bf16Shadow(a, aVals) : undefined;
    const bShadow = bf16 ? backend.bf16Shadow(b, bVals) : undefined;
    // A copy filled now also fills its sums (bf16Shadow); a and b sharing one copy fill it as a.
    const aSums = aShadow && !aShadow.ready ? aShadow.sums : undefined;
    const bSums = bShadow && !bShadow.ready && bShadow !== aShadow ? bShadow.sums : undefined;
    binding().batchMatMul(
      aVals, bVals, out, plan.aIndex, plan.bIndex, plan.m, plan.n, plan.k, transposeA, transposeB, bias, activation, alpha, backend.gemmMode,
      aShadow?.values ?? null, aShadow?.ready ?? false, bShadow?.values ?? null, bShadow?.ready ?? false, aSums ?? null, bSums ?? null,
    );
    if (aShadow) aShadow.ready = true;
    if (bShadow) bShadow.ready = true;
  }
  return backend.makeTensorInfo(plan.outShape, 'float32', out);
}

export function batchMatMul(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a!;
  const b = inputs.b!;
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  const aVals = backend.float32(a);
  const bVals = backend.float32(b);
  if (!aVals || !bVals) return runCpu(BatchMatMul, args);
  return runMatMul(backend, a, aVals, b, bVals, planMatMul(a, b, transposeA, transposeB), transposeA, transposeB);
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'native',
  kernelFunc: batchMatMul as unknown as KernelFunc,
};
