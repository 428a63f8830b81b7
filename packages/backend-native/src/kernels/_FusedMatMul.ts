import { _FusedMatMul, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { planMatMul, runMatMul } from './BatchMatMul.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

// Activation codes of native/kernels/BatchMatMul.cc; prelu goes through the JS kernel.
export const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5 };

/** A bias the GEMM can add itself: one value per output column, or a single value. */
function columnBias(bias: TensorInfo, values: Float32Array, n: number): Float32Array | undefined {
  const size = util.sizeFromShape(bias.shape);
  const leading = bias.shape.slice(0, -1).every((d) => d === 1);
  if (size === n && leading && (bias.shape.length === 0 || bias.shape[bias.shape.length - 1] === n)) return values;
  if (size === 1) return new Float32Array(n).fill(values[0]!);
  return undefined;
}

export function fusedMatMul(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a!;
  const b = inputs.b!;
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  const activation = (attrs?.activation as string | undefined) ?? 'linear';
  const alpha = (attrs?.leakyreluAlpha as number | undefined) ?? 0.2;
  const aVals = backend.float32(a);
  const bVals = backend.float32(b);
  const code = ACTIVATIONS[activation];
  if (!aVals || !bVals || code === undefined) return runCpu(_FusedMatMul, args);
  const plan = planMatMul(a, b, transposeA, transposeB);
  let bias: Float32Array | null = null;
  if (inputs.bias) {
    const biasVals = backend.float32(inputs.bias);
    const col = biasVals && plan.outShape.length >= inputs.bias.shape.length ? columnBias(inputs.bias, biasVals, plan.n) : undefined;
    if (!col) return runCpu(_FusedMatMul, args);
    bias = col;
  }
  return runMatMul(backend, a, aVals, b, bVals, plan, transposeA, transposeB, bias, code, alpha);
}

export const fusedMatMulConfig: KernelConfig = {
  kernelName: _FusedMatMul,
  backendName: 'native',
  kernelFunc: fusedMatMul as unknown as KernelFunc,
};
