import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendValues, DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { GEMM_MODES, binding, type GemmMode } from './binding.js';
import { isOwned, noteEscaped, noteRegistered, privateArray, release } from './kernels/alloc.js';

/** Precisions of `@ssl/tensor`'s `autocast`: what the matmul-shaped kernels take as inputs. */
export type AutocastPrecision = 'bf16' | 'fp32';

/** Whether bf16 GEMMs run here, and why not: oneDNN missing, or no AVX512-BF16/AMX. */
export function bf16Support(): { bf16: boolean; reason: string } {
  const info = binding().info();
  return info.bf16
    ? { bf16: true, reason: `oneDNN ${info.onednnVersion} on ${info.onednnIsa}` }
    : { bf16: false, reason: info.bf16Reason };
}

let hasOnednn: boolean | undefined;

/**
 * The float32 GEMM: oneDNN's where the addon has it (faster than OpenBLAS at every ViT and
 * attention shape of the bench, and its threads are the element kernels' threads), else OpenBLAS.
 * SSL_FLOAT32_GEMM=openblas keeps OpenBLAS.
 */
export function float32GemmMode(): GemmMode {
  const choice = process.env.SSL_FLOAT32_GEMM;
  if (choice !== undefined && choice !== 'openblas' && choice !== 'onednn') {
    throw new Error(`SSL_FLOAT32_GEMM must be 'openblas' or 'onednn', got '${choice}'`);
  }
  if (choice === 'openblas') return GEMM_MODES.blas;
  hasOnednn ??= binding().info().onednn;
  return hasOnednn ? GEMM_MODES.onednnF32 : GEMM_MODES.blas;
}

// Below this many elements a GEMM input is converted to bf16 per call: cheaper than keeping a copy.
const MIN_BF16_SHADOW = 16384;
// Widest innermost axis whose sums a bf16 copy carries (a layer's output features).
const MAX_SUMS_WIDTH = 16384;

/**
 * A tensor's bf16 copy. `sums` (its values summed over all but the innermost axis) are filled with
 * the copy: every GEMM that fills a copy passes its sums (runMatMul), so they are valid once `ready`.
 */
interface Bf16Shadow {
  storage: Float32Array;
  values: Uint16Array;
  ready: boolean;
  sums: Float32Array | undefined;
}

/**
 * The tfjs CPU backend with the same Float32Array storage, so every JS kernel works unchanged on
 * our tensors; the registration table swaps the hot kernels for C++ ones. Output buffers of the
 * native kernels are recycled (kernels/alloc.ts); these overrides keep that safe.
 */
export class NativeBackend extends MathBackendCPU {
  /** How BatchMatMul, _FusedMatMul and the convolutions run their GEMMs now (bf16 under autocast). */
  gemmMode: GemmMode = float32GemmMode();

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
    this.dropBf16Shadow(dataId); // the caller may now write into the values
    return values;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const deleted = super.disposeData(dataId, force);
    if (deleted) {
      release(values);
      this.dropBf16Shadow(dataId);
    }
    return deleted;
  }

  /**
   * The bf16 copy of a GEMM input kept while its tensor lives, so the backward pass, which feeds
   * every forward input and every incoming gradient to two GEMMs, converts each once instead of
   * twice (PyTorch's autocast keeps the bf16 copy of a linear's input for its backward likewise).
   * Only for large tensors whose values no one outside the backend has seen: those cannot change.
   * `ready` is false until the first GEMM has filled it. Costs half the tensor's bytes while it lives.
   * The fill also sums the values over all but the innermost axis (`columnSums`).
   */
  bf16Shadow(t: TensorInfo, values: Float32Array): Bf16Shadow | undefined {
    if (values.length < MIN_BF16_SHADOW || !isOwned(values)) return undefined;
    let shadow = this.shadows.get(t.dataId);
    if (shadow === undefined) {
      const storage = privateArray(Math.ceil(values.length / 2));
      const width = t.shape[t.shape.length - 1] ?? 0;
      const sums = t.shape.length >= 2 && width > 0 && width <= MAX_SUMS_WIDTH ? new Float32Array(width) : undefined;
      shadow = { storage, values: new Uint16Array(storage.buffer, 0, values.length), ready: false, sums };
      this.shadows.set(t.dataId, shadow);
    }
    return shadow;
  }

  /**
   * `t` summed over all but its innermost axis, where a bf16 GEMM has already computed that while
   * converting it: under autocast a linear layer's incoming gradient feeds two GEMMs and then its
   * bias gradient, this sum, which then costs no pass of its own. Else undefined.
   */
  columnSums(t: TensorInfo): Float32Array | undefined {
    const shadow = this.shadows.get(t.dataId);
    if (!shadow?.ready || shadow.sums === undefined) return undefined;
    return shadow.sums.length === t.shape[t.shape.length - 1] ? shadow.sums : undefined;
  }

  private readonly shadows = new Map<DataId, Bf16Shadow>();

  /** How many bf16 copies are held now (each freed with its tensor): for tests. */
  liveBf16Shadows(): number {
    return this.shadows.size;
  }

  private dropBf16Shadow(dataId: DataId): void {
    const shadow = this.shadows.get(dataId);
    if (shadow === undefined) return;
    this.shadows.delete(dataId);
    release(shadow.storage);
  }

  /** The autocast hook `@ssl/tensor` looks for on the active backend. */
  autocastSupport(): { bf16: boolean; reason: string } {
    return bf16Support();
  }

  /**
   * Switches the matmul-shaped kernels (and their gradients, which are the same kernels) to bf16
   * inputs with float32 accumulation, or back to float32. Returns the previous precision so scopes
   * nest. Every tensor stays float32: only the GEMMs' inputs are rounded.
   */
  currentAutocast(): AutocastPrecision {
    return this.gemmMode === GEMM_MODES.bf16 ? 'bf16' : 'fp32';
  }

  setAutocast(precision: AutocastPrecision): AutocastPrecision {
    const previous = this.currentAutocast();
    if (precision === 'bf16') {
      const support = bf16Support();
      if (!support.bf16) throw new Error(`bf16 autocast is not available on the native backend: ${support.reason}`);
      this.gemmMode = GEMM_MODES.bf16;
    } else if (precision === 'fp32') {
      this.gemmMode = float32GemmMode();
    } else {
      throw new Error(`autocast precision must be 'bf16' or 'fp32', got '${String(precision)}'`);
    }
    return previous;
  }

  /**
   * The stored values of a float32 tensor as a Float32Array, or undefined for other dtypes. The JS
   * Cast kernel turns int32 and bool into float32 without a copy (no value changes), so a float32
   * tensor may hold an Int32Array or Uint8Array; those are converted here (exactly: the cast is
   * lossless) instead of sending every op on them, often the scalars of `tf.pow(x, 2)`, to JS.
   */
  float32(t: TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32') return undefined;
    const v = this.data.get(t.dataId).values;
    if (v instanceof Float32Array) return v;
    if (v instanceof Int32Array || v instanceof Uint8Array) return Float32Array.from(v);
    return undefined;
  }
}
