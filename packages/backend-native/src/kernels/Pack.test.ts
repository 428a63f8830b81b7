import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

describe('Pack and Unpack', () => {
  it('stack along every axis, negative axis, single input', () => {
    for (const axis of [0, 1, 2, -1]) expectSameAsCpu(() => tf.stack([rand([2, 3], 1), rand([2, 3], 2), rand([2, 3], 3)], axis));
    expectSameAsCpu(() => tf.stack([rand([4], 1)]));
    expectSameAsCpu(() => tf.stack([tf.zeros([0, 2]), tf.zeros([0, 2])], 1));
    expectSameAsCpu(() => tf.stack([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')]));
  });

  it('unstack along every axis, size-1 axis', () => {
    for (const axis of [0, 1, 2, -1]) expectSameAsCpu(() => tf.unstack(rand([3, 2, 4], 4), axis));
    expectSameAsCpu(() => tf.unstack(rand([1, 5], 5)));
    expectSameAsCpu(() => tf.unstack(tf.tensor2d([[NaN, 1], [2, 3]])));
  });

  it('gradients match (unstack of attention q, k, v)', () => {
    expectSameAsCpu(() => {
      const w = rand([2, 4], 6);
      return tf.grad((x: tf.Tensor) => {
        const [q, k, v] = tf.unstack(x) as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.sum(tf.mul(tf.stack([tf.mul(q, k), v], 1), tf.expandDims(w, 1)));
      })(rand([3, 2, 4], 7));
    });
  });
});
