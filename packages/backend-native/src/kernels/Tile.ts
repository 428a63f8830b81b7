import { Tile, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';

function tile(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x!;
  const reps = attrs?.reps as number[] | undefined;
  const rank = x.shape.length;
  if (!Array.isArray(reps) || reps.length !== rank || reps.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new Error(`Tile: reps must be ${rank} non-negative integers (one per dim of x [${x.shape}]), got ${JSON.stringify(reps)}`);
  }
  const values = backend.data.get(x.dataId).values;
  // float32, int32 and bool (Uint8Array) are plain typed arrays; strings, complex and scalars go to the JS kernel.
  const typed = values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array;
  if (!typed || rank === 0 || x.dtype === 'complex64' || x.dtype === 'string') return runCpu(Tile, args);
  const shape = x.shape.map((d, i) => d * reps[i]!);
  const n = util.sizeFromShape(shape);
  const out = values instanceof Float32Array ? outputArray(n) : values instanceof Int32Array ? new Int32Array(n) : new Uint8Array(n);
  if (n > 0) binding().tile(values, out, Int32Array.from(x.shape), Int32Array.from(reps));
  return backend.makeTensorInfo(shape, x.dtype, out);
}

export const tileConfig: KernelConfig = { kernelName: Tile, backendName: 'native', kernelFunc: tile as unknown as KernelFunc };
