import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { countBindingCalls, expectSameAsCpu, rand } from '../test_util.js';

type Op = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const OPS: Record<string, Op> = {
  Add: tf.add,
  Sub: tf.sub,
  Multiply: tf.mul,
  RealDiv: tf.div,
  Maximum: tf.maximum,
  Minimum: tf.minimum,
  SquaredDifference: tf.squaredDifference,
  Pow: (a, b) => tf.pow(tf.abs(a), b),
};

const SHAPES: Array<[number[], number[]]> = [
  [[3, 4], [3, 4]],
  [[2, 3, 4], [4]], // bias over rows
  [[4], [2, 3, 4]],
  [[2, 3, 4], [3, 1]],
  [[2, 1, 4], [1, 3, 1]], // both sides broadcast
  [[5, 6], []], // scalar
  [[], [5, 6]],
  [[1], [1]],
  [[2, 0, 3], [3]], // empty
  [[3, 1, 5, 1], [1, 4, 1, 2]],
];

describe('binary ops', () => {
  for (const [name, op] of Object.entries(OPS)) {
    it(`${name}: broadcasting shapes`, () => {
      for (const [sa, sb] of SHAPES) expectSameAsCpu(() => op(rand(sa, 3), rand(sb, 4)));
    });

    it(`${name}: NaN and Infinity`, () => {
      expectSameAsCpu(() => op(tf.tensor1d([NaN, 1, Infinity, -Infinity, 0, 2]), tf.tensor1d([1, NaN, 2, 3, 0, -Infinity])));
    });

    // tfjs's Maximum, Minimum and SquaredDifference gradients do not reduce broadcast dims.
    const bShape = ['Maximum', 'Minimum', 'SquaredDifference'].includes(name) ? [2, 3, 4] : [3, 1];
    it(`${name}: gradient`, () => {
      expectSameAsCpu(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(op(a, b))))([tf.add(rand([2, 3, 4], 5), 3), tf.add(rand(bShape, 6), 3)]), 1e-4);
    });
  }

  it('int32 inputs use the JS kernel and stay int32', () => {
    expectSameAsCpu(() => tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')));
    expectSameAsCpu(() => tf.mul(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), tf.scalar(3, 'int32')));
  });

  // tf.cast(int32 -> float32) shares the Int32Array in tfjs's cpu backend, so float32 tensors can
  // hold integer storage: tf.norm's exponent is one. Those must still run the C++ loop.
  it('float32 tensors cast from int32 or bool run natively', () => {
    const binary = countBindingCalls('binary');
    try {
      expectSameAsCpu(() => tf.pow(rand([5, 6], 3), tf.cast(tf.scalar(3, 'int32'), 'float32')));
      expectSameAsCpu(() => tf.mul(tf.cast(tf.tensor1d([1, -2, 7], 'int32'), 'float32'), rand([2, 3], 4)));
      expectSameAsCpu(() => tf.add(tf.cast(tf.tensor1d([true, false, true], 'bool'), 'float32'), rand([3], 5)));
      expectSameAsCpu(() => tf.norm(rand([4, 7], 6), 2, -1));
    } finally {
      binary.restore();
    }
    expect(binary.calls).toBeGreaterThanOrEqual(4);
  });

  it('x^2 is exactly the square, also at -0, NaN and the infinities', () => {
    const x = () => tf.concat([rand([40], 7), tf.tensor1d([-0, NaN, Infinity, -Infinity, 1e-30, 3e38])]);
    expectSameAsCpu(() => tf.pow(x(), tf.scalar(2)), 0, 0);
    expectSameAsCpu(() => tf.pow(x(), tf.scalar(2.5)));
  });
});
