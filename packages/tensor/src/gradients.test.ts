import { expect, it } from 'vitest';
import { tf } from './index.js';

it('registers tfjs gradients and chained tensor methods', () => {
  const x = tf.tensor1d([1, -2, 3]);
  // d/dx sum(x^2 / 2 + relu(x)) = x + (x > 0)
  const g = tf.grad((a: tf.Tensor) => tf.add(tf.div(tf.sum(tf.square(a)), 2), tf.sum(tf.relu(a))))(x);
  expect(Array.from(g.dataSync())).toEqual([2, -2, 4]);
  // The chained methods exist at run time; tfjs-core's Node typings do not declare them.
  expect(Array.from((x as unknown as { square(): tf.Tensor }).square().dataSync())).toEqual([1, 4, 9]);
  tf.dispose([x, g]);
});
