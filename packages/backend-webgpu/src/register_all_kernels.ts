import type { KernelConfig } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './kernels/BatchMatMul.js';
import { fusedMatMulConfig } from './kernels/_FusedMatMul.js';
import { adamwConfig } from './kernels/AdamW.js';
import { attentionConfigs } from './kernels/Attention.js';
import { batchNormConfigs } from './kernels/BatchNorm.js';
import { geluConfigs } from './kernels/Gelu.js';
import { layerNormConfigs } from './kernels/LayerNorm.js';

/**
 * Our kernels on the webgpu backend: overrides of tfjs-backend-webgpu's (the rest stay its own)
 * and the fused Ssl* kernels that @ssl/tensor's layerNorm, gelu, batchNormTrain, attention and adamwUpdate
 * run when registered.
 */
export const WEBGPU_KERNELS: KernelConfig[] = [batchMatMulConfig, fusedMatMulConfig, ...layerNormConfigs, ...batchNormConfigs, ...geluConfigs, ...attentionConfigs, adamwConfig];

/** tfjs kernels our kernels call (kept before any override replaces them). */
export const UPSTREAM_KERNELS_USED = ['BatchMatMul', '_FusedMatMul', 'Reshape', 'Add', 'Relu', 'Relu6', 'Elu', 'Sigmoid', 'LeakyRelu', 'Prelu'];
