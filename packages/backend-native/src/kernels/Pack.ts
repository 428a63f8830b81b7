import { Pack, Unpack, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

const i32 = (a: readonly number[]) => Int32Array.from(a);

/** Stack: each input becomes one index of a new axis, a box copy per input. */
export function pack(args: NativeKernelArgs): TensorInfo {
  const { backend, attrs } = args;
  const list = args.inputs as unknown as TensorInfo[];
  const values = list.map((t) => backend.float32(t));
  if (list.length === 0 || values.some((v) => !v)) return runCpu(Pack, args);
  const shape = list[0]!.shape;
  list.forEach((t) => util.assertShapesMatch(shape, t.shape, 'All tensors passed to stack must have matching shapes'));
  let axis = (attrs?.axis as number | undefined) ?? 0;
  if (axis < 0) axis += shape.length + 1;
  const inShape = [...shape.slice(0, axis), 1, ...shape.slice(axis)]; // each input with the new axis
  const outShape = [...shape.slice(0, axis), list.length, ...shape.slice(axis)];
  const out = outputArray(util.sizeFromShape(outShape));
  const zeros = new Array<number>(inShape.length).fill(0);
  if (out.length > 0) {
    values.forEach((v, i) => {
      const at = [...zeros];
      at[axis] = i;
      binding().copyBox(v!, i32(inShape), i32(zeros), out, i32(outShape), i32(at), i32(inShape));
    });
  }
  return backend.makeTensorInfo(outShape, 'float32', out);
}

/** Unstack: one output per index of `axis`, that axis dropped. */
export function unpack(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.value!;
  const xv = backend.float32(x);
  if (!xv) return runCpu(Unpack, args) as unknown as TensorInfo[];
  let axis = (attrs?.axis as number | undefined) ?? 0;
  if (axis < 0) axis += x.shape.length;
  const n = x.shape[axis]!;
  const size = [...x.shape];
  size[axis] = 1;
  const outShape = x.shape.filter((_, i) => i !== axis);
  const zeros = new Array<number>(size.length).fill(0);
  const outs: TensorInfo[] = [];
  for (let i = 0; i < n; i++) {
    const out = outputArray(util.sizeFromShape(outShape));
    const begin = [...zeros];
    begin[axis] = i;
    if (out.length > 0) binding().copyBox(xv, i32(x.shape), i32(begin), out, i32(size), i32(zeros), i32(size));
    outs.push(backend.makeTensorInfo(outShape, 'float32', out));
  }
  return outs;
}

const config = (kernelName: string, fn: (args: NativeKernelArgs) => TensorInfo | TensorInfo[]): KernelConfig => ({
  kernelName,
  backendName: 'native',
  kernelFunc: fn as unknown as KernelFunc,
});

export const packConfigs: KernelConfig[] = [config(Pack, pack), config(Unpack, unpack)];
