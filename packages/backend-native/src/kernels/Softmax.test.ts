import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

describe('Softmax', () => {
  it('matches on rows of many widths', () => {
    for (const shape of [[4, 10], [2, 3, 65], [1], [5, 1], [0, 3], [3, 0]]) {
      expectSameAsCpu(() => tf.softmax(rand(shape, 15)));
    }
  });

  it('is stable for large logits and propagates NaN', () => {
    expectSameAsCpu(() => tf.softmax(tf.tensor2d([[1000, 1001, 999], [-1000, -1001, -999]])));
    expectSameAsCpu(() => tf.softmax(tf.tensor2d([[NaN, 1, 2], [1, 2, 3]])));
  });

  it('gradient matches', () => {
    expectSameAsCpu(() => {
      const w = rand([3, 7], 16);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(x), w)))(rand([3, 7], 17));
    });
  });
});
