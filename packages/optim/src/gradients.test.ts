import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { cancelGradientsLastLayer, clipGradients, gradsByParamName } from './gradients.js';

const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8'));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('clipGradients', () => {
  it('clips each parameter on its own norm and returns the norms, as utils.clip_gradients', async () => {
    const c = fx.clipping as { clip: number; shapes: Record<string, number[]>; before: Record<string, number[]>; norms: number[]; after: Record<string, number[]> };
    const grads: Record<string, Tensor> = {};
    for (const [n, v] of Object.entries(c.before)) grads[n] = tf.tensor(v, c.shapes[n]);
    const before = tf.memory().numTensors;
    const norms = await clipGradients(grads, c.clip);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbs(norms, c.norms) / Math.max(...c.norms)).toBeLessThan(1e-6);
    let clipped = 0;
    for (const [n, want] of Object.entries(c.after)) {
      const got = (grads[n] as Tensor).dataSync();
      expect(maxAbs(got, want)).toBeLessThan(1e-6 * Math.max(1, ...want.map(Math.abs)));
      if (maxAbs(want, c.before[n] as number[]) > 0) clipped++;
    }
    expect(clipped).toBeGreaterThan(0); // some were clipped, some not
    expect(clipped).toBeLessThan(Object.keys(c.after).length);
    tf.dispose(Object.values(grads));
    await expect(clipGradients({}, 0)).rejects.toThrow(/clip must be > 0/);
  });
});

describe('cancelGradientsLastLayer', () => {
  it('drops last_layer gradients only while epoch < freezeLastLayer', () => {
    const mk = () => ({ 'head.last_layer.weight_v': tf.ones([2]), 'head.mlp.0.weight': tf.ones([2]) });
    const g1: Record<string, Tensor | null> = mk();
    cancelGradientsLastLayer(0, g1, 1);
    expect(Object.keys(g1)).toEqual(['head.mlp.0.weight']);
    const g2: Record<string, Tensor | null> = mk();
    cancelGradientsLastLayer(1, g2, 1);
    expect(Object.keys(g2).length).toBe(2);
    tf.dispose([...Object.values(g1), ...Object.values(g2)] as Tensor[]);
  });

  it('gradsByParamName re-keys tf.variableGrads output by parameter name', () => {
    const a = tf.variable(tf.scalar(2));
    const b = tf.variable(tf.scalar(3));
    const { value, grads } = tf.variableGrads(() => tf.mul(a, a) as tf.Scalar, [a, b]);
    const named = gradsByParamName([['w.a', a], ['w.b', b]], grads);
    expect(Object.keys(named)).toEqual(['w.a']);
    expect((named['w.a'] as Tensor).dataSync()[0]).toBe(4);
    tf.dispose([value, a, b, ...Object.values(named)]);
  });
});
