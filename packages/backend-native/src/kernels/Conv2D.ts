import {
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  FusedConv2D,
  backend_util,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { ACTIVATIONS } from './_FusedMatMul.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

type ConvAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** The geometry the C++ side reads: 15 int32s, in native/kernels/Conv2D.cc's `Geom` order. */
function geometry(c: backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.filterHeight, c.filterWidth, c.outChannels,
    c.outHeight, c.outWidth, c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth,
    c.padInfo.top, c.padInfo.left,
  ]);
}

const isNHWC = (attrs: ConvAttrs) => (attrs.dataFormat ?? 'NHWC') === 'NHWC';

function convForward(args: NativeKernelArgs, kernelName: string): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvAttrs & { activation?: string; leakyreluAlpha?: number };
  const x = inputs.x!;
  const filter = inputs.filter!;
  const xv = backend.float32(x);
  const fv = backend.float32(filter);
  const code = ACTIVATIONS[attrs.activation ?? 'linear'];
  if (!xv || !fv || !isNHWC(attrs) || code === undefined) return runCpu(kernelName, args);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  let bias: Float32Array | null = null;
  if (inputs.bias) {
    const bv = backend.float32(inputs.bias);
    const n = util.sizeFromShape(inputs.bias.shape);
    if (!bv || inputs.bias.shape.length > 1 || (n !== info.outChannels && n !== 1)) return runCpu(kernelName, args);
    bias = n === info.outChannels ? bv : new Float32Array(info.outChannels).fill(bv[0]!);
  }
  const out = outputArray(util.sizeFromShape(info.outShape));
  binding().conv2d(xv, fv, out, geometry(info), bias, code, attrs.leakyreluAlpha ?? 0.2, backend.gemmMode);
  return backend.makeTensorInfo(info.outShape, 'float32', out);
}

export const conv2d = (args: NativeKernelArgs): TensorInfo => convForward(args, Conv2D);
export const fusedConv2d = (args: NativeKernelArgs): TensorInfo => convForward(args, FusedConv2D);

export function conv2dBackpropFilter(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const x = inputs.x!;
  const dy = inputs.dy!;
  const xv = backend.float32(x);
  const dyv = backend.float32(dy);
  if (!xv || !dyv || !isNHWC(attrs)) return runCpu(Conv2DBackpropFilter, args);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const out = outputArray(util.sizeFromShape(attrs.filterShape));
  binding().conv2dBackpropFilter(xv, dyv, out, geometry(info), backend.gemmMode);
  return backend.makeTensorInfo(attrs.filterShape, 'float32', out);
}

export function conv2dBackpropInput(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  const dyv = backend.float32(dy);
  const fv = backend.float32(filter);
  if (!dyv || !fv || !isNHWC(attrs)) return runCpu(Conv2DBackpropInput, args);
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const out = outputArray(util.sizeFromShape(attrs.inputShape));
  binding().conv2dBackpropInput(dyv, fv, out, geometry(info), backend.gemmMode);
  return backend.makeTensorInfo(attrs.inputShape, 'float32', out);
}

const config = (kernelName: string, fn: (args: NativeKernelArgs) => TensorInfo): KernelConfig => ({
  kernelName,
  backendName: 'native',
  kernelFunc: fn as unknown as KernelFunc,
});

export const conv2dConfigs: KernelConfig[] = [
  config(Conv2D, conv2d),
  config(FusedConv2D, fusedConv2d),
  config(Conv2DBackpropFilter, conv2dBackpropFilter),
  config(Conv2DBackpropInput, conv2dBackpropInput),
];
