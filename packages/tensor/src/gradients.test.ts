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

// d/dx sum(tile(x, reps) * w): each element of x collects the weights of all its copies.
function tileGradReference(shape: number[], reps: number[], w: Float32Array): Float32Array {
  const outShape = shape.map((s, i) => s * reps[i]!);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const index = new Array<number>(outShape.length).fill(0);
  for (let flat = 0; flat < w.length; flat++) {
    let source = 0;
    for (let axis = 0; axis < shape.length; axis++) source = source * shape[axis]! + (index[axis]! % shape[axis]!);
    out[source]! += w[flat]!;
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      if (++index[axis]! < outShape[axis]!) break;
      index[axis] = 0;
    }
  }
  return out;
}

it.each([
  [[3], [4]],
  [[2, 3], [3, 2]],
  [[1, 1, 5], [7, 1, 1]],
  [[2, 1, 3], [2, 3, 1]],
  [[2, 1, 2, 3], [1, 2, 3, 2]],
  [[2, 1, 2, 1, 2], [2, 2, 1, 3, 1]],
])('the Tile gradient of shape %j tiled %j sums the copies', (shape, reps) => {
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(Array.from({ length: size }, (_, i) => i - 2), shape);
  const outSize = size * reps.reduce((a, b) => a * b, 1);
  // Distinct weights per output element, so a copy added to the wrong place changes the result.
  const w = Float32Array.from({ length: outSize }, (_, i) => ((i * 7) % 13) - 6 + i / 64);
  const wt = tf.tensor(w, shape.map((s, i) => s * reps[i]!));
  const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.tile(a, reps), wt)))(x);
  expect(g.shape).toEqual(shape);
  const expected = tileGradReference(shape, reps, w);
  const actual = g.dataSync();
  for (let i = 0; i < size; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 4);
  tf.dispose([x, wt, g]);
});

it('the Tile gradient is a few kernels, not two per repetition', async () => {
  const cls = tf.randomNormal([1, 1, 8]);
  const dy = tf.randomNormal([256, 1, 8]);
  const info = await tf.profile(() => tf.grads((a: tf.Tensor) => tf.tile(a, [256, 1, 1]))([cls], dy));
  const backward = info.kernels.filter((k) => k.name !== 'Tile');
  expect(backward.length).toBeLessThanOrEqual(4);
  tf.dispose([cls, dy]);
});
