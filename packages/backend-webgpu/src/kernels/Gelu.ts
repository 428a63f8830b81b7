// Exact GELU, x Phi(x), and its gradient. WGSL has no erf: Abramowitz & Stegun 7.1.26 with the
// constants of tfjs's Erf kernels (absolute error <= 1.5e-7), so this equals the composite's erf.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { elementwiseProgram, run } from '../program.js';
import { Views, float32Input, sameShape } from './shapes.js';

export const ERF_WGSL = `
fn erfApprox(x: f32) -> f32 {
  let v = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * v);
  let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return sign(x) * (1.0 - poly * exp(-v * v));
}`;

const SQRT1_2 = '0.7071067811865476';
const INV_SQRT_2PI = '0.3989422804014327';

interface Args {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WebGPUBackend;
}

function gelu({ inputs, backend }: Args): TensorInfo {
  const x = float32Input('SslGelu', 'x', inputs.x);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const views = new Views(backend);
  const code = `${ERF_WGSL}
fn main(index: i32) {
  if (index < uniforms.size) {
    let v = X[index];
    result[index] = v * 0.5 * (1.0 + erfApprox(v * ${SQRT1_2}));
  }
}`;
  const out = run(backend, elementwiseProgram('sslGelu', [size], ['X'], code), [views.as(x, [size])]);
  views.dispose();
  return views.back(out, x.shape);
}

function geluGrad({ inputs, backend }: Args): TensorInfo {
  const dy = float32Input('SslGeluGrad', 'dy', inputs.dy);
  const x = float32Input('SslGeluGrad', 'x', inputs.x);
  if (!sameShape(dy.shape, x.shape)) throw new Error(`SslGeluGrad: dy [${dy.shape}] must have the shape of x [${x.shape}]`);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const views = new Views(backend);
  // d/dx x Phi(x) = Phi(x) + x phi(x)
  const code = `${ERF_WGSL}
fn main(index: i32) {
  if (index < uniforms.size) {
    let v = X[index];
    let cdf = 0.5 * (1.0 + erfApprox(v * ${SQRT1_2}));
    let pdf = exp(-0.5 * v * v) * ${INV_SQRT_2PI};
    result[index] = Dy[index] * (cdf + v * pdf);
  }
}`;
  const out = run(backend, elementwiseProgram('sslGeluGrad', [size], ['Dy', 'X'], code), [views.as(dy, [size]), views.as(x, [size])]);
  views.dispose();
  return views.back(out, x.shape);
}

export const geluConfigs: KernelConfig[] = [
  { kernelName: 'SslGelu', backendName: 'webgpu', kernelFunc: gelu as unknown as KernelFunc },
  { kernelName: 'SslGeluGrad', backendName: 'webgpu', kernelFunc: geluGrad as unknown as KernelFunc },
];
