import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { bufferPoolStats } from './index.js';
import { rand } from './test_util.js';

// Sizes at or above the pooled minimum (4096 elements).
const SHAPE = [64, 80];

it('reuses the output buffers of disposed tensors across steps', () => {
  tf.setBackend('native');
  const a = rand(SHAPE, 1);
  const b = rand(SHAPE, 2);
  const before = bufferPoolStats();
  for (let i = 0; i < 20; i++) tf.tidy(() => void tf.exp(tf.add(tf.mul(a, b), a)));
  const after = bufferPoolStats();
  expect(after.reused - before.reused).toBeGreaterThan(40);
  expect(after.allocated - before.allocated).toBeLessThan(6);
  tf.dispose([a, b]);
});

it('never recycles an array a caller has read', () => {
  tf.setBackend('native');
  const a = rand(SHAPE, 3);
  const t = tf.mul(a, 2);
  const values = t.dataSync();
  const copy = Float32Array.from(values);
  t.dispose();
  // Outputs of the same size would take a recycled buffer: the read array must not be among them.
  const others = Array.from({ length: 4 }, () => tf.mul(a, -7));
  expect(values).toEqual(copy);
  tf.dispose([a, ...others]);
});

it('keeps values shared with another tensor alive after the first is disposed', async () => {
  tf.setBackend('native');
  const a = rand(SHAPE, 4);
  const t = tf.mul(a, 3);
  // A JS cpu kernel that returns a view of its input's memory (simple slice along the first axis).
  const view = tf.slice(t, [8, 0], [32, SHAPE[1]!]);
  const expected = tf.tidy(() => tf.mul(tf.slice(a, [8, 0], [32, SHAPE[1]!]), 3)).arraySync();
  t.dispose();
  const others = Array.from({ length: 4 }, () => tf.mul(a, -5));
  expect(view.arraySync()).toEqual(expected);
  expect(await tf.add(view, 0).data()).toEqual(new Float32Array((expected as number[][]).flat()));
  tf.dispose([a, view, ...others]);
});

it('keeps a variable holding a pooled output intact while temporaries come and go', () => {
  tf.setBackend('native');
  const a = rand(SHAPE, 5);
  const v = tf.variable(tf.zeros(SHAPE));
  for (let i = 1; i <= 5; i++) {
    tf.tidy(() => {
      v.assign(tf.add(v, a));
      tf.mul(a, 9); // temporaries of the same size, disposed by tidy
    });
  }
  const expected = tf.tidy(() => tf.mul(a, 5));
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(v, expected))).dataSync()[0]!);
  expect(diff).toBeLessThan(1e-5);
  tf.dispose([a, v, expected]);
});
