import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

describe('Transpose', () => {
  const cases: Array<[number[], number[]]> = [
    [[5, 7], [1, 0]],
    [[40, 70], [1, 0]], // several tiles, ragged edges
    [[2, 5, 3, 4], [0, 2, 1, 3]], // attention head split: last dim stays
    [[2, 3, 4, 5], [0, 1, 3, 2]], // batched 2-D transpose
    [[2, 3, 4, 5], [3, 1, 0, 2]], // odd permutation
    [[3, 1, 4], [2, 0, 1]], // size-1 dim
    [[1, 1, 1], [2, 1, 0]],
    [[6], [0]],
    [[2, 0, 3], [2, 0, 1]], // empty
    [[2, 3, 2, 3, 2], [4, 2, 0, 3, 1]],
  ];
  for (const [shape, perm] of cases) {
    it(`[${shape}] perm [${perm}]`, () => {
      expectSameAsCpu(() => tf.transpose(rand(shape), perm));
    });
  }

  it('keeps NaN and falls back for int32 and bool', () => {
    expectSameAsCpu(() => tf.transpose(tf.tensor2d([[NaN, 1, 2], [3, Infinity, -0]])));
    expectSameAsCpu(() => tf.transpose(tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32')));
    expectSameAsCpu(() => tf.transpose(tf.tensor2d([[1, 0, 1], [0, 0, 1]], [2, 3], 'bool')));
  });

  it('gradient matches', () => {
    expectSameAsCpu(() => {
      const w = rand([4, 2, 3, 5], 9);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.transpose(x, [2, 0, 3, 1]), tf.transpose(w, [2, 0, 3, 1]))))(rand([4, 2, 3, 5], 2));
    });
  });
});
