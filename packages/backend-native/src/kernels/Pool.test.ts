import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

// The JS cpu kernels are the reference, exactly: the same maxima and the same gradient positions.

/** Values from a small set, so windows hold ties (the gradient must go to the first maximum). */
const ties = (shape: number[], seed: number) => tf.round(tf.mul(rand(shape, seed), 1.5));

type Pad = 'valid' | 'same' | number;
const CASES: Array<{ shape: [number, number, number, number]; k: number | [number, number]; s: number | [number, number]; pad: Pad; round?: 'floor' | 'round' | 'ceil' }> = [
  { shape: [2, 9, 9, 5], k: 3, s: 2, pad: 1 }, // the ResNet stem's pool, odd size
  { shape: [2, 7, 6, 3], k: 3, s: 2, pad: 'same' },
  { shape: [1, 8, 8, 16], k: 2, s: 2, pad: 'valid' },
  { shape: [3, 10, 7, 2], k: [3, 2], s: [3, 1], pad: 'valid' },
  { shape: [2, 5, 5, 9], k: 3, s: 1, pad: 'same' },
  { shape: [1, 11, 11, 4], k: 4, s: 3, pad: 2, round: 'ceil' },
  { shape: [1, 6, 6, 3], k: 1, s: 2, pad: 'valid' },
  { shape: [4, 14, 14, 64], k: 3, s: 2, pad: 1 }, // large enough to split over threads
];

describe('MaxPool and MaxPoolGrad', () => {
  it('forward equals the JS kernel (random values and ties)', () => {
    for (const [i, { shape, k, s, pad, round }] of CASES.entries()) {
      expectSameAsCpu(() => tf.maxPool(rand(shape, 10 + i) as tf.Tensor4D, k, s, pad, round), 0, 0);
      expectSameAsCpu(() => tf.maxPool(ties(shape, 20 + i) as tf.Tensor4D, k, s, pad, round), 0, 0);
    }
  });

  it('gradient equals the JS kernel, ties included', () => {
    for (const [i, { shape, k, s, pad, round }] of CASES.entries()) {
      for (const x of [() => rand(shape, 30 + i), () => ties(shape, 40 + i)]) {
        expectSameAsCpu(() => {
          const xs = x() as tf.Tensor4D;
          const dy = rand(tf.maxPool(xs, k, s, pad, round).shape, 50 + i);
          return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad, round), dy)))(xs);
        }, 0, 0);
      }
    }
  });

  it('all-equal windows, -Infinity and NaN as the JS kernel', () => {
    const special = () => tf.tensor4d([NaN, 1, -Infinity, NaN, 2, 2, -Infinity, -Infinity, 0, -0, 5, NaN, 1, 1, 1, 1], [1, 4, 4, 1]);
    for (const x of [() => tf.ones([2, 6, 6, 3]), special]) {
      expectSameAsCpu(() => tf.maxPool(x() as tf.Tensor4D, 3, 2, 'same'), 0, 0);
      expectSameAsCpu(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 1, 'valid'), 3)))(x()), 0, 0);
    }
  });

  it('int32 input goes to the JS kernel', () => {
    expectSameAsCpu(() => tf.maxPool(tf.cast(tf.mul(rand([1, 5, 5, 2], 60), 10), 'int32') as tf.Tensor4D, 2, 2, 'valid'), 0, 0);
  });

  it('keeps the tensor count flat', () => {
    tf.setBackend('native');
    const x = rand([2, 6, 6, 3], 70) as tf.Tensor4D;
    const once = () => {
      tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 3, 2, 1)))(x);
    };
    tf.tidy(once);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(once);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
