// bf16 autocast of the matmul-shaped kernels: every result must equal the float32 JS cpu kernel run
// on bf16-rounded inputs (rounded here in JS, independently of the C++), within float32
// accumulation-order tolerance. Gradients: under autocast the backward GEMMs round their inputs
// too (dy included), so the reference is cpu autograd with x, w and the upstream weights rounded.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { NativeBackend } from '../backend.js';
import { binding, GEMM_MODES } from '../binding.js';
import { nativeBackendStatus } from '../index.js';
import { countBindingCalls, expectNativeMatches, randomValues, roundBf16 } from '../test_util.js';

const cpuHasBf16 = existsSync('/proc/cpuinfo') && /\bavx512_bf16\b|\bamx_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
const onednnInstalled = existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
const status = nativeBackendStatus();
const native = () => tf.findBackend('native') as NativeBackend;

/** `f(round)` under cpu with every input rounded, against `f(identity)` under native in bf16. */
function expectBf16(f: (r: (t: tf.Tensor) => tf.Tensor) => tf.Tensor | tf.Tensor[], rtol = 1e-4, atol = 1e-4): void {
  const round = (t: tf.Tensor) => tf.tensor(roundBf16(t.dataSync() as Float32Array), t.shape);
  const prev = native().setAutocast('bf16');
  try {
    expectNativeMatches(() => f(round), () => f((t) => t), rtol, atol);
  } finally {
    native().setAutocast(prev);
  }
}

const rnd = (shape: number[], seed: number) => tf.tensor(randomValues(tf.util.sizeFromShape(shape), seed), shape);

describe('bf16 support', () => {
  it('is on exactly where the CPU has AVX512-BF16/AMX and oneDNN is installed, and says which ISA', () => {
    expect(status.available).toBe(true);
    expect(status.bf16).toBe(cpuHasBf16 && onednnInstalled);
    if (onednnInstalled) expect(status.isa).toMatch(/^(avx|sse)/);
    expect(status.reason).toContain(onednnInstalled ? `oneDNN` : 'no oneDNN');
    if (!status.bf16) expect(status.bf16Reason.length).toBeGreaterThan(0);
  });
});

describe.runIf(status.bf16)('bf16 kernels equal float32 kernels on bf16-rounded inputs', () => {
  const MATMULS: { a: number[]; b: number[]; ta?: boolean; tb?: boolean }[] = [
    { a: [64, 192], b: [192, 96] }, // one large GEMM
    { a: [33, 17], b: [17, 5] }, // odd sizes
    { a: [40, 24], b: [40, 24], ta: true }, // op(A) = A^T
    { a: [24, 40], b: [24, 40], tb: true }, // op(B) = B^T: attention scores
    { a: [40, 24], b: [31, 40], ta: true, tb: true },
    { a: [6, 50, 16], b: [6, 16, 50] }, // batched heads
    { a: [6, 50, 16], b: [1, 16, 9] }, // broadcast batch
    { a: [3, 0, 4], b: [3, 4, 2] }, // empty
    { a: [3, 4], b: [4, 0] },
  ];

  it('rounds: a bf16 GEMM differs from the float32 one by more than float32 tolerance', () => {
    tf.setBackend('native');
    const a = rnd([64, 192], 1);
    const b = rnd([192, 64], 2);
    const f32 = tf.matMul(a, b);
    const prev = native().setAutocast('bf16');
    const bf = tf.matMul(a, b);
    native().setAutocast(prev);
    const diff = tf.max(tf.abs(tf.sub(f32, bf))).dataSync()[0]!;
    expect(diff).toBeGreaterThan(1e-3);
    expect(diff).toBeLessThan(0.5); // inputs in [-2, 2), K = 192: bf16 keeps 8 bits
  });

  it('BatchMatMul forward and gradients', () => {
    MATMULS.forEach((c, i) => {
      expectBf16((r) => tf.matMul(r(rnd(c.a, 10 + i)), r(rnd(c.b, 20 + i)), c.ta, c.tb));
      if (c.a.length > 2 && c.b[0] !== c.a[0]) return; // tfjs's matMul gradient does not reduce broadcast dims
      expectBf16((r) => {
        const y = tf.matMul(rnd(c.a, 10 + i), rnd(c.b, 20 + i), c.ta, c.tb);
        const w = r(rnd(y.shape, 30 + i));
        return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, c.ta, c.tb), w)))([r(rnd(c.a, 10 + i)), r(rnd(c.b, 20 + i))]);
      });
    });
  });

  it('_FusedMatMul: bias, activations, gradients', () => {
    for (const activation of ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu'] as const) {
      expectBf16((r) => tf.fused.matMul({ a: r(rnd([50, 64], 41)), b: r(rnd([64, 30], 42)), bias: rnd([30], 43), activation }));
    }
    // Bias stays float32 (as PyTorch's autocast adds it after the GEMM): not rounded in the reference.
    // Its gradient is a float32 sum of dy, so dy is made bf16-exact in both runs here (the
    // BatchMatMul test above covers a dy that the GEMM must round).
    const exact = (t: tf.Tensor) => tf.tensor(roundBf16(t.dataSync() as Float32Array), t.shape);
    expectBf16((r) => {
      const w = exact(rnd([50, 30], 44));
      const bias = rnd([30], 43);
      return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(tf.fused.matMul({ a, b, bias: c, transposeB: true }), w)))([
        r(rnd([50, 64], 41)),
        r(rnd([30, 64], 42)),
        bias,
      ]);
    });
  });

  it('keeps one bf16 copy of a large GEMM input for its next GEMMs, equal to converting again; drops it with the tensor or when its values escape', () => {
    tf.setBackend('native');
    const be = native();
    const prev = be.setAutocast('bf16');
    try {
      const same = (a: tf.Tensor, b: tf.Tensor) => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      tf.tidy(() => {
        const w = rnd([128, 64], 80);
        const dy = rnd([256, 64], 82);
        const x = tf.add(rnd([256, 128], 81), 0); // a kernel's output, seen by no one: 32768 values get a copy
        const y = tf.matMul(x, w);
        expect(be.liveBf16Shadows()).toBe(1);
        const dw = tf.matMul(x, dy, true, false); // the weight gradient reads the same copy, transposed
        expect(be.liveBf16Shadows()).toBe(1);
        const plain = rnd([256, 128], 81); // the same values, never a copy (not a kernel's output)
        same(y, tf.matMul(plain, w));
        same(dw, tf.matMul(plain, dy, true, false));
        // Values handed out may be written to: the copy goes, the next GEMM reads what is there now.
        const values = x.dataSync() as Float32Array;
        expect(be.liveBf16Shadows()).toBe(0);
        values.fill(0.5);
        same(tf.matMul(x, w), tf.matMul(tf.fill([256, 128], 0.5), w));
        tf.matMul(tf.add(plain, 1), w); // another copy, freed with its tensor at the end of the scope
        expect(be.liveBf16Shadows()).toBe(1);
      });
      expect(be.liveBf16Shadows()).toBe(0);
    } finally {
      be.setAutocast(prev);
    }
  });

  it('a bias gradient, the sum over all but the innermost axis, is read from the bf16 copy of the GEMM that converted it', () => {
    tf.setBackend('native');
    const be = native();
    const reduce = countBindingCalls('reduce');
    const prev = be.setAutocast('bf16');
    // The float64 sum over rows of a [rows, width] view, independent of any float32 order.
    const columnSums = (values: Float32Array, width: number) => {
      const out = new Float64Array(width);
      values.forEach((v, i) => (out[i % width]! += v));
      return out;
    };
    const expectClose = (actual: tf.Tensor, expected: Float64Array) => {
      const got = actual.dataSync();
      expected.forEach((e, i) => expect(Math.abs(got[i]! - e)).toBeLessThan(1e-5 * (1 + Math.abs(e))));
    };
    try {
      tf.tidy(() => {
        const dy = tf.add(rnd([2, 150, 96], 90), 0); // 28800 values: kept with a copy
        const w = rnd([96, 32], 91);
        const plain = rnd([2, 150, 96], 90).dataSync() as Float32Array;
        tf.matMul(tf.reshape(dy, [300, 96]), w); // converts dy (through a view of the same data)
        reduce.calls = 0;
        const sum = tf.sum(dy, [0, 1]);
        const kept = tf.sum(dy, [1, 0], true);
        expect(reduce.calls).toBe(0);
        expect(sum.shape).toEqual([96]);
        expect(kept.shape).toEqual([1, 1, 96]);
        expectClose(sum, columnSums(plain, 96));
        expectClose(kept, columnSums(plain, 96));
        // Other axes, or another view's innermost axis, take the reduction kernel.
        expectClose(tf.sum(tf.reshape(dy, [300, 96]), 0), columnSums(plain, 96));
        expect(reduce.calls).toBe(0);
        tf.sum(dy, 0);
        tf.sum(tf.reshape(dy, [600, 48]), 0);
        expect(reduce.calls).toBe(2);
        // As the weight gradient's right operand (X^T dy) the copy carries the same sums.
        const dy2 = tf.add(rnd([400, 64], 92), 0);
        tf.matMul(rnd([400, 16], 93), dy2, true, false);
        reduce.calls = 0;
        expectClose(tf.sum(dy2, 0), columnSums(rnd([400, 64], 92).dataSync() as Float32Array, 64));
        expect(reduce.calls).toBe(0);
      });
      // A layer's gradients through tf.fused.matMul, weights as given and as @ssl/models keeps them
      // ([out, in], transposeB): the bias gradient takes no reduction kernel and equals the cpu one.
      for (const transposeB of [false, true]) {
        const x = rnd([300, 64], 94);
        const wt = rnd(transposeB ? [80, 64] : [64, 80], 95);
        const bias = rnd([80], 96);
        const upstream = rnd([300, 80], 97);
        const f = () => tf.grads((b: tf.Tensor) => tf.sum(tf.mul(tf.fused.matMul({ a: x, b: wt, bias: b, transposeB }), upstream)))([bias])[0]!;
        reduce.calls = 0;
        const got = f();
        expect(reduce.calls).toBe(1); // the final tf.sum of the loss; not the bias gradient
        tf.setBackend('cpu');
        const expected = f();
        tf.setBackend('native');
        expectClose(got, Float64Array.from(expected.dataSync()));
        tf.dispose([x, wt, bias, upstream, got, expected]);
      }
    } finally {
      be.setAutocast(prev);
      reduce.restore();
      tf.setBackend('native');
    }
  });

  it('refuses sums whose length does not divide their operand', () => {
    const [a, b, out] = [new Float32Array(64 * 32), new Float32Array(32 * 16), new Float32Array(64 * 16)];
    const one = Int32Array.of(0);
    const copy = new Uint16Array(64 * 32);
    expect(() => binding().batchMatMul(a, b, out, one, one, 64, 16, 32, false, false, null, 0, 0, GEMM_MODES.bf16, copy, false, null, false, new Float32Array(30), null)).toThrow(
      /the length of a sums array must divide its operand's size/,
    );
    const sums = new Float32Array(32);
    a.forEach((_, i) => (a[i] = (i % 32) + Math.floor(i / 32) / 64)); // column c sums to 64 c + 31.5
    binding().batchMatMul(a, b, out, one, one, 64, 16, 32, false, false, null, 0, 0, GEMM_MODES.bf16, copy, false, null, false, sums, null);
    expect(Array.from(sums)).toEqual(Array.from({ length: 32 }, (_, c) => 64 * c + 31.5));
  });

  it('refuses a kept bf16 copy shorter than its operand', () => {
    const [a, b, out] = [new Float32Array(64 * 32), new Float32Array(32 * 16), new Float32Array(64 * 16)];
    const one = Int32Array.of(0);
    expect(() => binding().batchMatMul(a, b, out, one, one, 64, 16, 32, false, false, null, 0, 0, GEMM_MODES.bf16, new Uint16Array(64 * 32 - 1), false, null, false)).toThrow(
      /a bf16 copy is shorter than its operand/,
    );
  });

  it('converts GEMM inputs to bf16 with the same bits as rounding in JS: ties, NaN, infinities, zeros, subnormals', () => {
    // Enough values for the vector path (16 at a time); the specials sit in different blocks and at
    // block edges, subnormals only in some blocks (those take the exact scalar path).
    const a = randomValues(64 * 40, 90).map((v) => v * 2 ** ((Math.round(v * 1000) % 60) - 30));
    const specials = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8 + 2 ** -20), NaN, Infinity, -Infinity, 0, -0, 3.4e38, -3.4028235e38];
    const subnormals = [1e-40, -1e-40, 2 ** -149, 1.1754942e-38, -5.9e-39];
    specials.forEach((v, i) => (a[i * 37] = v));
    subnormals.forEach((v, i) => (a[1000 + i * 50] = v));
    const copy = new Uint16Array(a.length);
    const [b, out, one] = [new Float32Array(40 * 8).fill(1), new Float32Array(64 * 8), Int32Array.of(0)];
    binding().batchMatMul(a, b, out, one, one, 64, 8, 40, false, false, null, 0, 0, GEMM_MODES.bf16, copy, false, null, false);
    const expected = new Uint32Array(roundBf16(a).buffer);
    const mismatches = Array.from(copy).flatMap((h, i) => (h === expected[i]! >>> 16 ? [] : [`${i}: ${a[i]} -> ${h.toString(16)}, want ${(expected[i]! >>> 16).toString(16)}`]));
    expect(mismatches).toEqual([]);
  });

  const CONVS: { x: number[]; f: number[]; strides: number; pad: 'valid' | 'same' | number }[] = [
    { x: [2, 28, 28, 1], f: [4, 4, 1, 24], strides: 4, pad: 'valid' }, // ViT patch embedding
    { x: [2, 8, 8, 3], f: [3, 3, 3, 8], strides: 1, pad: 'same' }, // im2col
    { x: [2, 7, 7, 16], f: [1, 1, 16, 8], strides: 1, pad: 'valid' }, // 1x1: straight to GEMM
    { x: [1, 9, 9, 4], f: [3, 3, 4, 4], strides: 2, pad: 1 },
  ];

  it('Conv2D, FusedConv2D, Conv2DBackpropInput and Conv2DBackpropFilter', () => {
    CONVS.forEach((c, i) => {
      const conv = (x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad);
      expectBf16((r) => conv(r(rnd(c.x, 50 + i)), r(rnd(c.f, 60 + i))));
      expectBf16((r) =>
        tf.fused.conv2d({ x: r(rnd(c.x, 50 + i)) as tf.Tensor4D, filter: r(rnd(c.f, 60 + i)) as tf.Tensor4D, strides: c.strides, pad: c.pad, bias: rnd([c.f[3]!], 61), activation: 'relu' }),
      );
      expectBf16((r) => {
        const w = r(rnd(conv(rnd(c.x, 1), rnd(c.f, 1)).shape, 70 + i));
        return tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(conv(x, f), w)))([r(rnd(c.x, 50 + i)), r(rnd(c.f, 60 + i))]);
      });
    });
  });

  it('rounds to nearest even, keeps NaN and infinities', () => {
    // 1 + 2^-8 is a tie between 1 and 1 + 2^-7 (rounds to even: 1); 1 + 3 * 2^-8 is a tie between
    // 1 + 2^-7 and 1 + 2^-6 (even: 1 + 2^-6); 1 + 2^-8 + 2^-20 is above the tie (up: 1 + 2^-7).
    tf.setBackend('native');
    const a = tf.tensor2d([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, NaN, Infinity, -Infinity], [6, 1]);
    const prev = native().setAutocast('bf16');
    const y = tf.matMul(a, tf.tensor2d([[1]])).dataSync();
    native().setAutocast(prev);
    expect(Array.from(y)).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7, NaN, Infinity, -Infinity]);
  });
});
