// SslAttention / SslSelfAttention against a reference built from tfjs ops on the JS cpu backend:
// forward softmax(q scale k^T) v and, written out by hand, the backward the composite's autograd
// computes. In bf16 the reference rounds (in JS, independently of the C++) exactly the operands a
// bf16 GEMM would read: q scale, k, P, v forward; dO, v, P, dS, k, q scale backward.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { NativeBackend } from '../backend.js';
import { nativeBackendStatus } from '../index.js';
import { expectNativeMatches, rand, roundBf16 } from '../test_util.js';

type Round = (t: tf.Tensor) => tf.Tensor;
const exact: Round = (t) => t;
const bf16: Round = (t) => tf.tensor(roundBf16(t.dataSync() as Float32Array), t.shape);

/** [dq, dk, dv] of sum(O * w) for O = attention(q, k, v), each product reading `r`-rounded operands. */
function reference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, dO: tf.Tensor, scale: number, r: Round): tf.Tensor[] {
  const qs = r(tf.mul(q, scale));
  const kr = r(k);
  const vr = r(v);
  const p = tf.softmax(tf.matMul(qs, kr, false, true));
  const o = tf.matMul(r(p), vr);
  const dOr = r(dO);
  const dP = tf.matMul(dOr, vr, false, true);
  const dv = tf.matMul(r(p), dOr, true, false);
  const t = tf.mul(dP, p);
  const dS = r(tf.sub(t, tf.mul(tf.sum(t, -1, true), p)));
  const dq = tf.mul(tf.matMul(dS, kr), scale);
  const dk = tf.matMul(dS, qs, true, false);
  return [o, dq, dk, dv];
}

/** The kernel's forward and gradient for the same inputs. */
function kernel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, dO: tf.Tensor, scale: number, precision: string): tf.Tensor[] {
  const o = tf.engine().runKernel('SslAttention', { q, k, v }, { scale, precision }) as tf.Tensor;
  const grads = tf.engine().runKernel('SslAttentionGrad', { dy: dO, q, k, v }, { scale, precision }) as tf.Tensor[];
  return [o, ...grads];
}

/** qkv [B, N, 3 H d] -> q, k, v as [B H, N, d] (timm's reshape and permute). */
function split(qkv: tf.Tensor, heads: number): tf.Tensor[] {
  const [b, n, c] = qkv.shape as [number, number, number];
  const d = c / (3 * heads);
  return tf.unstack(tf.transpose(tf.reshape(qkv, [b, n, 3, heads, d]), [2, 0, 3, 1, 4])).map((t) => tf.reshape(t, [b * heads, n, d]));
}

/** [B H, N, d] -> [B, N, H d], the inverse of one part of `split`. */
function merge(x: tf.Tensor, b: number, heads: number): tf.Tensor {
  const [, n, d] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [b, heads, n, d]), [0, 2, 1, 3]), [b, n, heads * d]);
}

const SHAPES: [number, number, number][] = [
  [2, 5, 3], // tiny, odd
  [6, 50, 64], // the ViT-Tiny/4 block at 28 px
  [4, 10, 64], // its local crops
  [2, 197, 72], // ViT-S/16 at 224 px's tokens, a head dim that is not a multiple of 16
  [3, 1, 17], // one token: an odd inner dimension of one
  [2, 9, 129], // a head dim past two 64-column blocks
];
const status = nativeBackendStatus();
const nativeBackend = () => tf.findBackend('native') as NativeBackend;

describe('SslAttention', () => {
  for (const [bh, n, d] of SHAPES) {
    it(`[${bh}, ${n}, ${d}] float32: forward and gradients equal the composite on cpu`, () => {
      const args = () => [rand([bh, n, d], 1), rand([bh, n, d], 2), rand([bh, n, d], 3), rand([bh, n, d], 4)] as const;
      expectNativeMatches(() => reference(...args(), 0.125, exact), () => kernel(...args(), 0.125, 'fp32'), 1e-4, 1e-5);
    });
  }

  it.runIf(status.bf16)('bf16: the products read bf16-rounded operands, float32 sums (and differ from float32)', () => {
    for (const [i, [bh, n, d]] of SHAPES.entries()) {
      const args = () => [rand([bh, n, d], 10 + i), rand([bh, n, d], 20 + i), rand([bh, n, d], 30 + i), rand([bh, n, d], 40 + i)] as const;
      expectNativeMatches(() => reference(...args(), 0.125, bf16), () => kernel(...args(), 0.125, 'bf16'), 2e-3, 2e-4);
      // The same comparison against the float32 reference must fail: the rounding is real.
      expect(() => expectNativeMatches(() => reference(...args(), 0.125, exact), () => kernel(...args(), 0.125, 'bf16'), 2e-3, 2e-4)).toThrow(/differs/);
    }
  });

  it('bad inputs are named', () => {
    tf.setBackend('native');
    const q = tf.zeros([2, 4, 8]);
    const run = (inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => () => tf.engine().runKernel('SslAttention', inputs, attrs as tf.NamedAttrMap);
    expect(run({ q, k: tf.zeros([2, 4, 7]), v: q }, { scale: 1 })).toThrow(/SslAttention: k must have the shape of q \[2,4,8\], got \[2,4,7\]/);
    expect(run({ q: tf.zeros([8]), k: q, v: q }, { scale: 1 })).toThrow(/SslAttention: q must be \[batchHeads, N, d\]/);
    expect(run({ q, k: q, v: q }, { scale: Number.NaN })).toThrow(/attr 'scale' must be a finite number/);
    expect(run({ q, k: q, v: q }, { scale: 1, precision: 'fp16' })).toThrow(/precision must be 'fp32' or 'bf16' on the native backend, got 'fp16'/);
  });
});

describe('SslSelfAttention', () => {
  const CASES: [number, number, number, number][] = [
    [2, 50, 3, 64], // batch, tokens, heads, head dim: ViT-Tiny
    [3, 10, 2, 24],
    [1, 7, 1, 16],
  ];

  function packedKernel(qkv: tf.Tensor, dy: tf.Tensor, heads: number, precision: string): tf.Tensor[] {
    const attrs = { heads, scale: 0.25, precision };
    return [tf.engine().runKernel('SslSelfAttention', { qkv }, attrs) as tf.Tensor, tf.engine().runKernel('SslSelfAttentionGrad', { dy, qkv }, attrs) as tf.Tensor];
  }

  /** The reference on separate heads, put back into the packed layout. */
  function packedReference(qkv: tf.Tensor, dy: tf.Tensor, heads: number, r: Round): tf.Tensor[] {
    const b = qkv.shape[0]!;
    const [q, k, v] = split(qkv, heads) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const [n, d] = q.shape.slice(1) as [number, number];
    const dOut = tf.reshape(tf.transpose(tf.reshape(dy, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]);
    const [o, dq, dk, dv] = reference(q, k, v, dOut, 0.25, r) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const stacked = tf.stack([dq, dk, dv].map((g) => tf.reshape(g, [b, heads, n, d]))); // [3, B, H, N, d]
    return [merge(o, b, heads), tf.reshape(tf.transpose(stacked, [1, 3, 0, 2, 4]), [b, n, 3 * heads * d])];
  }

  for (const [b, n, h, d] of CASES) {
    it(`[${b}, ${n}, 3 x ${h} x ${d}] float32: reads the heads in place, writes them merged; gradient into the packed layout`, () => {
      const args = () => [rand([b, n, 3 * h * d], 50), rand([b, n, h * d], 51)] as const;
      expectNativeMatches(() => packedReference(...args(), h, exact), () => packedKernel(...args(), h, 'fp32'), 1e-4, 1e-5);
    });
  }

  it.runIf(status.bf16)('bf16 equals the bf16-rounded reference', () => {
    const [b, n, h, d] = CASES[0]!;
    const args = () => [rand([b, n, 3 * h * d], 60), rand([b, n, h * d], 61)] as const;
    expectNativeMatches(() => packedReference(...args(), h, bf16), () => packedKernel(...args(), h, 'bf16'), 2e-3, 2e-4);
  });

  it('bad inputs are named; repeated calls leave no tensors behind', () => {
    tf.setBackend('native');
    const qkv = tf.zeros([2, 4, 24]);
    const run = (attrs: Record<string, unknown>) => () => tf.engine().runKernel('SslSelfAttention', { qkv }, attrs as tf.NamedAttrMap);
    expect(run({ heads: 5, scale: 1 })).toThrow(/SslSelfAttention: attr 'heads' must be a positive integer dividing qkv's last dim 24 \/ 3, got 5/);
    expect(() => tf.engine().runKernel('SslSelfAttention', { qkv: tf.zeros([24]) }, { heads: 1, scale: 1 })).toThrow(/qkv must be \[B, N, 3 \* heads \* headDim\]/);
    expect(() => tf.engine().runKernel('SslSelfAttentionGrad', { dy: tf.zeros([2, 4, 7]), qkv }, { heads: 2, scale: 1 })).toThrow(
      /SslSelfAttentionGrad: dy must have the shape of the output \[2,4,8\], got \[2,4,7\]/,
    );
    const x = rand([2, 50, 576], 70);
    const dy = rand([2, 50, 192], 71);
    const once = () => tf.tidy(() => packedKernel(x, dy, 3, nativeBackend().currentAutocast()).forEach((t) => t.dataSync()));
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) once();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy, qkv]);
  });
});
