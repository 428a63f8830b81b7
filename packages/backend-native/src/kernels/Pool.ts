import { MaxPool, MaxPoolGrad, backend_util, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

/**
 * The pooling geometry as the JS kernels compute it (`computePool2DInfo`, NHWC, dilation 1):
 * [batch, inH, inW, C, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft].
 */
function poolGeometry(x: TensorInfo, attrs: NativeKernelArgs['attrs']): { info: backend_util.Conv2DInfo; geometry: Int32Array } {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const geometry = Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
  return { info, geometry };
}

function maxPool(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const xv = backend.float32(x);
  // Non-float32 and non-4D inputs get the JS kernel (and its checks and messages).
  if (!xv || x.shape.length !== 4) return runCpu(MaxPool, args);
  const { info, geometry } = poolGeometry(x, attrs);
  // A 1x1 window that keeps the shape is the identity: the JS kernel shares x's memory.
  if (info.filterHeight === 1 && info.filterWidth === 1 && util.arraysEqual(info.inShape, info.outShape)) return runCpu(MaxPool, args);
  const out = outputArray(util.sizeFromShape(info.outShape));
  if (out.length > 0) binding().maxPool(xv, out, geometry);
  return backend.makeTensorInfo(info.outShape, 'float32', out);
}

function maxPoolGrad(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input: x } = inputs;
  const xv = x && backend.float32(x);
  const dyv = dy && backend.float32(dy);
  if (!xv || !dyv || x!.shape.length !== 4) return runCpu(MaxPoolGrad, args);
  const { info, geometry } = poolGeometry(x!, attrs);
  // tfjs's MaxPool gradient drops dimRoundingMode, so with a rounding mode dy can have another
  // shape than the one computed here; the JS kernel's answer for that is kept.
  if (!util.arraysEqual(dy!.shape, info.outShape)) return runCpu(MaxPoolGrad, args);
  const dx = outputArray(xv.length);
  if (dx.length > 0) binding().maxPoolGrad(dyv, xv, dx, geometry);
  return backend.makeTensorInfo(x!.shape, 'float32', dx);
}

export const poolConfigs: KernelConfig[] = [
  { kernelName: MaxPool, backendName: 'native', kernelFunc: maxPool as unknown as KernelFunc },
  { kernelName: MaxPoolGrad, backendName: 'native', kernelFunc: maxPoolGrad as unknown as KernelFunc },
];
