import type { KernelConfig } from '@tensorflow/tfjs-core';
import { adamwConfig } from './kernels/AdamW.js';
import { batchNormConfigs } from './kernels/BatchNorm.js';
import { batchMatMulConfig } from './kernels/BatchMatMul.js';
import { fusedMatMulConfig } from './kernels/_FusedMatMul.js';
import { binaryConfigs } from './kernels/binary.js';
import { conv2dConfigs } from './kernels/Conv2D.js';
import { geluConfigs } from './kernels/Gelu.js';
import { attentionConfigs } from './kernels/Attention.js';
import { layerNormConfigs } from './kernels/LayerNorm.js';
import { packConfigs } from './kernels/Pack.js';
import { poolConfigs } from './kernels/Pool.js';
import { reduceConfigs } from './kernels/reduce.js';
import { sliceConfigs } from './kernels/Slice.js';
import { softmaxConfig } from './kernels/Softmax.js';
import { tileConfig } from './kernels/Tile.js';
import { transposeConfig } from './kernels/Transpose.js';
import { fillLikeConfigs, unaryConfigs } from './kernels/unary.js';

/**
 * Every kernel the C++ addon provides: overrides of tfjs kernels (all other tfjs kernels are the
 * JS cpu ones) and the fused Ssl* kernels (@ssl/tensor's layerNorm, gelu, attention and
 * adamwUpdate run them when registered, else a composite of tfjs ops).
 */
export const NATIVE_KERNELS: KernelConfig[] = [
  batchMatMulConfig,
  fusedMatMulConfig,
  transposeConfig,
  softmaxConfig,
  ...binaryConfigs,
  ...unaryConfigs,
  ...fillLikeConfigs,
  ...reduceConfigs,
  ...conv2dConfigs,
  ...sliceConfigs,
  ...packConfigs,
  ...layerNormConfigs,
  ...batchNormConfigs,
  ...poolConfigs,
  tileConfig,
  ...geluConfigs,
  ...attentionConfigs,
  adamwConfig,
];
