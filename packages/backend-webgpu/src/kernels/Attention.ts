// Scaled dot-product attention, softmax(q scale k^T) v, and its gradient (@ssl/tensor's
// `attention`) on [BH, N, d] views. One workgroup per (batch-head, token) row: its lanes first
// stride over the N keys (or queries) computing one coefficient each into workgroup memory, then
// over the d columns summing coefficient x row. The N x N scores never reach global memory:
// forward 1 dispatch, backward 4 (row statistics, dq, dk, dv), where the composite of matMul,
// softmax and their gradients takes ~4 and ~9 (19 fewer per ViT block in a DINO step).
//
// Under fp16 autocast every matmul operand is read rounded to binary16 (f32 accumulation), and
// the softmax and its gradient stay f32, as `torch.autocast` runs these ops.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ROW_INDEX, ROW_WORKGROUP, WORKGROUP_MAX, WORKGROUP_SUM, rowProgram, run } from '../program.js';
import { HALF_WGSL, halfFlag } from './half.js';
import { Views, float32Input, numberAttr, sameShape } from './shapes.js';

/** The limits @ssl/tensor's ATTENTION_KERNEL_LIMITS promises (workgroup arrays are sized by them). */
const MAX_TOKENS = 1024;
const MAX_HEAD_DIM = 128;

interface Args {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WebGPUBackend;
  attrs: Record<string, unknown>;
}

const UNIFORMS = 'rows : i32, n : i32, d : i32, scale : f32, half : i32,';

/**
 * The shared prelude: workgroup arrays, reductions, `rd` (binary16 rounding when `half`), and in
 * `main()`: `r` (this row), `valid`, `lane`, `n`, `d`, `i` (the token within its batch-head),
 * `rowBase` (the batch-head's first row) and `base` (its first value).
 */
function shader(body: string): string {
  return `
var<workgroup> scratch: array<f32, ${ROW_WORKGROUP}>;
var<workgroup> coef: array<f32, ${MAX_TOKENS}>;
var<workgroup> coef2: array<f32, ${MAX_TOKENS}>;
var<workgroup> rowA: array<f32, ${MAX_HEAD_DIM}>;
var<workgroup> rowB: array<f32, ${MAX_HEAD_DIM}>;
${WORKGROUP_SUM}
${WORKGROUP_MAX}
${HALF_WGSL}
fn rd(x: f32) -> f32 {
  if (uniforms.half != 0) { return toHalf(x); }
  return x;
}
fn main() {
  // No early return: every lane must reach the barriers.
  let r = ${ROW_INDEX};
  let valid = r < uniforms.rows;
  let lane = i32(localId.x);
  let n = uniforms.n;
  let d = uniforms.d;
  let i = r % n;
  let rowBase = r - i;
  let base = rowBase * d;
  ${body}
}`;
}

const STRIDE = ROW_WORKGROUP;

/** out[r] = sum_j softmax_j(q_r scale . k_j) v_j. */
const FORWARD = shader(`
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) { rowA[c] = rd(Q[r * d + c] * uniforms.scale); }
  }
  workgroupBarrier();
  var m = -3.402823e38;
  if (valid) {
    for (var j = lane; j < n; j = j + ${STRIDE}) {
      var s = 0.0;
      for (var c = 0; c < d; c = c + 1) { s = s + rowA[c] * rd(K[base + j * d + c]); }
      coef[j] = s;
      m = max(m, s);
    }
  }
  let mx = workgroupMax(localId.x, m);
  var e = 0.0;
  if (valid) {
    for (var j = lane; j < n; j = j + ${STRIDE}) {
      let p = exp(coef[j] - mx);
      coef[j] = p;
      e = e + p;
    }
  }
  let total = workgroupSum(localId.x, e);
  if (valid) {
    for (var j = lane; j < n; j = j + ${STRIDE}) { coef[j] = rd(coef[j] / total); }
  }
  workgroupBarrier();
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      var acc = 0.0;
      for (var j = 0; j < n; j = j + 1) { acc = acc + coef[j] * rd(V[base + j * d + c]); }
      result[r * d + c] = acc;
    }
  }`);

/**
 * Per query row: [logsumexp of the scores, D = sum_j p_j dp_j] with dp_j = dy . v_j, the softmax
 * gradient's row term (the composite's sum(dP * P), not dy . out, so fp16 rounding matches too).
 */
const ROW_STATS = shader(`
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      rowA[c] = rd(Q[r * d + c] * uniforms.scale);
      rowB[c] = rd(Dy[r * d + c]);
    }
  }
  workgroupBarrier();
  var m = -3.402823e38;
  if (valid) {
    for (var j = lane; j < n; j = j + ${STRIDE}) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0; c < d; c = c + 1) {
        s = s + rowA[c] * rd(K[base + j * d + c]);
        dp = dp + rowB[c] * rd(V[base + j * d + c]);
      }
      coef[j] = s;
      coef2[j] = dp;
      m = max(m, s);
    }
  }
  let mx = workgroupMax(localId.x, m);
  var e = 0.0;
  var pdp = 0.0;
  if (valid) {
    for (var j = lane; j < n; j = j + ${STRIDE}) {
      let p = exp(coef[j] - mx);
      e = e + p;
      pdp = pdp + p * coef2[j];
    }
  }
  let total = workgroupSum(localId.x, e);
  let dsum = workgroupSum(localId.x, pdp);
  if (valid && lane == 0) {
    result[r * 2] = mx + log(total);
    result[r * 2 + 1] = dsum / total;
  }`);

/** dq[r] = scale sum_j ds_rj k_j, ds_rj = p_rj (dp_rj - D_r). */
const GRAD_Q = shader(`
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      rowA[c] = rd(Q[r * d + c] * uniforms.scale);
      rowB[c] = rd(Dy[r * d + c]);
    }
  }
  workgroupBarrier();
  if (valid) {
    let lse = Stats[r * 2];
    let dsum = Stats[r * 2 + 1];
    for (var j = lane; j < n; j = j + ${STRIDE}) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0; c < d; c = c + 1) {
        s = s + rowA[c] * rd(K[base + j * d + c]);
        dp = dp + rowB[c] * rd(V[base + j * d + c]);
      }
      coef[j] = rd(exp(s - lse) * (dp - dsum));
    }
  }
  workgroupBarrier();
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      var acc = 0.0;
      for (var j = 0; j < n; j = j + 1) { acc = acc + coef[j] * rd(K[base + j * d + c]); }
      result[r * d + c] = acc * uniforms.scale;
    }
  }`);

/** Row r as a key: dk[r] = sum_q ds_qr (q_q scale). */
const GRAD_K = shader(`
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      rowA[c] = rd(K[r * d + c]);
      rowB[c] = rd(V[r * d + c]);
    }
  }
  workgroupBarrier();
  if (valid) {
    for (var q = lane; q < n; q = q + ${STRIDE}) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0; c < d; c = c + 1) {
        s = s + rd(Q[base + q * d + c] * uniforms.scale) * rowA[c];
        dp = dp + rd(Dy[base + q * d + c]) * rowB[c];
      }
      let stat = (rowBase + q) * 2;
      coef[q] = rd(exp(s - Stats[stat]) * (dp - Stats[stat + 1]));
    }
  }
  workgroupBarrier();
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      var acc = 0.0;
      for (var q = 0; q < n; q = q + 1) { acc = acc + coef[q] * rd(Q[base + q * d + c] * uniforms.scale); }
      result[r * d + c] = acc;
    }
  }`);

/** Row r as a key: dv[r] = sum_q p_qr dy_q. */
const GRAD_V = shader(`
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) { rowA[c] = rd(K[r * d + c]); }
  }
  workgroupBarrier();
  if (valid) {
    for (var q = lane; q < n; q = q + ${STRIDE}) {
      var s = 0.0;
      for (var c = 0; c < d; c = c + 1) { s = s + rd(Q[base + q * d + c] * uniforms.scale) * rowA[c]; }
      coef[q] = rd(exp(s - Stats[(rowBase + q) * 2]));
    }
  }
  workgroupBarrier();
  if (valid) {
    for (var c = lane; c < d; c = c + ${STRIDE}) {
      var acc = 0.0;
      for (var q = 0; q < n; q = q + 1) { acc = acc + coef[q] * rd(Dy[base + q * d + c]); }
      result[r * d + c] = acc;
    }
  }`);

interface Checked {
  q: TensorInfo;
  k: TensorInfo;
  v: TensorInfo;
  rows: number;
  n: number;
  d: number;
  scale: number;
  half: boolean;
}

function check(kernel: string, { inputs, attrs }: Args): Checked {
  const q = float32Input(kernel, 'q', inputs.q);
  const k = float32Input(kernel, 'k', inputs.k);
  const v = float32Input(kernel, 'v', inputs.v);
  if (q.shape.length !== 3) throw new Error(`${kernel}: q must be [BH, N, d], got [${q.shape}]`);
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (!sameShape(t.shape, q.shape)) throw new Error(`${kernel}: ${name} must have the shape of q [${q.shape}], got [${t.shape}]`);
  }
  const [bh, n, d] = q.shape as [number, number, number];
  if (n > MAX_TOKENS || d > MAX_HEAD_DIM) throw new Error(`${kernel}: at most ${MAX_TOKENS} tokens and head dim ${MAX_HEAD_DIM}, got [${q.shape}]`);
  return { q, k, v, rows: bh * n, n, d, scale: numberAttr(kernel, attrs, 'scale'), half: halfFlag(kernel, attrs) };
}

function program(key: string, c: Checked, outCols: number, variableNames: string[], code: string) {
  return rowProgram(key, [c.rows, outCols], c.rows, variableNames, code, UNIFORMS);
}

function uniforms(c: Checked) {
  return [
    { type: 'int32' as const, data: [c.rows] },
    { type: 'int32' as const, data: [c.n] },
    { type: 'int32' as const, data: [c.d] },
    { type: 'float32' as const, data: [c.scale] },
    { type: 'int32' as const, data: [c.half ? 1 : 0] },
  ];
}

function attention(args: Args): TensorInfo {
  const c = check('SslAttention', args);
  if (c.rows === 0) return args.backend.makeTensorInfo(c.q.shape, 'float32', new Float32Array(0));
  const out = run(args.backend, program('sslAttention', c, c.d, ['Q', 'K', 'V'], FORWARD), [c.q, c.k, c.v], uniforms(c)); // [rows, d]
  return new Views(args.backend).back(out, c.q.shape);
}

function attentionGrad(args: Args): TensorInfo[] {
  const K = 'SslAttentionGrad';
  const c = check(K, args);
  const dy = float32Input(K, 'dy', args.inputs.dy);
  if (!sameShape(dy.shape, c.q.shape)) throw new Error(`${K}: dy must have the shape of q [${c.q.shape}], got [${dy.shape}]`);
  const { backend } = args;
  const u = uniforms(c);
  const stats = run(backend, program('sslAttentionRowStats', c, 2, ['Q', 'K', 'V', 'Dy'], ROW_STATS), [c.q, c.k, c.v, dy], u);
  const inputs = [c.q, c.k, c.v, dy, stats];
  const names = ['Q', 'K', 'V', 'Dy', 'Stats'];
  const grads = [
    run(backend, program('sslAttentionGradQ', c, c.d, names, GRAD_Q), inputs, u),
    run(backend, program('sslAttentionGradK', c, c.d, names, GRAD_K), inputs, u),
    // (A binding the shader does not read breaks the pipeline's layout: dv reads no V.)
    run(backend, program('sslAttentionGradV', c, c.d, ['Q', 'K', 'Dy', 'Stats'], GRAD_V), [c.q, c.k, dy, stats], u),
  ];
  backend.disposeData(stats.dataId);
  const views = new Views(backend);
  return grads.map((g) => views.back(g, c.q.shape));
}

export const attentionConfigs: KernelConfig[] = [
  { kernelName: 'SslAttention', backendName: 'webgpu', kernelFunc: attention as unknown as KernelFunc },
  { kernelName: 'SslAttentionGrad', backendName: 'webgpu', kernelFunc: attentionGrad as unknown as KernelFunc },
];
