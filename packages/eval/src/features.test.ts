import { existsSync, readFileSync } from 'node:fs';
import { bf16Support, initBackend, tf } from '@ssl/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { extractFeatures, tensorBatchSource } from './features.js';

const cpuHasBf16 = existsSync('/proc/cpuinfo') && /\bavx512_bf16\b|\bamx_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const bf16Expected = cpuHasBf16 && existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');

beforeAll(async () => {
  await initBackend({ backend: 'native', env: {} });
});

describe('extractFeatures precision', () => {
  // A linear embedding: its features are one matmul, so bf16 must equal the float32 matmul of
  // bf16-rounded inputs; the default stays float32.
  const images = tf.randomNormal([10, 4, 4, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  const w = tf.randomNormal([16, 8], 0, 1, 'float32', 8);
  const embed = (x: tf.Tensor4D) => tf.matMul(tf.reshape(x, [x.shape[0], 16]), w);
  const round = (t: tf.Tensor) => {
    const v = new Float32Array(t.dataSync() as Float32Array);
    const u = new Uint32Array(v.buffer);
    for (let i = 0; i < u.length; i++) u[i] = ((u[i]! + 0x7fff + ((u[i]! >>> 16) & 1)) >>> 0) & 0xffff0000;
    return tf.tensor(v, t.shape);
  };

  it('is float32 by default and bf16 when asked (where the CPU runs it)', async () => {
    const f32 = await extractFeatures(embed, tensorBatchSource(images), { batchSize: 4, normalize: false });
    expect(Array.from(f32.data)).toEqual(Array.from(embed(images).dataSync()));
    const bf = await extractFeatures(embed, tensorBatchSource(images), { batchSize: 4, normalize: false, precision: 'bf16' });
    expect(bf16Support().bf16).toBe(bf16Expected);
    const ref = bf16Expected ? tf.matMul(round(tf.reshape(images, [10, 16])), round(w)).dataSync() : embed(images).dataSync();
    for (let i = 0; i < ref.length; i++) expect(Math.abs(bf.data[i]! - ref[i]!)).toBeLessThan(1e-4);
    if (bf16Expected) expect(Array.from(bf.data)).not.toEqual(Array.from(f32.data));
  });
});
