import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

type Op = (x: tf.Tensor, axis?: number | number[], keepDims?: boolean) => tf.Tensor;
const OPS: Record<string, Op> = { Sum: tf.sum, Max: tf.max, Min: tf.min, Prod: tf.prod, Mean: tf.mean };

const AXES: Array<number[] | undefined> = [undefined, [0], [1], [2], [0, 1], [1, 2], [0, 2], [-1]];

describe('reductions', () => {
  for (const [name, op] of Object.entries(OPS)) {
    it(`${name}: every axis set, keepDims both ways`, () => {
      for (const axis of AXES) {
        for (const keepDims of [false, true]) {
          expectSameAsCpu(() => op(rand([3, 4, 5], 11), axis, keepDims));
        }
      }
      expectSameAsCpu(() => op(rand([2, 3, 4, 5], 12), [0, 2]));
      expectSameAsCpu(() => op(rand([1, 7, 1], 13), [0, 2]));
      expectSameAsCpu(() => op(rand([4, 1], 13), 1));
    });

    it(`${name}: NaN propagates`, () => {
      expectSameAsCpu(() => op(tf.tensor2d([[1, NaN, 3], [4, 5, 6], [NaN, -1, 2]]), 1));
      expectSameAsCpu(() => op(tf.tensor2d([[1, NaN, 3], [4, 5, 6], [NaN, -1, 2]]), 0));
    });

    it(`${name}: empty inputs follow the JS kernel`, () => {
      expectSameAsCpu(() => op(tf.zeros([0, 3]), 1));
      expectSameAsCpu(() => op(tf.zeros([2, 0]), 0));
    });

    it(`${name}: gradient`, () => {
      expectSameAsCpu(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(op(x, [0, 2]))))(rand([3, 4, 5], 14)), 1e-4);
    });
  }

  it('int32 sums use the JS kernel and stay int32', () => {
    expectSameAsCpu(() => tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0));
  });

  it('a large sum accumulates in double like the JS kernel', () => {
    expectSameAsCpu(() => tf.sum(tf.add(tf.zeros([100000]), 0.1)), 1e-7, 0);
  });

  it('rejects an out-of-range axis', () => {
    tf.setBackend('native');
    expect(() => tf.sum(rand([2, 3]), 2)).toThrow(/axis/i);
  });
});
