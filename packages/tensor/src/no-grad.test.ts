import { beforeAll, describe, expect, it } from 'vitest';
// Through the index, which registers tfjs's gradients.
import { initBackend, stopGradient, tf, withoutGradient } from './index.js';

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

describe('stopGradient / withoutGradient', () => {
  it('pass values through and send no gradient back (torch .detach() / no_grad)', () => {
    const x = tf.tensor1d([1, 2, 3]);
    // d/dx sum(x * stopGradient(x)) = stopGradient(x) only: [1, 2, 3], not 2x
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, stopGradient(v))))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3]);
    // Less has no gradient in tfjs: inside withoutGradient it does not break backprop
    const h = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, withoutGradient((t) => tf.cast(tf.less(t, 2.5), 'float32'), v))))(x);
    expect(Array.from(h.dataSync())).toEqual([1, 1, 0]);
    tf.dispose([x, g, h]);
  });
});
