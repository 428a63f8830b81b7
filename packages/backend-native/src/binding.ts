import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How the matmul-shaped kernels (BatchMatMul, _FusedMatMul, Conv2D and its backprops) run their
 * GEMMs; codes of native/gemm.h. `bf16` rounds both inputs to bf16 (nearest even) and accumulates
 * and writes float32, as PyTorch's CPU autocast.
 */
export const GEMM_MODES = { blas: 0, onednnF32: 1, bf16: 2 } as const;
export type GemmMode = (typeof GEMM_MODES)[keyof typeof GEMM_MODES];

/**
 * The whole native surface, one typed interface: kernels call these and never touch the addon
 * otherwise. Shapes and permutations travel as Int32Array; outputs are preallocated by the caller.
 */
export interface NativeBinding {
  setThreads(blasThreads: number, poolThreads: number): void;
  info(): {
    blasConfig: string;
    blasThreads: number;
    poolThreads: number;
    /** built with oneDNN */
    onednn: boolean;
    onednnVersion: string;
    /** the ISA oneDNN dispatches to, e.g. 'avx512_core_bf16' ('' without oneDNN) */
    onednnIsa: string;
    /** bf16 GEMMs run here (oneDNN on AVX512-BF16 or AMX) */
    bf16: boolean;
    /** why bf16 is off ('' when on) */
    bf16Reason: string;
  };
  tuneAllocator(): boolean;
  /** Wall seconds spent in GEMMs since the addon loaded (bf16 conversion included). */
  gemmSeconds(): number;
  /** One core's float32 FMA and bf16 dot-product peaks, GFLOP/s (0 where not built in). */
  peakGflopsPerCore(): { fma: number; bf16Dot: number };
  batchMatMul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    aIndex: Int32Array,
    bIndex: Int32Array,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    mode: GemmMode,
    /** bf16 copies kept with a/b (NativeBackend.bf16Shadow), and whether each is filled yet */
    aBf16?: Uint16Array | null,
    aBf16Ready?: boolean,
    bBf16?: Uint16Array | null,
    bBf16Ready?: boolean,
    /** filled with a copy: its operand summed over all but the innermost axis (NativeBackend.columnSums) */
    aSums?: Float32Array | null,
    bSums?: Float32Array | null,
  ): void;
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number): void;
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  binary(
    op: number,
    a: Float32Array,
    aShape: Int32Array,
    b: Float32Array,
    bShape: Int32Array,
    out: Float32Array,
    outShape: Int32Array,
  ): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, reduce: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    out: Float32Array,
    geometry: Int32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    mode: GemmMode,
  ): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array, mode: GemmMode): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array, mode: GemmMode): void;
  /** out = x rounded to bf16 (nearest even), stored as float32 */
  roundBf16(x: Float32Array, out: Float32Array): void;
  copyBox(
    src: Float32Array,
    srcShape: Int32Array,
    srcBegin: Int32Array,
    dst: Float32Array,
    dstShape: Int32Array,
    dstBegin: Int32Array,
    size: Int32Array,
  ): void;
  fill(dst: Float32Array, value: number): void;
  layerNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    cols: number,
  ): void;
  gelu(x: Float32Array, y: Float32Array): void;
  /**
   * softmax(q scale k^T) v per batch-head; bf16: the products read bf16-rounded operands (float32
   * sums). geometry: batch, heads, n, d, q/k/v strides (batch, head, row) and bases, output
   * strides (native/kernels/Attention.cc); q, k, v may be one packed array.
   */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, geometry: Float64Array, scale: number, bf16: boolean): void;
  /** Its gradient; dq, dk, dv laid out as q, k, v (may be one packed array), dy as the output. */
  attentionGrad(
    dy: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    geometry: Float64Array,
    scale: number,
    bf16: boolean,
  ): void;
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  batchNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  batchNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** every parameter has `cols` values; x.length is a multiple of cols */
  fusedBatchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array,
    scale: Float32Array,
    out: Float32Array,
    cols: number,
    eps: number,
  ): void;
  /** geometry: [batch, inH, inW, C, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft] (NHWC) */
  maxPool(x: Float32Array, out: Float32Array, geometry: Int32Array): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** x and out: typed arrays of one element type; out has shape[i] * reps[i] along each dim */
  tile(x: Float32Array | Int32Array | Uint8Array, out: Float32Array | Int32Array | Uint8Array, shape: Int32Array, reps: Int32Array): void;
  /** scalars: [1 - lr wd, beta1, 1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2^t), eps, lr / (1 - beta1^t)] */
  adamw(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    pOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    scalars: Float32Array,
  ): void;
}

const INSTALL_HINT =
  'install g++, make, python3, pkg-config and libopenblas-dev (Debian/Ubuntu: apt-get install g++ make python3 pkg-config libopenblas-dev), then rebuild with `npm rebuild @ssl/backend-native` (pnpm: allow its build script, `pnpm approve-builds`; in this repository: `pnpm --filter @ssl/backend-native build`)';

// src/ and dist/ both sit one level below the package root.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(packageRoot, 'build', 'Release', 'ssl_native.node');

let loaded: { binding?: NativeBinding; reason: string } | undefined;

function buildFailure(): string | undefined {
  const statusFile = join(packageRoot, 'build', 'build-status.json');
  if (!existsSync(statusFile)) return undefined;
  try {
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as { ok: boolean; reason: string };
    return status.ok ? undefined : status.reason;
  } catch {
    return undefined;
  }
}

/** Loads the addon once; never throws. `reason` says what is missing when it did not load. */
export function loadBinding(): { binding?: NativeBinding; reason: string } {
  if (loaded) return loaded;
  if (!existsSync(addonPath)) {
    const why = buildFailure() ?? 'the C++ addon was not built';
    loaded = { reason: `${why} (no ${addonPath}); ${INSTALL_HINT}` };
    return loaded;
  }
  try {
    // oneDNN runs on OpenMP, whose idle threads would otherwise spin on the cores that OpenBLAS
    // and the element loops use next (libgomp reads this when the addon loads it).
    process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
    const require = createRequire(import.meta.url);
    const binding = require(addonPath) as NativeBinding;
    loaded = { binding, reason: binding.info().blasConfig };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    loaded = { reason: `the C++ addon does not load (${msg}); ${INSTALL_HINT}` };
  }
  return loaded;
}

/** The loaded addon; kernels only run after registration succeeded, so it is always there. */
export function binding(): NativeBinding {
  const b = loadBinding().binding;
  if (!b) throw new Error(`@ssl/backend-native is unavailable: ${loadBinding().reason}`);
  return b;
}
