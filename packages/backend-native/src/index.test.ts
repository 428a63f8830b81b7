import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { directSgemm, nativeBackendStatus, nativeGemmSeconds, peakGflopsPerCore, registerNativeBackend } from './index.js';
import { randomValues } from './test_util.js';

describe('native backend', () => {
  it('is available here and names OpenBLAS and the threads', () => {
    const status = nativeBackendStatus();
    expect(status.available).toBe(true);
    expect(status.reason).toMatch(/OpenBLAS \d+\.\d+/);
    expect(status.reason).toMatch(/\d+ thread/);
  });

  it('registers every cpu kernel under native, idempotently, plus the fused Ssl* kernels', () => {
    registerNativeBackend({ threads: 2 });
    registerNativeBackend({ threads: 2 });
    const cpu = tf.getKernelsForBackend('cpu').map((k) => k.kernelName).sort();
    const native = tf.getKernelsForBackend('native').map((k) => k.kernelName).sort();
    expect(native.filter((n) => !n.startsWith('Ssl'))).toEqual(cpu);
    expect(native.filter((n) => n.startsWith('Ssl'))).toEqual([
      'SslAdamW',
      'SslAttention',
      'SslAttentionGrad',
      'SslBatchNorm',
      'SslBatchNormGrad',
      'SslGelu',
      'SslGeluGrad',
      'SslLayerNorm',
      'SslLayerNormGrad',
      'SslSelfAttention',
      'SslSelfAttentionGrad',
    ]);
  });

  it('rejects a bad thread count by name', () => {
    expect(() => registerNativeBackend({ threads: 0 })).toThrow(/threads must be a positive integer/);
  });

  it('becomes the active backend and computes', async () => {
    expect(await tf.setBackend('native')).toBe(true);
    expect(tf.getBackend()).toBe('native');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]));
    expect(Array.from(y.dataSync())).toEqual([19, 22, 43, 50]);
    y.dispose();
  });

  it('counts the time spent in GEMMs, within the wall time around them', async () => {
    await tf.setBackend('native');
    const a = tf.randomUniform([256, 256]);
    const before = nativeGemmSeconds();
    const t0 = performance.now();
    tf.matMul(a, a).dispose();
    const wall = (performance.now() - t0) / 1000;
    const spent = nativeGemmSeconds() - before;
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(wall);
    tf.relu(a).dispose(); // not a GEMM
    expect(nativeGemmSeconds() - before).toBe(spent);
    a.dispose();
  });

  it('measures the FMA and bf16 dot-product peaks where the CPU and the build have them', () => {
    const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const peak = peakGflopsPerCore();
    const x64 = process.arch === 'x64'; // the addon is built with -march=native there
    expect(peak.fma > 0).toBe(x64 && /\bavx512f\b/.test(flags));
    expect(peak.bf16Dot > 0).toBe(x64 && /\bavx512_bf16\b/.test(flags));
    // Register-only loops at a few GHz: 16 lanes x 2 flops per cycle at the very least.
    if (peak.fma > 0) expect(peak.fma).toBeGreaterThan(16);
    if (peak.bf16Dot > 0) expect(peak.bf16Dot).toBeGreaterThan(16);
  });

  it('directSgemm matches a hand loop', () => {
    const [m, n, k] = [5, 3, 4];
    const a = randomValues(m * k, 1);
    const b = randomValues(k * n, 2);
    const c = new Float32Array(m * n);
    directSgemm(a, b, c, m, n, k);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
        expect(c[i * n + j]).toBeCloseTo(s, 5);
      }
    }
    expect(() => directSgemm(a, b, new Float32Array(2), m, n, k)).toThrow(/too small/);
  });
});
