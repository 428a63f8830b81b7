import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients; the tests need them (as @ssl/tensor does).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { expect } from 'vitest';
import { binding, type NativeBinding } from './binding.js';
import { registerNativeBackend } from './index.js';

registerNativeBackend({ threads: 2 });

/** Deterministic values in [-2, 2) (an LCG), so failures reproduce. */
export function randomValues(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** float32 -> nearest bf16 (ties to even), NaN kept, as float32: the reference rounding. */
export function roundBf16(values: Float32Array): Float32Array {
  const out = new Float32Array(values);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    if ((u & 0x7fffffff) > 0x7f800000) {
      bits[i] = (u | 0x00400000) & 0xffff0000;
      continue;
    }
    bits[i] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 0) & 0xffff0000;
  }
  return out;
}

export function rand(shape: number[], seed = 1): tf.Tensor {
  return tf.tensor(randomValues(tf.util.sizeFromShape(shape), seed), shape);
}

type Result = tf.Tensor | tf.Tensor[];

/** Runs `f` under a backend and returns shapes, dtypes and values of its outputs. */
function runOn(backend: string, f: () => Result) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const r = f();
    const list = Array.isArray(r) ? r : [r];
    return list.map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) }));
  });
}

/**
 * The JS cpu kernel is the reference: `f` runs once under 'cpu' and once under 'native', and
 * every output must match in shape, dtype and value (NaN where the reference has NaN).
 */
export function expectSameAsCpu(f: () => Result, rtol = 1e-5, atol = 1e-5): void {
  expectNativeMatches(f, f, rtol, atol);
}

/**
 * `ref` under 'cpu' against `got` under 'native' (a fused kernel against the composite of tfjs ops
 * it replaces): same shapes, dtypes and values (NaN where the reference has NaN).
 */
export function expectNativeMatches(ref: () => Result, got: () => Result, rtol = 1e-5, atol = 1e-5): void {
  const r0 = runOn('cpu', ref);
  const g0 = runOn('native', got);
  tf.setBackend('native');
  expect(g0.length).toBe(r0.length);
  for (let i = 0; i < r0.length; i++) {
    const r = r0[i]!;
    const g = g0[i]!;
    expect(g.shape).toEqual(r.shape);
    expect(g.dtype).toBe(r.dtype);
    let worst = 0;
    let where = -1;
    for (let j = 0; j < r.values.length; j++) {
      const a = r.values[j]!;
      const b = g.values[j]!;
      if (Number.isNaN(a) || Number.isNaN(b)) {
        if (Number.isNaN(a) !== Number.isNaN(b)) {
          worst = Infinity;
          where = j;
        }
        continue;
      }
      if (a === b) continue;
      const err = Math.abs(a - b) / (atol + rtol * Math.abs(a));
      if (!(err <= worst)) {
        worst = err;
        where = j;
      }
    }
    if (worst > 1) {
      throw new Error(`output ${i} (shape ${r.shape}) differs at ${where}: cpu ${r.values[where]} native ${g.values[where]}`);
    }
  }
}

/**
 * Counts the calls of one addon function (which C++ loops ran) until `restore()`; `calls` may be
 * reset to 0 between checks.
 */
export function countBindingCalls<K extends keyof NativeBinding>(name: K): { calls: number; restore(): void } {
  const native = binding();
  const original = native[name] as unknown as (...args: unknown[]) => unknown;
  const counter = {
    calls: 0,
    restore: () => {
      native[name] = original as unknown as NativeBinding[K];
    },
  };
  native[name] = ((...args: unknown[]) => {
    counter.calls++;
    return original.apply(native, args);
  }) as unknown as NativeBinding[K];
  return counter;
}
