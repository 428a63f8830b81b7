import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { rand } from './test_util.js';

it('50 train steps keep the tensor count flat and RSS bounded, and the loss falls', () => {
  tf.setBackend('native');
  // A small conv + attention-like net touching every overridden kernel family.
  const images = rand([16, 8, 8, 1], 21);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 4), 'int32'), 4);
  const conv = tf.variable(tf.mul(rand([3, 3, 1, 8], 22), 0.3));
  const w = tf.variable(tf.mul(rand([8, 4], 23), 0.3));
  const b = tf.variable(tf.zeros([4]));
  const opt = tf.train.adam(0.01);
  const step = () =>
    opt.minimize(() => {
      const h = tf.relu(tf.conv2d(images as tf.Tensor4D, conv as tf.Tensor4D, 1, 'same')); // [16, 8, 8, 8]
      const t = tf.reshape(h, [16, 64, 8]); // [B, tokens, C]
      const att = tf.softmax(tf.matMul(t, t, false, true)); // [B, 64, 64]
      const pooled = tf.mean(tf.matMul(att, t), 1); // [B, C]
      const logits = tf.add(tf.matMul(pooled, w), b);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, true)!;
  const first = step().dataSync()[0]!;
  let counts: number[] = [];
  let rss: number[] = [];
  let last = first;
  for (let i = 1; i < 50; i++) {
    const loss = step();
    last = loss.dataSync()[0]!;
    loss.dispose();
    counts.push(tf.memory().numTensors);
    rss.push(process.memoryUsage().rss);
  }
  counts = counts.slice(2);
  rss = rss.slice(2);
  expect(new Set(counts).size).toBe(1);
  expect(rss[rss.length - 1]! - rss[0]!).toBeLessThan(64 * 2 ** 20);
  expect(last).toBeLessThan(first);
  opt.dispose();
  tf.dispose([images, labels, conv, w, b]);
});
