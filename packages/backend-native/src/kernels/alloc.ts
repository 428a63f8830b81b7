/**
 * Output buffers for the native kernels, recycled through a free list.
 *
 * The CPU backend frees a tensor's memory only when V8 collects its ArrayBuffer. A train step
 * allocates gigabytes of short-lived outputs, so without reuse V8 runs a full GC on "external
 * memory pressure" hundreds of times per step and the kernel loops page-fault on fresh memory
 * (measured on the ViT bench step: ~17% of the time in GC, ~1.8 s/step of system time with 2 threads).
 *
 * A buffer is recycled only while exactly one tensor owns it and nothing outside the backend can
 * see it: `NativeBackend` marks a fresh buffer owned when a kernel registers it as an output,
 * forgets ownership when the buffer escapes (`dataSync`/`data`, or another tensor viewing the
 * same memory), and returns owned buffers here when their tensor is disposed.
 */

import { totalmem } from 'node:os';

const MIN_POOLED = 4096; // elements; below this the ordinary zero-filled path is cheaper

const freeLists = new Map<number, Float32Array[]>();
let pooledBytes = 0;
let capBytes = readCap();
/** Allocated here, not yet registered as a tensor's values. */
const fresh = new WeakSet<ArrayBuffer>();
/** The values of exactly one live tensor, invisible outside the backend: may be recycled on dispose. */
const owned = new WeakSet<ArrayBuffer>();
const stats = { allocated: 0, reused: 0 };

function readCap(): number {
  const env = process.env.SSL_NATIVE_POOL_MB;
  // A train step's intermediates live until its tidy scope ends, so the pool must hold about one
  // step's peak to help; a third of the RAM covers that without hoarding the machine.
  if (env === undefined || env === '') return Math.floor(totalmem() / 3);
  const mb = Number(env);
  if (!Number.isFinite(mb) || mb < 0) throw new Error(`SSL_NATIVE_POOL_MB='${env}' must be a non-negative number of MiB`);
  return mb * 2 ** 20;
}

/**
 * An output array for a kernel that writes every element: uninitialised (recycled or
 * `allocUnsafeSlow`) memory, so large outputs skip the zero fill of `new Float32Array(n)`.
 */
export function outputArray(n: number): Float32Array {
  if (n < MIN_POOLED) return new Float32Array(n);
  const reused = freeLists.get(n)?.pop();
  let out: Float32Array;
  if (reused) {
    pooledBytes -= n * 4;
    stats.reused++;
    out = reused;
  } else {
    stats.allocated++;
    out = new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
  }
  fresh.add(out.buffer as ArrayBuffer);
  return out;
}

const wholeBuffer = (v: Float32Array) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;

/** A buffer the backend keeps for itself (never seen outside it): recycled by `release`. */
export function privateArray(n: number): Float32Array {
  const out = outputArray(n);
  const buffer = out.buffer as ArrayBuffer;
  fresh.delete(buffer);
  if (wholeBuffer(out)) owned.add(buffer);
  return out;
}

/** Whether `values` is a whole buffer that exactly one live tensor holds and nobody outside the backend has seen. */
export function isOwned(values: Float32Array): boolean {
  return owned.has(values.buffer as ArrayBuffer);
}

/** A tensor now holds `values`: a fresh buffer becomes owned; a second holder of an owned buffer ends its ownership. */
export function noteRegistered(values: unknown): void {
  if (!(values instanceof Float32Array)) return;
  const buffer = values.buffer as ArrayBuffer;
  if (fresh.has(buffer)) {
    fresh.delete(buffer);
    if (wholeBuffer(values)) owned.add(buffer);
  } else if (owned.has(buffer)) {
    owned.delete(buffer);
  }
}

/** `values` left the backend (read by a caller): never recycle it. */
export function noteEscaped(values: unknown): void {
  if (values instanceof Float32Array) owned.delete(values.buffer as ArrayBuffer);
}

/** The tensor holding `values` is gone: keep its buffer for the next output of the same size. */
export function release(values: unknown): void {
  if (!(values instanceof Float32Array)) return;
  const buffer = values.buffer as ArrayBuffer;
  if (!owned.has(buffer)) return;
  owned.delete(buffer);
  const bytes = values.byteLength;
  if (pooledBytes + bytes > capBytes) return; // over the cap: V8 collects it as before
  let list = freeLists.get(values.length);
  if (!list) freeLists.set(values.length, (list = []));
  list.push(values);
  pooledBytes += bytes;
}

/** Pool counters, for tests and benchmarks. */
export function bufferPoolStats(): { pooledBytes: number; capBytes: number; allocated: number; reused: number } {
  return { pooledBytes, capBytes, ...stats };
}

/** Drops every pooled buffer and sets the cap (bytes); `undefined` keeps the current cap. */
export function resetBufferPool(cap?: number): void {
  freeLists.clear();
  pooledBytes = 0;
  if (cap !== undefined) capBytes = cap;
}
