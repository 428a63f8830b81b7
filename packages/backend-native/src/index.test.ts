import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { directSgemm, nativeBackendStatus, registerNativeBackend } from './index.js';
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
