import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

describe('Tile', () => {
  const cases: Array<[number[], number[]]> = [
    [[5], [3]],
    [[2, 3], [2, 1]],
    [[1, 1, 1, 7], [4, 3, 3, 1]], // BatchNorm's broadcast gradient
    [[3, 1], [1, 5]],
    [[2, 3, 1, 2, 1, 2], [1, 2, 3, 1, 2, 2]],
    [[2, 0, 3], [2, 2, 2]],
    [[2, 3], [0, 1]],
    [[1, 64], [2000, 1]], // split over threads
  ];

  it('equals the JS kernel for float32, int32 and bool', () => {
    for (const [i, [shape, reps]] of cases.entries()) {
      expectSameAsCpu(() => tf.tile(rand(shape, 10 + i), reps), 0, 0);
      expectSameAsCpu(() => tf.tile(tf.cast(tf.mul(rand(shape, 20 + i), 100), 'int32'), reps), 0, 0);
      expectSameAsCpu(() => tf.tile(tf.greater(rand(shape, 30 + i), 0), reps), 0, 0);
    }
  });

  it('scalar-like and string inputs go to the JS kernel; bad reps are named', () => {
    expectSameAsCpu(() => tf.tile(tf.tensor1d([1.5]), [4]), 0, 0);
    tf.setBackend('native');
    expect(tf.tile(tf.tensor1d(['a', 'b']), [2]).arraySync()).toEqual(['a', 'b', 'a', 'b']);
    expect(() => tf.engine().runKernel('Tile', { x: tf.zeros([2, 3]) }, { reps: [2] })).toThrow(/reps must be 2 non-negative integers/);
  });

  it('keeps the tensor count flat', () => {
    tf.setBackend('native');
    const x = rand([2, 3], 1);
    tf.tidy(() => {
      tf.tile(x, [2, 2]);
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        tf.tile(x, [3, 2]);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
