// One AdamW step of one parameter (@ssl/tensor's adamwUpdate): the composite's float32 operations
// in its order, three passes (m, v, then the parameter from the new m and v).
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { elementwiseProgram, run } from '../program.js';
import { Views, float32Input, numberAttr, sameShape } from './shapes.js';

const K = 'SslAdamW';
const SCALARS = ['decay', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'sqrtBiasCorrection2', 'epsilon', 'stepSize'] as const;
const UNIFORMS = SCALARS.map((s) => `${s} : f32,`).join(' ');

function adamw({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo | undefined>; backend: WebGPUBackend; attrs: Record<string, unknown> }): TensorInfo[] {
  const param = float32Input(K, 'param', inputs.param);
  const grad = float32Input(K, 'grad', inputs.grad);
  const m = float32Input(K, 'm', inputs.m);
  const v = float32Input(K, 'v', inputs.v);
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
    if (!sameShape(t.shape, param.shape)) throw new Error(`${K}: ${name} must have the shape of param [${param.shape}], got [${t.shape}]`);
  }
  const uniforms = SCALARS.map((s) => ({ type: 'float32' as const, data: [numberAttr(K, attrs, s)] }));
  const size = param.shape.reduce((a, b) => a * b, 1);
  const views = new Views(backend);
  const [p, g, m0, v0] = [param, grad, m, v].map((t) => views.as(t, [size])) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  const body = (expr: string, vars: string) => `
fn main(index: i32) {
  if (index < uniforms.size) {
    ${vars}
    result[index] = ${expr};
  }
}`;
  const m1 = run(backend, elementwiseProgram('sslAdamWM', [size], ['M', 'G'], body('M[index] * uniforms.beta1 + G[index] * uniforms.oneMinusBeta1', ''), UNIFORMS), [m0, g], uniforms);
  const v1 = run(
    backend,
    elementwiseProgram('sslAdamWV', [size], ['V', 'G'], body('V[index] * uniforms.beta2 + (g * g) * uniforms.oneMinusBeta2', 'let g = G[index];'), UNIFORMS),
    [v0, g],
    uniforms,
  );
  const p1 = run(
    backend,
    elementwiseProgram(
      'sslAdamWP',
      [size],
      ['P', 'M1', 'V1'],
      body('P[index] * uniforms.decay - (M1[index] / denom) * uniforms.stepSize', 'let denom = sqrt(V1[index]) / uniforms.sqrtBiasCorrection2 + uniforms.epsilon;'),
      UNIFORMS,
    ),
    [p, m1, v1],
    uniforms,
  );
  views.dispose();
  return [views.back(p1, param.shape), views.back(m1, param.shape), views.back(v1, param.shape)];
}

export const adamwConfig: KernelConfig = { kernelName: K, backendName: 'webgpu', kernelFunc: adamw as unknown as KernelFunc };
