import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The tfjs CPU backend with the same Float32Array storage, so every JS kernel works unchanged on
 * our tensors; the registration table swaps the hot kernels for C++ ones.
 */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // The CPU backend prints "install tfjs-node" on first use; this backend is the answer to that.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** The stored values of a tensor as float32, or undefined when they are anything else. */
  float32(t: TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32') return undefined;
    const v = this.data.get(t.dataId).values;
    return v instanceof Float32Array ? v : undefined;
  }
}
