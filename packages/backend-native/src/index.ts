import * as tf from '@tensorflow/tfjs-core';
// Registers the JS cpu kernels, which this backend reuses for everything it does not override.
import '@tensorflow/tfjs-backend-cpu';
import { availableParallelism } from 'node:os';
import { NativeBackend, float32GemmMode } from './backend.js';
import { GEMM_MODES, binding, loadBinding } from './binding.js';
import { NATIVE_KERNELS } from './register_all_kernels.js';

export { NativeBackend, bf16Support, float32GemmMode } from './backend.js';
export type { AutocastPrecision } from './backend.js';
export { GEMM_MODES } from './binding.js';
export type { GemmMode } from './binding.js';
export { NATIVE_KERNELS } from './register_all_kernels.js';
export { bufferPoolStats } from './kernels/alloc.js';

export const BACKEND_NAME = 'native';

export interface NativeBackendOptions {
  /** Threads for OpenBLAS and the element loops; default `SSL_THREADS`, else the core count. */
  threads?: number;
}

let registered = false;
let currentThreads = 0;

function resolveThreads(threads: number | undefined): number {
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
    return threads;
  }
  const env = process.env.SSL_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`SSL_THREADS='${env}' must be a positive integer`);
    return n;
  }
  return availableParallelism();
}

export interface NativeBackendStatus {
  available: boolean;
  /** OpenBLAS, oneDNN's ISA, bf16 and threads; or what to install when unavailable. */
  reason: string;
  /** The ISA oneDNN dispatches to ('avx512_core_bf16', 'avx512_core_amx', ...); '' without oneDNN. */
  isa: string;
  /** Whether `autocast('bf16', ...)` runs bf16 GEMMs here. */
  bf16: boolean;
  /** Why bf16 is off ('' when on). */
  bf16Reason: string;
}

/** Whether the compiled addon loads; `reason` names OpenBLAS, oneDNN's ISA, bf16 and threads, or what to install. */
export function nativeBackendStatus(): NativeBackendStatus {
  const { binding: b, reason } = loadBinding();
  if (!b) return { available: false, reason, isa: '', bf16: false, bf16Reason: reason };
  const info = b.info();
  const float32 = float32GemmMode() === GEMM_MODES.onednnF32 ? 'float32 GEMMs on oneDNN' : 'float32 GEMMs on OpenBLAS';
  const onednn = info.onednn ? `oneDNN ${info.onednnVersion} on ${info.onednnIsa}, bf16 ${info.bf16 ? 'on' : 'off'}, ${float32}` : 'no oneDNN: float32 only';
  const base = { isa: info.onednnIsa, bf16: info.bf16, bf16Reason: info.bf16Reason };
  let threads = currentThreads;
  if (!registered) {
    try {
      threads = resolveThreads(undefined);
    } catch (err) {
      return { available: false, reason: (err as Error).message, ...base };
    }
  }
  return { available: true, reason: `${reason}; ${onednn}; ${threads} thread(s)`, ...base };
}

/** Sets the threads used by OpenBLAS and by the element loops. */
export function setNativeThreads(threads: number): void {
  const n = resolveThreads(threads);
  binding().setThreads(n, n);
  currentThreads = n;
}

/**
 * Registers the tfjs backend 'native': every cpu kernel under the new name, then the C++
 * overrides. Idempotent; a second call only updates the thread count. Throws when unavailable.
 * On glibc it also keeps large buffers on the malloc heap (`SSL_NATIVE_MALLOC_TUNING=0` opts out).
 */
export function registerNativeBackend(options: NativeBackendOptions = {}): void {
  const status = nativeBackendStatus();
  if (!status.available) throw new Error(`@ssl/backend-native is unavailable: ${status.reason}`);
  setNativeThreads(resolveThreads(options.threads));
  if (registered) return;
  // Keeps large tensor buffers on the malloc heap instead of fresh mmaps (see native/addon.cc).
  if (process.env.SSL_NATIVE_MALLOC_TUNING !== '0') binding().tuneAllocator();
  if (!tf.findBackendFactory(BACKEND_NAME)) {
    // Priority 0: never picked implicitly; @ssl/tensor's initBackend chooses it explicitly.
    tf.registerBackend(BACKEND_NAME, () => new NativeBackend(), 0);
  }
  const overridden = new Set(NATIVE_KERNELS.map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (overridden.has(k.kernelName) || tf.getKernel(k.kernelName, BACKEND_NAME)) continue;
    tf.registerKernel({ ...k, backendName: BACKEND_NAME });
  }
  for (const k of NATIVE_KERNELS) {
    if (!tf.getKernel(k.kernelName, BACKEND_NAME)) tf.registerKernel(k);
  }
  registered = true;
}

/** Wall seconds this process has spent in the native GEMMs (bf16 conversion included): what a benchmark's step owes to its GEMMs. */
export function nativeGemmSeconds(): number {
  return binding().gemmSeconds();
}

/**
 * One core's arithmetic peak in GFLOP/s on register-only loops: float32 FMA and the bf16 dot
 * product (AVX512-BF16), 0 where the addon was built without the instruction. bf16 / fma bounds
 * the speed-up bf16 can give a GEMM that already runs near the float32 peak.
 */
export function peakGflopsPerCore(): { fma: number; bf16Dot: number } {
  return binding().peakGflopsPerCore();
}

/** Row-major C = A @ B straight through OpenBLAS: the reference the benchmarks compare with. */
export function directSgemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number): void {
  if (a.length < m * k || b.length < k * n || c.length < m * n) {
    throw new Error(`directSgemm: arrays too small for m=${m}, n=${n}, k=${k}`);
  }
  binding().sgemm(a, b, c, m, n, k);
}
