import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './fixtures.test-helpers.js';
import { createModel, listModels } from './registry.js';

const COUNTS = JSON.parse(readFileSync(join(FIXTURES, 'param_counts.json'), 'utf8')) as Record<string, number>;

/** Feature width of each preset. */
const FEATURES: Record<string, number> = {
  vit_tiny: 192, vit_small: 384, vit_base: 768,
};

/** Presets too big for a quick gradient check at full depth, and the reduction used for it. */
const REDUCED: Record<string, object> = { vit_base: { depth: 2 } };

describe('model registry', () => {
  it('lists every preset', () => {
    expect(listModels().sort()).toEqual(Object.keys(FEATURES).sort());
    expect(() => createModel('vit_huge')).toThrow(/unknown model 'vit_huge'; known: vit_tiny/);
  });

  for (const name of Object.keys(FEATURES)) {
    it(`${name}: builds, PyTorch's parameter count, output shape, no NaN, a finite gradient for every trainable parameter`, () => {
      let model = createModel(name, { seed: 1 });
      if (COUNTS[name] !== undefined) expect(model.numParameters()).toBe(COUNTS[name]);
      expect(model.numFeatures).toBe(FEATURES[name]);
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 7);
      if (REDUCED[name]) {
        // Full size: one forward for shape and NaN; the gradient check runs on a shallower copy
        // (same block structure) to keep the suite fast on the pure-JS backend.
        const y = model.forward(x);
        expect(y.shape).toEqual([2, FEATURES[name]]);
        expect(tf.any(tf.isNaN(y)).dataSync()[0]).toBe(0);
        y.dispose();
        model.dispose();
        model = createModel(name, { seed: 1, ...REDUCED[name] });
      }
      const params = model.trainableParameters();
      const { value, grads } = tf.variableGrads(() => {
        const y = model.forward(x);
        expect(y.shape).toEqual([2, FEATURES[name]]);
        expect(tf.any(tf.isNaN(y)).dataSync()[0]).toBe(0);
        return tf.sum(tf.square(y)) as tf.Scalar;
      }, params);
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      const missing = model.namedTrainableParameters().filter(([, v]) => grads[v.name] === undefined).map(([n]) => n);
      expect(missing).toEqual([]);
      const bad = model.namedTrainableParameters()
        .filter(([, v]) => !tf.tidy(() => tf.all(tf.isFinite(grads[v.name]!)).dataSync()[0]))
        .map(([n]) => n);
      expect(bad).toEqual([]);
      // something actually flows: most parameters get a non-zero gradient
      const nonzero = params.filter((v) => tf.tidy(() => tf.max(tf.abs(grads[v.name]!)).dataSync()[0]! > 0)).length;
      expect(nonzero / params.length).toBeGreaterThan(0.9);
      tf.dispose([x, value, ...Object.values(grads)]);
      model.dispose();
    });
  }
});
