import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

describe('Slice, SplitV, Concat, PadV2', () => {
  it('slice: boxes of any rank, size-1 and empty', () => {
    expectSameAsCpu(() => tf.slice(rand([4, 5, 6]), [1, 0, 2], [2, 5, 3]));
    expectSameAsCpu(() => tf.slice(rand([4, 5, 6]), [0, 2, 0], [4, 1, 6]));
    expectSameAsCpu(() => tf.slice(rand([4, 5, 6]), [3, 4, 5], [1, 1, 1]));
    expectSameAsCpu(() => tf.slice(rand([4, 5]), [1, 1], [0, 3]));
    expectSameAsCpu(() => tf.slice(rand([7]), 2, 4));
    expectSameAsCpu(() => tf.slice(rand([2, 3, 4, 5]), [1, 1, 1, 1], [-1, 2, 3, -1]));
  });

  it('split: equal and uneven sizes along every axis', () => {
    expectSameAsCpu(() => tf.split(rand([6, 4, 3]), 3, 0));
    expectSameAsCpu(() => tf.split(rand([6, 4, 3]), [1, 3], 1));
    expectSameAsCpu(() => tf.split(rand([6, 4, 3]), [2, 0, 1], 2));
  });

  it('concat: along every axis, with empty parts', () => {
    expectSameAsCpu(() => tf.concat([rand([2, 3], 1), rand([4, 3], 2)], 0));
    expectSameAsCpu(() => tf.concat([rand([2, 3, 4], 1), rand([2, 1, 4], 2), rand([2, 2, 4], 3)], 1));
    expectSameAsCpu(() => tf.concat([rand([2, 3], 1), tf.zeros([2, 0]), rand([2, 5], 2)], -1));
    expectSameAsCpu(() => tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')]));
  });

  it('pad: constant value, asymmetric', () => {
    expectSameAsCpu(() => tf.pad(rand([2, 3, 4]), [[1, 0], [0, 2], [3, 1]], 0));
    expectSameAsCpu(() => tf.pad(rand([2, 3]), [[1, 1], [2, 0]], -1.5));
    expectSameAsCpu(() => tf.pad(tf.zeros([0, 3]), [[1, 1], [0, 0]], 7));
  });

  it('NaN passes through untouched', () => {
    expectSameAsCpu(() => tf.concat([tf.tensor1d([NaN, 1]), tf.slice(tf.tensor1d([2, NaN, 3]), 1, 2)]));
  });

  it('gradients match', () => {
    expectSameAsCpu(() => {
      const w = rand([3, 9], 41);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const c = tf.concat([a, tf.pad(tf.slice(b, [0, 1], [3, 3]), [[0, 0], [1, 1]])], 1); // [3, 9]
        const [p, q] = tf.split(c, [4, 5], 1);
        return tf.add(tf.sum(tf.mul(c, w)), tf.sum(tf.mul(p!, p!)));
      })([rand([3, 4], 42), rand([3, 5], 43)]);
    });
  });
});
