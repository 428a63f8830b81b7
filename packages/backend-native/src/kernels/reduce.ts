import {
  Max,
  Mean,
  Min,
  Prod,
  Sum,
  backend_util,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import { runCpu, type NativeKernelArgs } from './fallback.js';
import { transposeValues } from './Transpose.js';

// Op codes of native/kernels/Reduce.cc.
export const REDUCE_OPS: Record<string, number> = { [Sum]: 0, [Max]: 1, [Min]: 2, [Prod]: 3, [Mean]: 4 };

/**
 * Reduces float32 over any axes. Contiguous axes are reduced in place as [outer, reduce, inner];
 * scattered ones are first moved innermost by the native transpose.
 */
function reduceKernel(kernelName: string, op: number): KernelFunc {
  const fn = (args: NativeKernelArgs): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    let values = backend.float32(x);
    // Max names its axes `reductionIndices`; the others `axis`.
    const axisAttr = (attrs?.reductionIndices ?? attrs?.axis) as number | number[] | undefined;
    const axes = util.parseAxisParam(axisAttr ?? x.shape.map((_, i) => i), x.shape).sort((p, q) => p - q);
    const keepDims = Boolean(attrs?.keepDims);
    const reduceSize = axes.reduce((s, ax) => s * x.shape[ax]!, 1);
    // Empty reductions keep the JS kernel's conventions for their identity values.
    if (!values || reduceSize === 0) return runCpu(kernelName, args);
    const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    const finalShape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    // A bias gradient: the sum over all but the innermost axis may have come with a bf16 copy.
    const rank = x.shape.length;
    if (kernelName === Sum && rank >= 2 && axes.length === rank - 1 && axes.every((axis, i) => axis === i)) {
      const sums = backend.columnSums(x);
      if (sums) return backend.makeTensorInfo(finalShape, 'float32', Float32Array.from(sums));
    }
    let shape = x.shape;
    let first = axes[0] ?? 0;
    let last = axes[axes.length - 1] ?? -1;
    let moved: TensorInfo | undefined;
    if (axes.length > 0 && last - first + 1 !== axes.length) {
      const perm = backend_util.getAxesPermutation(axes, x.shape.length)!;
      moved = transposeValues(backend, x, values, perm);
      values = backend.float32(moved)!;
      shape = moved.shape;
      first = shape.length - axes.length;
      last = shape.length - 1;
    }
    const outer = util.sizeFromShape(shape.slice(0, first));
    const inner = util.sizeFromShape(shape.slice(last + 1));
    const out = outputArray(outer * inner);
    binding().reduce(op, values, out, outer, reduceSize, inner);
    if (moved) backend.disposeIntermediateTensorInfo(moved);
    return backend.makeTensorInfo(finalShape, 'float32', out);
  };
  return fn as unknown as KernelFunc;
}

export const reduceConfigs: KernelConfig[] = Object.entries(REDUCE_OPS).map(([kernelName, op]) => ({
  kernelName,
  backendName: 'native',
  kernelFunc: reduceKernel(kernelName, op),
}));
