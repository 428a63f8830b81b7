import { describe, expect, it } from 'vitest';
import { BatchNorm, Linear, Module, PAWSModel, VisionTransformer } from '@ssl/models';
import { Rng, tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { recomputeBatchNormStats, withEvalBatchNormStats } from './eval-images.js';
import type { EvalImages } from './eval-images.js';

/** flatten -> Linear -> BatchNorm: the BatchNorm sees the linear features of each batch. */
class TinyBn extends Module {
  readonly fc = this.registerModule('fc', new Linear(4, 3, { rng: 1 }));
  readonly bn = this.registerModule('bn', new BatchNorm(3));
  forward(x: Tensor): Tensor {
    return tf.tidy(() => this.bn.forward(this.fc.forward(tf.reshape(x, [x.shape[0] as number, 4]))));
  }
}

function images(count: number, shift: number, seed: number): EvalImages {
  const rng = new Rng(seed);
  const data = Float32Array.from({ length: count * 4 }, () => rng.random() * 2 + shift);
  return { data, count, height: 2, width: 2, channels: 1, labels: new Int32Array(count) };
}

describe('recomputeBatchNormStats', () => {
  it('replaces running statistics blended over crop resolutions with the mean batch statistics of the eval images', () => {
    const m = new TinyBn();
    const evalImgs = images(10, 0, 1);
    // training-like history: statistics of other inputs (as PAWS's small multi-crop views)
    m.train();
    tf.tidy(() => {
      for (let i = 0; i < 20; i++) m.forward(tf.tensor4d(images(8, 5, 10 + i).data, [8, 2, 2, 1]));
    });
    expect(recomputeBatchNormStats(m, evalImgs, { batchSize: 4 })).toBe(1);
    expect(m.training).toBe(true); // mode restored
    expect(m.bn.options.momentum).toBeUndefined();
    // reference by hand: batches [0,4), [4,8), [8,10) of the linear features, equal weight each
    const feats = tf.tidy(() => m.fc.forward(tf.tensor2d(evalImgs.data, [10, 4])).arraySync() as number[][]);
    const batches = [feats.slice(0, 4), feats.slice(4, 8), feats.slice(8, 10)];
    const mean = [0, 1, 2].map((c) => batches.reduce((a, b) => a + b.reduce((x, r) => x + (r[c] as number), 0) / b.length, 0) / 3);
    const uvar = [0, 1, 2].map((c) =>
      batches.reduce((a, b) => {
        const mu = b.reduce((x, r) => x + (r[c] as number), 0) / b.length;
        return a + b.reduce((x, r) => x + ((r[c] as number) - mu) ** 2, 0) / (b.length - 1);
      }, 0) / 3,
    );
    const rm = m.bn.runningMean.dataSync();
    const rv = m.bn.runningVar.dataSync();
    mean.forEach((v, c) => expect(rm[c]).toBeCloseTo(v, 5));
    uvar.forEach((v, c) => expect(rv[c]).toBeCloseTo(v, 5));
    m.dispose();
  });

  it('withEvalBatchNormStats evaluates with the re-estimated statistics and puts the training ones back', async () => {
    const m = new TinyBn();
    m.train();
    tf.tidy(() => {
      m.forward(tf.tensor4d(images(8, 5, 7).data, [8, 2, 2, 1]));
    });
    const before = [m.bn.runningMean, m.bn.runningVar, m.bn.numBatchesTracked].map((v) => Array.from(v.dataSync()));
    const evalImgs = images(12, 0, 1);
    const n = tf.memory().numTensors;
    const inside = await withEvalBatchNormStats(m, evalImgs, async () => Array.from(m.bn.runningMean.dataSync()));
    expect(tf.memory().numTensors).toBe(n);
    const ref = new TinyBn();
    recomputeBatchNormStats(ref, evalImgs);
    expect(inside).toEqual(Array.from(ref.bn.runningMean.dataSync()));
    expect([m.bn.runningMean, m.bn.runningVar, m.bn.numBatchesTracked].map((v) => Array.from(v.dataSync()))).toEqual(before);
    m.dispose();
    ref.dispose();
  });

  it('leaves a model without BatchNorm alone and keeps the tensor count flat on a PAWSModel', () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, depth: 1, numHeads: 2, seed: 2 });
    const imgs: EvalImages = { ...images(6, 0, 3), height: 8, width: 8, data: Float32Array.from({ length: 6 * 64 }, (_, i) => Math.sin(i)) };
    expect(recomputeBatchNormStats(vit, imgs)).toBe(0);
    const enc = new PAWSModel(vit, { hiddenDim: 8, outputDim: 8, usePred: true, seed: 4 });
    enc.eval();
    const n = tf.memory().numTensors;
    expect(recomputeBatchNormStats(enc, imgs, { batchSize: 5 })).toBe(4); // fc.bn1, fc.bn2, pred.bn1, pred.bn2
    expect(tf.memory().numTensors).toBe(n);
    expect(enc.training).toBe(false);
    // 6 images in batches of 5: the lone last image joins the first batch (BatchNorm needs 2)
    const y = tf.tidy(() => enc.fc.bn1.runningVar.dataSync());
    expect(Array.from(y).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    enc.dispose();
  });
});
