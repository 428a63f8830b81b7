import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './fixtures.test-helpers.js';
import { createModel, listModels, modelFamily, registerModel } from './registry.js';
import { specOf } from './spec.js';

const COUNTS = JSON.parse(readFileSync(join(FIXTURES, 'param_counts.json'), 'utf8')) as Record<string, number>;

/** Feature width of each preset. */
const FEATURES: Record<string, number> = {
  vit_tiny: 192, vit_small: 384, vit_base: 768,
  resnet18: 512, resnet34: 512, resnet50: 2048,
  resnet18_cifar: 512, resnet34_cifar: 512, resnet50_cifar: 2048, wide_resnet28_2: 128,
};

/** Input side for the full-size forward check (CIFAR stems keep full resolution: 8px keeps it quick). */
const SIDE: Record<string, number> = { resnet18_cifar: 8, resnet34_cifar: 8, resnet50_cifar: 8, wide_resnet28_2: 8 };

/**
 * The gradient check runs on a narrow copy of each preset (every block and parameter name of the
 * preset, fewer channels) on a small input: the pure-JS backend's conv backprop would need minutes
 * for full-width ResNets.
 */
const NARROW: Record<string, { options: object; side: number }> = {
  vit_tiny: { options: { embedDim: 24 }, side: 32 },
  vit_small: { options: { embedDim: 48 }, side: 32 },
  vit_base: { options: { embedDim: 96 }, side: 32 },
  resnet18: { options: { baseWidth: 8 }, side: 32 },
  resnet34: { options: { baseWidth: 8 }, side: 32 },
  resnet50: { options: { baseWidth: 8 }, side: 32 },
  resnet18_cifar: { options: { baseWidth: 8 }, side: 8 },
  resnet34_cifar: { options: { baseWidth: 8 }, side: 8 },
  resnet50_cifar: { options: { baseWidth: 8 }, side: 8 },
  wide_resnet28_2: { options: {}, side: 8 },
};

describe('model registry', () => {
  it('lists every preset', () => {
    expect(listModels().sort()).toEqual(Object.keys(FEATURES).sort());
    expect(() => createModel('vit_huge')).toThrow(/unknown model 'vit_huge'; known: vit_tiny/);
  });

  it('knows each preset\'s family, the arch of the spec it builds', () => {
    for (const name of listModels()) {
      const m = createModel(name, { seed: 1, ...NARROW[name]!.options });
      expect(specOf(m).arch, name).toBe(modelFamily(name));
      m.dispose();
    }
    expect(() => modelFamily('vit_huge')).toThrow(/unknown model 'vit_huge'/);
    expect(() => registerModel('vit_small', 'vit', () => createModel('vit_tiny'))).toThrow(/already registered/);
  });

  it('takes options of the preset\'s family only: a ViT\'s depth is blocks, a WRN\'s layers, a ResNet has none', () => {
    const vit = createModel('vit_tiny', { depth: 2, embedDim: 24, numHeads: 2, patchSize: 8, imgSize: 16, seed: 1 });
    expect(specOf(vit)).toMatchObject({ arch: 'vit', options: { depth: 2, embedDim: 24, numHeads: 2, patchSize: 8, imgSize: 16 } });
    vit.dispose();
    const wrn = createModel<'wide_resnet'>('wide_resnet28_2', { depth: 10, widenFactor: 1, seed: 1 });
    expect(specOf(wrn)).toEqual({ arch: 'wide_resnet', options: { depth: 10, widenFactor: 1, inChans: 3 } });
    wrn.dispose();
    expect(() => createModel('resnet18', { depth: 12, patchSize: 16 })).toThrow(
      /createModel\('resnet18'\): 'depth', 'patchSize' are no resnet option; resnet options: block, layers, /,
    );
    expect(() => createModel('vit_tiny', { baseWidth: 8 } as never)).toThrow(/'baseWidth' is no vit option/);
    // undefined options are absent options, as before
    const r = createModel('resnet18_cifar', { baseWidth: 8, widen: undefined, seed: 1 });
    expect(specOf(r)).toMatchObject({ arch: 'resnet', options: { baseWidth: 8, cifarStem: true, layers: [2, 2, 2, 2] } });
    r.dispose();
  });

  for (const name of Object.keys(FEATURES)) {
    it(`${name}: PyTorch's parameter count, output shape, no NaN; a finite gradient for every trainable parameter`, () => {
      const model = createModel(name, { seed: 1 });
      expect(model.numParameters()).toBe(COUNTS[name]);
      expect(model.numFeatures).toBe(FEATURES[name]);
      const side = SIDE[name] ?? 32;
      const x = tf.randomNormal([2, side, side, 3], 0, 1, 'float32', 7);
      const y = model.forward(x);
      expect(y.shape).toEqual([2, FEATURES[name]]);
      expect(tf.tidy(() => tf.any(tf.isNaN(y)).dataSync()[0])).toBe(0);
      const names = model.namedParameters().map(([n]) => n);
      tf.dispose([x, y]);
      model.dispose();

      const { options, side: s } = NARROW[name]!;
      const narrow = createModel(name, { seed: 1, ...options });
      expect(narrow.namedParameters().map(([n]) => n)).toEqual(names);
      const xs = tf.randomNormal([2, s, s, 3], 0, 1, 'float32', 7);
      const params = narrow.trainableParameters();
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(narrow.forward(xs))) as tf.Scalar, params);
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      const named = narrow.namedTrainableParameters();
      expect(named.filter(([, v]) => grads[v.name] === undefined).map(([n]) => n)).toEqual([]);
      expect(named.filter(([, v]) => !tf.tidy(() => tf.all(tf.isFinite(grads[v.name]!)).dataSync()[0])).map(([n]) => n)).toEqual([]);
      // something actually flows: nearly every parameter gets a non-zero gradient
      const nonzero = params.filter((v) => tf.tidy(() => tf.max(tf.abs(grads[v.name]!)).dataSync()[0]! > 0)).length;
      expect(nonzero / params.length).toBeGreaterThan(0.9);
      tf.dispose([xs, value, ...Object.values(grads)]);
      narrow.dispose();
    });
  }
});
