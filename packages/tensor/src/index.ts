import './gradients.js';
import * as tf from '@tensorflow/tfjs-core';

export { tf };
export type {
  DataType,
  NamedTensorMap,
  Rank,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  TensorLike,
  Variable,
} from '@tensorflow/tfjs-core';
export { BACKEND_ORDER, formatBackendReport, initBackend, resolveThreads } from './backend.js';
export type { BackendAttempt, BackendInfo, BackendName, InitBackendOptions } from './backend.js';
export { ATTENTION_KERNEL_LIMITS, FUSED_KERNELS, adamwScalars, adamwUpdate, attention, batchNormTrain, gelu, hasFusedKernel, layerNorm, selfAttention } from './fused.js';
export type { AdamWStep } from './fused.js';
export { PRECISIONS, autocast, bf16Support, currentPrecision, fp16Support, parsePrecision, resolvePrecision, setAutocastLogger } from './autocast.js';
export type { Precision } from './autocast.js';
export { Rng } from './rng.js';
export type { RngSeed, RngState } from './rng.js';
export { linspace } from './linspace.js';
export { stopGradient, withoutGradient } from './no-grad.js';
export { variableGrads } from './variable-grads.js';
