import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNativeMatches, expectSameAsCpu, rand } from '../test_util.js';
import { SSL_BATCH_NORM, SSL_BATCH_NORM_GRAD } from './BatchNorm.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

// The reference is PyTorch's training BatchNorm written with plain tfjs ops on 'cpu' (statistics
// over every axis but the last, biased variance); its gradients come from tfjs autograd.
function batchNormRef(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor[] {
  const axes = [...Array(x.rank - 1).keys()];
  const mean = tf.mean(x, axes);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), axes);
  return [tf.add(tf.mul(tf.div(xc, tf.sqrt(tf.add(variance, eps))), g), b), mean, variance];
}

describe('SslBatchNorm', () => {
  const eps = 1e-5;
  // Channel counts that are and are not multiples of the vector width, one row, a single channel,
  // a large common offset (variance far below mean^2), and [40, 9, 9, 64] to split over threads.
  const cases = [
    { shape: [3, 50], offset: 0 },
    { shape: [2, 5, 3, 16], offset: 0 },
    { shape: [7, 1], offset: 0 },
    { shape: [1, 4], offset: 0 },
    { shape: [4, 3, 3, 5], offset: 1000 },
    { shape: [40, 9, 9, 64], offset: 0 },
  ];

  it('forward (y, mean, variance) matches the composite', () => {
    for (const [i, { shape, offset }] of cases.entries()) {
      const c = shape[shape.length - 1]!;
      const args = () => [tf.add(tf.mul(rand(shape, 30 + i), 3), offset), tf.add(rand([c], 40 + i), 1), rand([c], 50 + i)] as const;
      expectNativeMatches(
        () => batchNormRef(...args(), eps),
        () => {
          const [x, gamma, beta] = args();
          return run(SSL_BATCH_NORM, { x, gamma, beta }, { epsilon: eps }) as tf.Tensor[];
        },
        1e-5,
        offset ? 1e-3 : 1e-5, // the reference itself loses ~1e-4 summing values near 1000 in float32
      );
    }
  });

  it('backward matches autograd of the composite (dx, dgamma, dbeta)', () => {
    for (const [i, { shape }] of cases.entries()) {
      const c = shape[shape.length - 1]!;
      const x = () => tf.mul(rand(shape, 60 + i), 3);
      const g = () => tf.add(rand([c], 70 + i), 1);
      const b = () => rand([c], 80 + i);
      const w = () => rand(shape, 90 + i);
      expectNativeMatches(
        () => tf.grads((xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(batchNormRef(xs, gs, bs, eps)[0]!, w())))([x(), g(), b()]),
        () => {
          const [, mean, variance] = run(SSL_BATCH_NORM, { x: x(), gamma: g(), beta: b() }, { epsilon: eps }) as tf.Tensor[];
          return run(SSL_BATCH_NORM_GRAD, { dy: w(), x: x(), gamma: g(), mean: mean!, variance: variance! }, { epsilon: eps }) as tf.Tensor[];
        },
        1e-4,
        1e-5,
      );
    }
  });

  it('rejects bad shapes and dtypes by name', () => {
    tf.setBackend('native');
    const ok = { gamma: tf.ones([3]), beta: tf.zeros([3]) };
    expect(() => run(SSL_BATCH_NORM, { x: tf.zeros([2, 3]), ...ok, gamma: tf.ones([4]) }, { epsilon: 1e-5 })).toThrow(/gamma must have shape \[3\]/);
    expect(() => run(SSL_BATCH_NORM, { x: tf.zeros([3]), ...ok }, { epsilon: 1e-5 })).toThrow(/x must be \[\.\.\., C\] with at least 2 dims/);
    expect(() => run(SSL_BATCH_NORM, { x: tf.zeros([2, 3], 'int32'), ...ok }, { epsilon: 1e-5 })).toThrow(/'x' must be float32/);
    expect(() => run(SSL_BATCH_NORM, { x: tf.zeros([2, 3]), ...ok }, {})).toThrow(/'epsilon'/);
    const stats = { gamma: tf.ones([3]), mean: tf.zeros([3]), variance: tf.ones([3]) };
    expect(() => run(SSL_BATCH_NORM_GRAD, { dy: tf.zeros([2, 2]), x: tf.zeros([2, 3]), ...stats }, { epsilon: 1e-5 })).toThrow(
      /dy must have the shape of x \[2,3\]/,
    );
  });
});

describe('FusedBatchNorm', () => {
  it('matches the JS kernel for per-channel, scalar and missing parameters', () => {
    const x = () => rand([4, 5, 5, 6], 1);
    const p = (seed: number, shape = [6]) => tf.add(tf.abs(rand(shape, seed)), 0.1);
    expectSameAsCpu(() => tf.batchNorm(x(), p(2), p(3), p(4), p(5), 1e-3));
    expectSameAsCpu(() => tf.batchNorm(x(), p(2), p(3)));
    expectSameAsCpu(() => tf.batchNorm(x(), p(2, [1]), p(3), p(4, [1]), p(5), 1e-5));
    expectSameAsCpu(() => tf.batchNorm(rand([3, 7], 6), p(2, [7]), p(3, [7]), p(4, [7]), p(5, [7])));
    // A length that is neither 1 nor common: the JS kernel's cyclic indexing (fallback).
    expectSameAsCpu(() => tf.batchNorm(rand([3, 6], 7), p(2, [6]), p(3, [6]), p(4, [2]), p(5, [6])));
    // Rank-4 parameters (the Keras layout): same values, same result.
    expectSameAsCpu(() => tf.batchNorm(x(), p(2, [1, 1, 1, 6]), p(3, [1, 1, 1, 6]), p(4, [1, 1, 1, 6]), p(5, [1, 1, 1, 6])));
  });

  it('keeps the tensor count flat over repeated calls', () => {
    tf.setBackend('native');
    const x = rand([6, 8], 200);
    const g = tf.ones([8]);
    const b = tf.zeros([8]);
    const once = () => {
      const [y, mean, variance] = run(SSL_BATCH_NORM, { x, gamma: g, beta: b }, { epsilon: 1e-5 }) as tf.Tensor[];
      run(SSL_BATCH_NORM_GRAD, { dy: y!, x, gamma: g, mean: mean!, variance: variance! }, { epsilon: 1e-5 });
      tf.batchNorm(x, mean!, variance!, b, g);
    };
    tf.tidy(once);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(once);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g, b]);
  });
});
