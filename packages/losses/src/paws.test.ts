import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { makeLabelsMatrix, pawsLoss } from './paws.js';

interface PawsCase {
  options: { multicrop: number; tau: number; T: number; meMax: boolean };
  classes: number;
  sPerClass: number;
  smoothing: number;
  supervisedViews: number;
  batch: number;
  dim: number;
  nSupport: number;
  z: number[];
  h: number[];
  labels: number[];
  loss: number;
  rloss: number;
  zeroedTargets: number;
  gradZ: number[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/losses.json', import.meta.url), 'utf8'));

function maxRelErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i] as number));
    err = Math.max(err, Math.abs((actual[i] as number) - (expected[i] as number)));
  }
  return err / Math.max(scale, 1e-30);
}

describe('makeLabelsMatrix', () => {
  it('matches the official make_labels_matrix (smoothing, world size, unique classes)', () => {
    for (const c of fx.labels as Array<{ numClasses: number; sBatchSize: number; worldSize: number; uniqueClasses: boolean; smoothing: number; shape: number[]; values: number[] }>) {
      const m = makeLabelsMatrix(c);
      expect(m.shape).toEqual(c.shape);
      expect(maxRelErr(m.dataSync(), c.values)).toBeLessThan(1e-7);
      m.dispose();
    }
    expect(() => makeLabelsMatrix({ numClasses: 0, sBatchSize: 1 })).toThrow(/numClasses must be a positive integer/);
  });
});

describe('pawsLoss', () => {
  for (const [i, c] of (fx.paws as PawsCase[]).entries()) {
    it(`case ${i} (multicrop ${c.options.multicrop}, meMax ${c.options.meMax}): loss, rloss and the anchor gradient match PyTorch`, () => {
      expect(c.zeroedTargets).toBeGreaterThan(0); // the < 1e-4 zeroing path is exercised
      const paws = pawsLoss(c.options);
      const nViews = (2 + c.options.multicrop) * c.batch;
      const z = tf.tensor2d(c.z, [c.nSupport + nViews, c.dim]);
      const h = tf.tensor2d(c.h, [c.nSupport + 2 * c.batch, c.dim]);
      const labels = tf.tensor2d(c.labels, [c.nSupport, c.classes]);
      const before = tf.memory().numTensors;
      let loss = 0;
      let rloss = 0;
      const grad = tf.grad((zz: Tensor) => {
        const anchorSupports = tf.slice(zz, [0, 0], [c.nSupport, c.dim]);
        const anchorViews = tf.slice(zz, [c.nSupport, 0], [nViews, c.dim]);
        const targetSupports = tf.slice(h, [0, 0], [c.nSupport, c.dim]);
        const tv = tf.slice(h, [c.nSupport, 0], [2 * c.batch, c.dim]);
        // global views swapped, as paws_train.py
        const targetViews = tf.concat([tf.slice(tv, [c.batch, 0], [c.batch, c.dim]), tf.slice(tv, [0, 0], [c.batch, c.dim])], 0);
        const out = paws(anchorViews, anchorSupports, labels, targetViews, targetSupports, labels);
        loss = out.loss.dataSync()[0] as number;
        rloss = out.rloss.dataSync()[0] as number;
        return tf.add(out.loss, out.rloss);
      })(z);
      expect(Math.abs(loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-5);
      if (c.options.meMax) expect(Math.abs(rloss - c.rloss) / Math.abs(c.rloss)).toBeLessThan(1e-5);
      else expect(rloss).toBe(0);
      expect(maxRelErr(grad.dataSync(), c.gradZ)).toBeLessThan(1e-5);
      grad.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([z, h, labels]);
    });
  }

  it('passes no gradient to the targets (h), even when the tape reaches them', () => {
    const c = (fx.paws as PawsCase[])[0] as PawsCase;
    const paws = pawsLoss(c.options);
    const nViews = (2 + c.options.multicrop) * c.batch;
    const z = tf.tensor2d(c.z, [c.nSupport + nViews, c.dim]);
    const h = tf.tensor2d(c.h, [c.nSupport + 2 * c.batch, c.dim]);
    const labels = tf.tensor2d(c.labels, [c.nSupport, c.classes]);
    const [gz, gh] = tf.grads((zz: Tensor, hh: Tensor) => {
      const out = paws(
        tf.slice(zz, [c.nSupport, 0], [nViews, c.dim]), tf.slice(zz, [0, 0], [c.nSupport, c.dim]), labels,
        tf.slice(hh, [c.nSupport, 0], [2 * c.batch, c.dim]), tf.slice(hh, [0, 0], [c.nSupport, c.dim]), labels,
      );
      return tf.add(out.loss, out.rloss);
    })([z, h]) as [Tensor, Tensor];
    expect(Array.from(gh.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(gz.dataSync()).some((v) => v !== 0)).toBe(true);
    tf.dispose([z, h, labels, gz, gh]);
  });

  it('rejects mismatched inputs with clear errors', () => {
    const paws = pawsLoss({ multicrop: 1 });
    const x = tf.zeros([7, 4]);
    const s = tf.zeros([4, 4]);
    const y = tf.zeros([4, 2]);
    expect(() => paws(x, s, y, tf.zeros([4, 4]), s, y)).toThrow(/anchorViews rows \(7\) must be \(2 \+ multicrop=1\) \* batch/);
    const a = tf.zeros([6, 4]);
    expect(() => paws(a, s, y, tf.zeros([3, 4]), s, y)).toThrow(/targetViews must have 4 rows/);
    expect(() => paws(a, s, tf.zeros([3, 2]), tf.zeros([4, 4]), s, y)).toThrow(/anchorSupportLabels must have 4 rows/);
    expect(() => pawsLoss({ tau: 0 })).toThrow(/tau must be > 0/);
  });
});
