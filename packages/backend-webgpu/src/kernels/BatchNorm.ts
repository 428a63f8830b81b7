// Training-mode BatchNorm on channels-last x [..., C] and its gradient (@ssl/tensor's
// batchNormTrain): statistics over every axis but the last, on an [n, C] view; one
// workgroup-per-channel pass per statistic, then one elementwise pass.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { elementwiseProgram, run } from '../program.js';
import { reduce } from './reduce_wgsl.js';
import { Views, float32Input, numberAttr, rowsByLastDim, sameShape } from './shapes.js';

interface Args {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WebGPUBackend;
  attrs: Record<string, unknown>;
}

const COL = 'let col = index % uniforms.cols;';

function shapes(kernel: string, x: TensorInfo, params: Record<string, TensorInfo>): [number, number] {
  if (x.shape.length < 2) throw new Error(`${kernel}: x must be [..., C] with at least 2 dims, got [${x.shape}]`);
  const [n, c] = rowsByLastDim(kernel, x);
  for (const [name, t] of Object.entries(params)) {
    if (!sameShape(t.shape, [c])) throw new Error(`${kernel}: ${name} must have shape [${c}] (last dim of x [${x.shape}]), got [${t.shape}]`);
  }
  return [n, c];
}

function batchNorm({ inputs, backend, attrs }: Args): TensorInfo[] {
  const K = 'SslBatchNorm';
  const x = float32Input(K, 'x', inputs.x);
  const gamma = float32Input(K, 'gamma', inputs.gamma);
  const beta = float32Input(K, 'beta', inputs.beta);
  const eps = numberAttr(K, attrs, 'epsilon');
  const [n, c] = shapes(K, x, { gamma, beta });
  const views = new Views(backend);
  const x2 = views.as(x, [n, c]);
  const dims = { rows: n, cols: c };
  const mean = reduce(backend, { key: 'sslBatchNormMean', along: 'column', ...dims, variableNames: ['X'], inputs: [x2], term: 'X[i]', finish: 'total / f32(uniforms.rows)' });
  // Biased, as PyTorch normalises.
  const variance = reduce(backend, {
    key: 'sslBatchNormVar',
    along: 'column',
    ...dims,
    variableNames: ['X', 'Mean'],
    inputs: [x2, mean],
    term: '(X[i] - Mean[col]) * (X[i] - Mean[col])',
    finish: 'total / f32(uniforms.rows)',
  });
  const code = `
fn main(index: i32) {
  if (index < uniforms.size) {
    ${COL}
    let xhat = (X[index] - Mean[col]) * inverseSqrt(Variance[col] + uniforms.eps);
    result[index] = xhat * Gamma[col] + Beta[col];
  }
}`;
  const y = run(backend, elementwiseProgram('sslBatchNorm', [n, c], ['X', 'Mean', 'Variance', 'Gamma', 'Beta'], code, 'cols : i32, eps : f32,'), [x2, mean, variance, gamma, beta], [
    { type: 'int32', data: [c] },
    { type: 'float32', data: [eps] },
  ]);
  views.dispose();
  return [views.back(y, x.shape), mean, variance];
}

function batchNormGrad({ inputs, backend, attrs }: Args): TensorInfo[] {
  const K = 'SslBatchNormGrad';
  const dy = float32Input(K, 'dy', inputs.dy);
  const x = float32Input(K, 'x', inputs.x);
  const gamma = float32Input(K, 'gamma', inputs.gamma);
  const mean = float32Input(K, 'mean', inputs.mean);
  const variance = float32Input(K, 'variance', inputs.variance);
  const eps = numberAttr(K, attrs, 'epsilon');
  if (!sameShape(dy.shape, x.shape)) throw new Error(`${K}: dy [${dy.shape}] must have the shape of x [${x.shape}]`);
  const [n, c] = shapes(K, x, { gamma, mean, variance });
  const views = new Views(backend);
  const [dy2, x2] = [views.as(dy, [n, c]), views.as(x, [n, c])] as [TensorInfo, TensorInfo];
  const dims = { rows: n, cols: c };
  const epsUniform = { uniforms: 'eps : f32,', uniformData: [{ type: 'float32' as const, data: [eps] }] };
  const dbeta = reduce(backend, { key: 'sslBatchNormGradBeta', along: 'column', ...dims, variableNames: ['Dy'], inputs: [dy2], term: 'Dy[i]', finish: 'total' });
  const dgamma = reduce(backend, {
    key: 'sslBatchNormGradGamma',
    along: 'column',
    ...dims,
    variableNames: ['Dy', 'X', 'Mean', 'Variance'],
    inputs: [dy2, x2, mean, variance],
    term: 'Dy[i] * ((X[i] - Mean[col]) * inverseSqrt(Variance[col] + uniforms.eps))',
    finish: 'total',
    ...epsUniform,
  });
  // dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)), the means over all rows
  const code = `
fn main(index: i32) {
  if (index < uniforms.size) {
    ${COL}
    let rstd = inverseSqrt(Variance[col] + uniforms.eps);
    let xhat = (X[index] - Mean[col]) * rstd;
    let centred = (Dy[index] - Dbeta[col] / f32(uniforms.rows)) - xhat * (Dgamma[col] / f32(uniforms.rows));
    result[index] = centred * (Gamma[col] * rstd);
  }
}`;
  const dx = run(
    backend,
    elementwiseProgram('sslBatchNormGradDx', [n, c], ['Dy', 'X', 'Gamma', 'Mean', 'Variance', 'Dbeta', 'Dgamma'], code, 'cols : i32, rows : i32, eps : f32,'),
    [dy2, x2, gamma, mean, variance, dbeta, dgamma],
    [
      { type: 'int32', data: [c] },
      { type: 'int32', data: [n] },
      { type: 'float32', data: [eps] },
    ],
  );
  views.dispose();
  return [views.back(dx, x.shape), dgamma, dbeta];
}

export const batchNormConfigs: KernelConfig[] = [
  { kernelName: 'SslBatchNorm', backendName: 'webgpu', kernelFunc: batchNorm as unknown as KernelFunc },
  { kernelName: 'SslBatchNormGrad', backendName: 'webgpu', kernelFunc: batchNormGrad as unknown as KernelFunc },
];
