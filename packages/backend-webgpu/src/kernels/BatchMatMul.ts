import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, BatchMatMulInputs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { matMulKReduce, wouldUseSplitK } from './matmul_k_reduce.js';
import { withHalfOperands } from './half.js';
import { reshapeInfo, upstreamKernel } from './upstream.js';

/**
 * tfjs's BatchMatMul, except for the shapes where it would take its wrong split-K path; under
 * fp16 autocast on binary16-rounded operands.
 */
export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'webgpu',
  kernelFunc: ((args: { inputs: BatchMatMulInputs; backend: WebGPUBackend; attrs: BatchMatMulAttrs }) => {
    const { backend, attrs } = args;
    return withHalfOperands(backend, args.inputs.a as TensorInfo, args.inputs.b as TensorInfo, (a, b) => {
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || !wouldUseSplitK(backend, a, b, attrs.transposeA, attrs.transposeB)) {
        return upstreamKernel(BatchMatMul)({ ...args, inputs: { a, b } } as never) as TensorInfo;
      }
      const out = matMulKReduce(backend, a, b, attrs.transposeA, attrs.transposeB);
      const shape = [...a.shape.slice(0, -2), out.shape[1]!, out.shape[2]!];
      const reshaped = reshapeInfo(backend, out, shape);
      backend.disposeData(out.dataId);
      return reshaped;
    });
  }) as unknown as KernelFunc,
};
