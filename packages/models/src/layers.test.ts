import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { Conv2d, LayerNorm, Linear, gelu, truncNormal } from './layers.js';
import { toRng } from './layers.js';

describe('layers', () => {
  it('gelu is x * Phi(x) and its gradient matches a central difference', () => {
    const xs = [-3, -1, -0.2, 0, 0.5, 2];
    const x = tf.tensor(xs);
    const y = gelu(x).dataSync();
    // Phi(-1) = 0.15865525, Phi(0.5) = 0.69146246, Phi(2) = 0.97724987
    expect(y[1]).toBeCloseTo(-0.15865525, 6);
    expect(y[4]).toBeCloseTo(0.5 * 0.69146246, 6);
    expect(y[5]).toBeCloseTo(2 * 0.97724987, 6);
    const g = tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x).dataSync();
    const h = 1e-3;
    xs.forEach((v, i) => {
      const f = (u: number) => tf.tidy(() => gelu(tf.scalar(u)).dataSync()[0] as number);
      expect(g[i]).toBeCloseTo((f(v + h) - f(v - h)) / (2 * h), 3);
    });
    x.dispose();
  });

  it('Linear computes x W^T + b on any leading shape', () => {
    const lin = new Linear(3, 2, { rng: 3 });
    const x = tf.randomNormal([2, 4, 3]);
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 4, 2]);
    const ref = tf.add(tf.matMul(tf.reshape(x, [8, 3]), tf.transpose(lin.weight)), lin.bias!);
    expect(tf.max(tf.abs(tf.sub(tf.reshape(y, [8, 2]), ref))).dataSync()[0]).toBeLessThan(1e-6);
    expect(() => lin.forward(tf.zeros([2, 4]))).toThrow(/Linear: input last dim must be 3, got shape \[2,4\]/);
    lin.dispose();
  });

  it('Conv2d pads symmetrically like PyTorch and rejects non-NHWC input', () => {
    const conv = new Conv2d(1, 1, 3, { padding: 1, stride: 2, bias: false, rng: 1 });
    conv.weight.assign(tf.ones([3, 3, 1, 1]));
    const x = tf.ones([1, 4, 4, 1]);
    // stride 2 over a zero-padded 4x4 of ones: corners see 4 ones, others 6 or 9
    expect(Array.from(conv.forward(x).dataSync())).toEqual([4, 6, 6, 9]);
    expect(() => conv.forward(tf.ones([1, 4, 4, 2]))).toThrow(/NHWC with 1 channels/);
    conv.dispose();
  });

  it('LayerNorm normalises the last axis with the given eps', () => {
    const ln = new LayerNorm(4, 1e-6);
    const y = ln.forward(tf.tensor([[1, 2, 3, 4]])).dataSync();
    const sd = Math.sqrt(1.25 + 1e-6);
    expect(Array.from(y).map((v) => +v.toFixed(5))).toEqual([-1.5, -0.5, 0.5, 1.5].map((v) => +(v / sd).toFixed(5)));
    ln.dispose();
  });

  it('LayerNorm gradients (x, weight, bias) equal autograd through the plain formula', () => {
    const ln = new LayerNorm(6, 1e-6);
    ln.weight.assign(tf.randomNormal([6], 1, 0.3, 'float32', 1));
    ln.bias.assign(tf.randomNormal([6], 0, 0.3, 'float32', 2));
    const x = tf.randomNormal([2, 3, 6], 0, 2, 'float32', 3);
    const dy = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 4);
    const plain = (t: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
      const xc = tf.sub(t, tf.mean(t, -1, true));
      return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-6))), w), b);
    };
    const ours = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(ln.forward(t), dy)))([x]);
    const oursW = tf.variableGrads(() => tf.sum(tf.mul(ln.forward(x), dy)) as tf.Scalar, [ln.weight, ln.bias]).grads;
    ours.push(oursW[ln.weight.name]!, oursW[ln.bias.name]!);
    const ref = tf.grads((t: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(plain(t, w, b), dy)))([x, ln.weight, ln.bias]);
    for (let i = 0; i < 3; i++) {
      expect(tf.max(tf.abs(tf.sub(ours[i]!, ref[i]!))).dataSync()[0]).toBeLessThan(1e-5);
    }
    expect(tf.max(tf.abs(tf.sub(ln.forward(x), plain(x, ln.weight, ln.bias)))).dataSync()[0]).toBeLessThan(1e-6);
    ln.dispose();
  });

  it('truncNormal draws deterministically from the seed, with std close to the requested one', () => {
    const a = truncNormal([4000], 0.02, toRng(5)).dataSync();
    const b = truncNormal([4000], 0.02, toRng(5)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const std = Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0) / a.length);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(Math.max(...Array.from(truncNormal([2000], 1, toRng(1)).dataSync().map(Math.abs)))).toBeLessThanOrEqual(2);
  });
});
