import type { KernelConfig } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './kernels/BatchMatMul.js';
import { fusedMatMulConfig } from './kernels/_FusedMatMul.js';
import { binaryConfigs } from './kernels/binary.js';
import { conv2dConfigs } from './kernels/Conv2D.js';
import { packConfigs } from './kernels/Pack.js';
import { reduceConfigs } from './kernels/reduce.js';
import { sliceConfigs } from './kernels/Slice.js';
import { softmaxConfig } from './kernels/Softmax.js';
import { transposeConfig } from './kernels/Transpose.js';
import { unaryConfigs } from './kernels/unary.js';

/** Every kernel the C++ addon overrides; all other kernels are the JS cpu ones. */
export const NATIVE_KERNELS: KernelConfig[] = [
  batchMatMulConfig,
  fusedMatMulConfig,
  transposeConfig,
  softmaxConfig,
  ...binaryConfigs,
  ...unaryConfigs,
  ...reduceConfigs,
  ...conv2dConfigs,
  ...sliceConfigs,
  ...packConfigs,
];
