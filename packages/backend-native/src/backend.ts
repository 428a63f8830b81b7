import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendValues, DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { noteEscaped, noteRegistered, release } from './kernels/alloc.js';

/**
 * The tfjs CPU backend with the same Float32Array storage, so every JS kernel works unchanged on
 * our tensors; the registration table swaps the hot kernels for C++ ones. Output buffers of the
 * native kernels are recycled (kernels/alloc.ts); these overrides keep that safe.
 */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // The CPU backend prints "install tfjs-node" on first use; this backend is the answer to that.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    noteRegistered(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    noteRegistered(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    noteEscaped(values);
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const deleted = super.disposeData(dataId, force);
    if (deleted) release(values);
    return deleted;
  }

  /** The stored values of a tensor as float32, or undefined when they are anything else. */
  float32(t: TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32') return undefined;
    const v = this.data.get(t.dataId).values;
    return v instanceof Float32Array ? v : undefined;
  }
}
