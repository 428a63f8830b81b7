// LayerNorm over the last axis and its gradient (@ssl/tensor's layerNorm): the composite's
// formulas on a [rows, C] view, each statistic one workgroup-per-row pass.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ROW_INDEX, ROW_WORKGROUP, WORKGROUP_SUM, elementwiseProgram, rowProgram, run } from '../program.js';
import { reduce } from './reduce_wgsl.js';
import { Views, float32Input, numberAttr, rowsByLastDim, sameShape } from './shapes.js';

interface Args {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WebGPUBackend;
  attrs: Record<string, unknown>;
}

const ROW_COL = 'let row = index / uniforms.cols; let col = index - row * uniforms.cols;';

function checkParams(kernel: string, x: TensorInfo, c: number, params: Record<string, TensorInfo>): void {
  for (const [name, t] of Object.entries(params)) {
    if (!sameShape(t.shape, [c])) throw new Error(`${kernel}: ${name} must have shape [${c}] (last dim of x [${x.shape}]), got [${t.shape}]`);
  }
}

function layerNorm({ inputs, backend, attrs }: Args): TensorInfo[] {
  const K = 'SslLayerNorm';
  const x = float32Input(K, 'x', inputs.x);
  const gamma = float32Input(K, 'gamma', inputs.gamma);
  const beta = float32Input(K, 'beta', inputs.beta);
  const eps = numberAttr(K, attrs, 'epsilon');
  const [rows, c] = rowsByLastDim(K, x);
  checkParams(K, x, c, { gamma, beta });
  const views = new Views(backend);
  const x2 = views.as(x, [rows, c]);
  const dims = { rows, cols: c };
  const mean = reduce(backend, { key: 'sslLayerNormMean', along: 'row', ...dims, variableNames: ['X'], inputs: [x2], term: 'X[i]', finish: 'total / f32(uniforms.cols)' });
  // Biased variance of the centred values, as PyTorch.
  const rstd = reduce(backend, {
    key: 'sslLayerNormRstd',
    along: 'row',
    ...dims,
    variableNames: ['X', 'Mean'],
    inputs: [x2, mean],
    term: '(X[i] - Mean[row]) * (X[i] - Mean[row])',
    finish: 'inverseSqrt(total / f32(uniforms.cols) + uniforms.eps)',
    uniforms: 'eps : f32,',
    uniformData: [{ type: 'float32', data: [eps] }],
  });
  const code = `
fn main(index: i32) {
  if (index < uniforms.size) {
    ${ROW_COL}
    let xhat = (X[index] - Mean[row]) * Rstd[row];
    result[index] = xhat * Gamma[col] + Beta[col];
  }
}`;
  const y = run(backend, elementwiseProgram('sslLayerNorm', [rows, c], ['X', 'Mean', 'Rstd', 'Gamma', 'Beta'], code, 'cols : i32,'), [x2, mean, rstd, gamma, beta], [
    { type: 'int32', data: [c] },
  ]);
  views.dispose();
  const statShape = x.shape.slice(0, -1);
  return [views.back(y, x.shape), views.back(mean, statShape), views.back(rstd, statShape)];
}

function layerNormGrad({ inputs, backend }: Args): TensorInfo[] {
  const K = 'SslLayerNormGrad';
  const dy = float32Input(K, 'dy', inputs.dy);
  const x = float32Input(K, 'x', inputs.x);
  const gamma = float32Input(K, 'gamma', inputs.gamma);
  const mean = float32Input(K, 'mean', inputs.mean);
  const rstd = float32Input(K, 'rstd', inputs.rstd);
  if (!sameShape(dy.shape, x.shape)) throw new Error(`${K}: dy [${dy.shape}] must have the shape of x [${x.shape}]`);
  const [rows, c] = rowsByLastDim(K, x);
  checkParams(K, x, c, { gamma });
  for (const [name, t] of [['mean', mean], ['rstd', rstd]] as const) {
    if (t.shape.reduce((a, b) => a * b, 1) !== rows) throw new Error(`${K}: ${name} must have ${rows} values (x [${x.shape}] without its last dim), got [${t.shape}]`);
  }
  const views = new Views(backend);
  const [dy2, x2] = [views.as(dy, [rows, c]), views.as(x, [rows, c])] as [TensorInfo, TensorInfo];
  const [m1d, r1d] = [views.as(mean, [rows]), views.as(rstd, [rows])] as [TensorInfo, TensorInfo];
  // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma: one
  // workgroup per row computes both means, then writes its row.
  const dxCode = `
var<workgroup> scratch: array<f32, ${ROW_WORKGROUP}>;
${WORKGROUP_SUM}
fn main() {
  let row = ${ROW_INDEX};
  let valid = row < uniforms.rows;
  let lane = localId.x;
  var s1 = 0.0;
  var s2 = 0.0;
  var m = 0.0;
  var r = 0.0;
  if (valid) {
    m = Mean[row];
    r = Rstd[row];
    for (var col = i32(lane); col < uniforms.cols; col = col + ${ROW_WORKGROUP}) {
      let i = row * uniforms.cols + col;
      let dxhat = Dy[i] * Gamma[col];
      s1 = s1 + dxhat;
      s2 = s2 + dxhat * ((X[i] - m) * r);
    }
  }
  let m1 = workgroupSum(lane, s1) / f32(uniforms.cols);
  let m2 = workgroupSum(lane, s2) / f32(uniforms.cols);
  if (valid) {
    for (var col = i32(lane); col < uniforms.cols; col = col + ${ROW_WORKGROUP}) {
      let i = row * uniforms.cols + col;
      let xhat = (X[i] - m) * r;
      result[i] = ((Dy[i] * Gamma[col] - m1) - xhat * m2) * r;
    }
  }
}`;
  const dx = run(backend, rowProgram('sslLayerNormGradDx', [rows, c], rows, ['Dy', 'X', 'Gamma', 'Mean', 'Rstd'], dxCode, 'rows : i32, cols : i32,'), [dy2, x2, gamma, m1d, r1d], [
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [c] },
  ]);
  const dims = { rows, cols: c };
  const dgamma = reduce(backend, {
    key: 'sslLayerNormGradGamma',
    along: 'column',
    ...dims,
    variableNames: ['Dy', 'X', 'Mean', 'Rstd'],
    inputs: [dy2, x2, m1d, r1d],
    term: 'Dy[i] * ((X[i] - Mean[row]) * Rstd[row])',
    finish: 'total',
  });
  const dbeta = reduce(backend, { key: 'sslLayerNormGradBeta', along: 'column', ...dims, variableNames: ['Dy'], inputs: [dy2], term: 'Dy[i]', finish: 'total' });
  views.dispose();
  return [views.back(dx, x.shape), dgamma, dbeta];
}

export const layerNormConfigs: KernelConfig[] = [
  { kernelName: 'SslLayerNorm', backendName: 'webgpu', kernelFunc: layerNorm as unknown as KernelFunc },
  { kernelName: 'SslLayerNormGrad', backendName: 'webgpu', kernelFunc: layerNormGrad as unknown as KernelFunc },
];
