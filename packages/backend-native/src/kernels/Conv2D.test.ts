import * as tf from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { expectSameAsCpu, rand } from '../test_util.js';

type Case = { x: number[]; f: number[]; strides: number | [number, number]; pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]]; dil?: number };
const CASES: Case[] = [
  { x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 28, 28, 1], f: [4, 4, 1, 6], strides: 4, pad: 'valid' }, // ViT patch embedding
  { x: [1, 9, 7, 2], f: [3, 2, 2, 5], strides: [2, 1], pad: 'same' },
  { x: [2, 7, 7, 4], f: [1, 1, 4, 3], strides: 1, pad: 'valid' }, // 1x1: no im2col
  { x: [1, 6, 6, 2], f: [3, 3, 2, 2], strides: 2, pad: 1 },
  { x: [1, 6, 5, 2], f: [3, 3, 2, 2], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [1, 9, 9, 2], f: [3, 3, 2, 2], strides: 1, pad: 'valid', dil: 2 },
  { x: [1, 3, 3, 1], f: [3, 3, 1, 1], strides: 1, pad: 'valid' }, // 1x1 output
  { x: [0, 4, 4, 2], f: [3, 3, 2, 2], strides: 1, pad: 'same' }, // empty batch
];

describe('Conv2D and its backprops', () => {
  CASES.forEach((c, i) => {
    it(`case ${i}: x[${c.x}] f[${c.f}] stride ${c.strides} pad ${JSON.stringify(c.pad)}${c.dil ? ` dilation ${c.dil}` : ''}`, () => {
      const conv = (x: tf.Tensor, f: tf.Tensor) =>
        tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dil ?? 1);
      expectSameAsCpu(() => conv(rand(c.x, 31), rand(c.f, 32)));
      if (c.dil) return; // tfjs has no gradient for dilated conv2d
      expectSameAsCpu(() => {
        const w = rand(c.x.slice(0, 1).concat(conv(rand(c.x), rand(c.f)).shape.slice(1)), 33);
        return tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(conv(x, f), w)))([rand(c.x, 31), rand(c.f, 32)]);
      }, 1e-4);
    });
  });

  it('propagates NaN', () => {
    expectSameAsCpu(() => tf.conv2d(tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]), tf.ones([1, 1, 1, 2]) as tf.Tensor4D, 1, 'valid'));
  });

  it('fused conv2d: bias and activations', () => {
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
      expectSameAsCpu(() =>
        tf.fused.conv2d({
          x: rand([2, 6, 6, 3], 34) as tf.Tensor4D,
          filter: rand([3, 3, 3, 4], 35) as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: rand([4], 36),
          activation,
          preluActivationWeights: activation === 'prelu' ? rand([4], 37) : undefined,
          leakyreluAlpha: 0.3,
        }),
      );
    }
  });
});
