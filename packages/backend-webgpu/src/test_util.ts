import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients; the references need them (as @ssl/tensor does).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import { expect } from 'vitest';
import { registerWebGPUBackend, webgpuAdapterStatus } from './index.js';
import type { AdapterStatus } from './index.js';

/**
 * Whether the webgpu suite runs here. Without an adapter it is skipped with the reason printed,
 * except in CI as root, where the setup script installs CPU Vulkan: there a missing adapter fails.
 */
export async function webgpuSuiteStatus(): Promise<{ run: boolean; status: AdapterStatus; mustRun: boolean }> {
  const status = await webgpuAdapterStatus();
  const mustRun = process.env.CI === 'true' && process.getuid?.() === 0;
  if (!status.available && !mustRun) console.warn(`webgpu suite skipped: ${status.reason}`);
  if (status.available) await registerWebGPUBackend();
  return { run: status.available || mustRun, status, mustRun };
}

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

export function rand(shape: number[], seed = 1): tf.Tensor {
  return tf.tensor(randomValues(tf.util.sizeFromShape(shape), seed), shape);
}

type Result = tf.Tensor | tf.Tensor[];
interface Output {
  shape: number[];
  dtype: string;
  values: Float32Array | Int32Array | Uint8Array;
}

/** Runs `f` under a backend and reads its outputs asynchronously (GPU tensors have no dataSync in Node). */
export async function runOn(backend: string, f: () => Result): Promise<Output[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(() => {
    const r = f();
    return Array.isArray(r) ? r : [r];
  });
  const read = await Promise.all(outs.map(async (t) => ({ shape: t.shape, dtype: t.dtype, values: (await t.data()) as Output['values'] })));
  tf.dispose(outs);
  return read;
}

/**
 * `ref` under 'cpu' (tfjs's JS kernels, or a composite and its autograd) against `got` under
 * 'webgpu': same shapes and dtypes, values within `atol + rtol |ref|`. Returns the worst error.
 */
export async function expectWebgpuMatches(ref: () => Result, got: () => Result, rtol = 1e-5, atol = 1e-5): Promise<number> {
  const r0 = await runOn('cpu', ref);
  const g0 = await runOn('webgpu', got);
  expect(g0.length).toBe(r0.length);
  let worstAll = 0;
  for (let i = 0; i < r0.length; i++) {
    const r = r0[i]!;
    const g = g0[i]!;
    expect(g.shape, `output ${i} shape`).toEqual(r.shape);
    expect(g.dtype, `output ${i} dtype`).toBe(r.dtype);
    let worst = 0;
    let where = -1;
    for (let j = 0; j < r.values.length; j++) {
      const err = Math.abs(g.values[j]! - r.values[j]!) / (atol + rtol * Math.abs(r.values[j]!));
      if (!(err <= worst)) {
        worst = err;
        where = j;
      }
    }
    worstAll = Math.max(worstAll, worst);
    expect(worst, `output ${i} [${r.shape}] at ${where}: got ${g.values[where]}, want ${r.values[where]}`).toBeLessThanOrEqual(1);
  }
  return worstAll;
}

/** Each value rounded to the nearest binary16 value (ties to even), as torch's `.half()`; +-inf past its range. */
export function roundToHalfJs(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const a = Math.abs(x);
    if (!Number.isFinite(x) || a === 0) {
      out[i] = x;
      continue;
    }
    if (a >= 65520) {
      out[i] = Math.sign(x) * Infinity;
      continue;
    }
    let e = Math.floor(Math.log2(a));
    if (2 ** e > a) e -= 1;
    if (2 ** (e + 1) <= a) e += 1;
    const quantum = 2 ** (Math.max(e, -14) - 10); // 10 mantissa bits; subnormals below 2^-14
    const t = a / quantum;
    let r = Math.floor(t);
    const frac = t - r;
    if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
    out[i] = Math.sign(x) * r * quantum;
  }
  return out;
}

/** Runs `step` a few times, reading each result: the live tensor count must not move. */
export async function expectNoTensorGrowth(step: () => tf.Tensor, steps = 3): Promise<void> {
  const before = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) {
    const s = step();
    await s.data();
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }
}
