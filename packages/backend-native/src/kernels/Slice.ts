import {
  Concat,
  PadV2,
  Slice,
  SplitV,
  backend_util,
  slice_util,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend.js';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

const i32 = (a: readonly number[]) => Int32Array.from(a);
const zeros = (n: number) => new Array<number>(n).fill(0);

/** A copy of the box at `begin` of extent `size` from x: the core of Slice and SplitV. */
function sliceValues(backend: NativeBackend, x: TensorInfo, xv: Float32Array, begin: number[], size: number[]): TensorInfo {
  const out = outputArray(util.sizeFromShape(size));
  if (out.length > 0) binding().copyBox(xv, i32(x.shape), i32(begin), out, i32(size), i32(zeros(size.length)), i32(size));
  return backend.makeTensorInfo(size, 'float32', out);
}

export function slice(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const xv = backend.float32(x);
  if (!xv) return runCpu(Slice, args);
  const [begin, size] = slice_util.parseSliceParams(x, attrs!.begin as number | number[], attrs!.size as number | number[]) as [number[], number[]];
  slice_util.assertParamsValid(x, begin, size);
  return sliceValues(backend, x, xv, begin, size);
}

export function splitV(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const xv = backend.float32(x);
  if (!xv) return runCpu(SplitV, args) as unknown as TensorInfo[];
  const axis = util.parseAxisParam(attrs!.axis as number, x.shape)[0]!;
  const sizes = backend_util.prepareSplitSize(x, attrs!.numOrSizeSplits as number | number[], axis);
  const begin = zeros(x.shape.length);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const t = sliceValues(backend, x, xv, [...begin], size);
    begin[axis]! += s;
    return t;
  });
}

export function concat(args: NativeKernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const list = args.inputs as unknown as TensorInfo[];
  const values = list.map((t) => backend.float32(t));
  if (list.length === 0 || values.some((v) => !v)) return runCpu(Concat, args);
  const axis = util.parseAxisParam(attrs!.axis as number, list[0]!.shape)[0]!;
  const shapes = list.map((t) => t.shape);
  backend_util.assertParamsConsistent(shapes, axis);
  const outShape = backend_util.computeOutShape(shapes, axis);
  const out = outputArray(util.sizeFromShape(outShape));
  const at = zeros(outShape.length);
  list.forEach((t, i) => {
    if (util.sizeFromShape(t.shape) > 0) {
      binding().copyBox(values[i]!, i32(t.shape), i32(zeros(t.shape.length)), out, i32(outShape), i32(at), i32(t.shape));
    }
    at[axis]! += t.shape[axis]!;
  });
  return backend.makeTensorInfo(outShape, 'float32', out);
}

export function padV2(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const xv = backend.float32(x);
  if (!xv) return runCpu(PadV2, args);
  const paddings = attrs!.paddings as Array<[number, number]>;
  const outShape = x.shape.map((d, i) => paddings[i]![0] + d + paddings[i]![1]);
  const out = outputArray(util.sizeFromShape(outShape));
  const value = (attrs!.constantValue as number | undefined) ?? 0;
  binding().fill(out, value); // outputArray is uninitialised
  if (xv.length > 0) {
    binding().copyBox(xv, i32(x.shape), i32(zeros(x.shape.length)), out, i32(outShape), i32(paddings.map((p) => p[0])), i32(x.shape));
  }
  return backend.makeTensorInfo(outShape, 'float32', out);
}

const config = (kernelName: string, fn: (args: NativeKernelArgs) => TensorInfo | TensorInfo[]): KernelConfig => ({
  kernelName,
  backendName: 'native',
  kernelFunc: fn as unknown as KernelFunc,
});

export const sliceConfigs: KernelConfig[] = [config(Slice, slice), config(SplitV, splitV), config(Concat, concat), config(PadV2, padV2)];
