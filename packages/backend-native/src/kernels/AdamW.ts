import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import type { NativeKernelArgs } from './fallback.js';
import { f32Input, sameShape } from './fused_util.js';

/**
 * One AdamW step of one parameter: inputs {param, grad, m, v}; outputs [param, m, v]. Attrs are
 * the step's scalars, rounded to float32 as tfjs scalars are: decay (1 - lr wd), beta1,
 * oneMinusBeta1, beta2, oneMinusBeta2, sqrtBiasCorrection2 (sqrt(1 - beta2^t)), epsilon, stepSize
 * (lr / (1 - beta1^t)).
 */
export const SSL_ADAMW = 'SslAdamW';

const SCALARS = ['decay', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'sqrtBiasCorrection2', 'epsilon', 'stepSize'] as const;

function adamw(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const k = SSL_ADAMW;
  const param = inputs.param!;
  const pv = f32Input(backend, k, 'param', param);
  const gv = f32Input(backend, k, 'grad', inputs.grad);
  const mv = f32Input(backend, k, 'm', inputs.m);
  const vv = f32Input(backend, k, 'v', inputs.v);
  for (const [name, t] of [['grad', inputs.grad!], ['m', inputs.m!], ['v', inputs.v!]] as const) {
    if (!sameShape(t.shape, param.shape)) throw new Error(`${k}: ${name} must have the shape of param [${param.shape}], got [${t.shape}]`);
  }
  const scalars = new Float32Array(SCALARS.length);
  SCALARS.forEach((name, i) => {
    const value = attrs?.[name];
    if (typeof value !== 'number') throw new Error(`${k}: attr '${name}' must be a number, got ${String(value)}`);
    scalars[i] = value;
  });
  const po = outputArray(pv.length);
  const mo = outputArray(pv.length);
  const vo = outputArray(pv.length);
  binding().adamw(pv, gv, mv, vv, po, mo, vo, scalars);
  return [
    backend.makeTensorInfo(param.shape, 'float32', po),
    backend.makeTensorInfo(param.shape, 'float32', mo),
    backend.makeTensorInfo(param.shape, 'float32', vo),
  ];
}

export const adamwConfig: KernelConfig = { kernelName: SSL_ADAMW, backendName: 'native', kernelFunc: adamw as unknown as KernelFunc };
