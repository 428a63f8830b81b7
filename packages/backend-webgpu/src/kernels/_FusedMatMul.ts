import { _FusedMatMul } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { matMulKReduce, wouldUseSplitK } from './matmul_k_reduce.js';
import { withHalfOperands } from './half.js';
import { callKernel, reshapeInfo, upstreamKernel } from './upstream.js';

interface FusedMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: WebGPUBackend;
  attrs: { transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number };
}

/** Epilogue kernels by activation name (tfjs's `backend_util.Activation`). */
const ACTIVATION_KERNELS: Record<string, string> = { relu: 'Relu', relu6: 'Relu6', elu: 'Elu', sigmoid: 'Sigmoid', leakyrelu: 'LeakyRelu', prelu: 'Prelu' };

/**
 * tfjs's _FusedMatMul, except where it would split K: then our matmul, bias and activation
 * kernels. Under fp16 autocast the product reads binary16-rounded operands; bias and activation
 * stay float32.
 */
export const fusedMatMulConfig: KernelConfig = {
  kernelName: _FusedMatMul,
  backendName: 'webgpu',
  kernelFunc: ((args: FusedMatMulArgs) => {
    const { backend } = args;
    return withHalfOperands(backend, args.inputs.a, args.inputs.b, (a, b) => fusedMatMul({ ...args, inputs: { ...args.inputs, a, b } }));
  }) as unknown as KernelFunc,
};

function fusedMatMul(args: FusedMatMulArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b, bias, preluActivationWeights } = inputs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !wouldUseSplitK(backend, a, b, attrs.transposeA, attrs.transposeB)) {
    return upstreamKernel(_FusedMatMul)(args as never) as TensorInfo;
  }
  const product = matMulKReduce(backend, a, b, attrs.transposeA, attrs.transposeB);
  let out = reshapeInfo(backend, product, [...a.shape.slice(0, -2), product.shape[1]!, product.shape[2]!]);
  backend.disposeData(product.dataId);
  const step = (next: TensorInfo) => {
    backend.disposeData(out.dataId);
    out = next;
  };
  if (bias) step(callKernel('Add', backend, { a: out, b: bias }));
  const activation = attrs.activation;
  if (activation && activation !== 'linear') {
    const kernel = ACTIVATION_KERNELS[activation];
    if (!kernel) throw new Error(`_FusedMatMul: unknown activation '${activation}'`);
    if (kernel === 'Prelu') step(callKernel(kernel, backend, { x: out, alpha: preluActivationWeights! }));
    else if (kernel === 'LeakyRelu') step(callKernel(kernel, backend, { x: out }, { alpha: attrs.leakyreluAlpha ?? 0.2 }));
    else step(callKernel(kernel, backend, { x: out }));
  }
  return out;
}
