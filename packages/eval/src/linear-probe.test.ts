import { readFileSync } from 'node:fs';
import { Rng, tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { FashionMNIST, fashionMnistFixtureDir } from '@ssl/data';
import { datasetBatchSource, extractFeatures, linearProbeFeatures, tensorBatchSource, type IntermediateLayersModel } from './features.js';
import { evaluateLinearProbe, resizedCropFlip, trainLinearProbe } from './linear-probe.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/linear_probe.json', import.meta.url), 'utf8')) as {
  N: number; D: number; C: number; epochs: number; lr: number; x: number[]; y: number[];
  w0: number[]; b0: number[]; losses: number[]; weight: number[]; bias: number[];
};

/** Features stored as 1x1 "images": the embedding just flattens them. */
const flatEmbed = (x: tf.Tensor4D): tf.Tensor2D => tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;

describe('linear probe', () => {
  it('follows eval_linear SGD + cosine schedule exactly (PyTorch fixture)', async () => {
    const images = tf.tensor4d(ref.x, [ref.N, 1, 1, ref.D]);
    const losses: number[] = [];
    const probe = await trainLinearProbe({
      embed: flatEmbed, train: tensorBatchSource(images), trainLabels: ref.y, numClasses: ref.C,
      epochs: ref.epochs, lr: ref.lr, batchSize: ref.N, augment: null,
      init: { weight: Float32Array.from(ref.w0), bias: Float32Array.from(ref.b0) },
      onEpoch: (_e, loss) => losses.push(loss),
    });
    losses.forEach((l, i) => expect(l).toBeCloseTo(ref.losses[i]!, 5));
    const w = probe.weight.dataSync();
    ref.weight.forEach((v, i) => expect(Math.abs(w[i]! - v)).toBeLessThan(1e-5));
    const b = probe.bias.dataSync();
    ref.bias.forEach((v, i) => expect(Math.abs(b[i]! - v)).toBeLessThan(1e-5));
    probe.dispose();
    images.dispose();
  });

  it('learns separable classes with the default augmentation-free path and keeps memory flat', async () => {
    const rng = new Rng(3);
    const N = 60;
    const labels = Array.from({ length: N }, (_, i) => i % 3);
    const x = labels.flatMap((c) => [0, 1, 2, 3].map((j) => (j === c ? 3 : 0) + 0.3 * rng.normal()));
    const images = tf.tensor4d(x, [N, 1, 1, 4]);
    const before = tf.memory().numTensors;
    const probe = await trainLinearProbe({
      embed: flatEmbed, train: tensorBatchSource(images), trainLabels: labels, numClasses: 3,
      epochs: 10, lr: 20, batchSize: 16, augment: null, seed: 1,
    });
    const acc = await evaluateLinearProbe(probe, tensorBatchSource(images), labels);
    expect(acc.top1).toBe(100);
    probe.dispose();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it('crops and flips batches reproducibly from the seed', () => {
    const img = tf.tensor4d(Array.from({ length: 2 * 4 * 4 }, (_, i) => i), [2, 4, 4, 1]);
    const a = resizedCropFlip(img, new Rng(9));
    const b = resizedCropFlip(img, new Rng(9));
    expect(a.shape).toEqual([2, 4, 4, 1]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    // 1x4 rows with values 0..3: a full-image crop returns the row or its mirror
    const row = tf.tensor4d([0, 1, 2, 3], [1, 1, 4, 1]);
    const outs = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const o = resizedCropFlip(row, new Rng(seed));
      outs.add(Array.from(o.dataSync()).map((v) => v.toFixed(3)).join(','));
      o.dispose();
    }
    expect(outs.size).toBeGreaterThan(2);
    tf.dispose([img, a, b, row]);
  });
});

describe('feature extraction', () => {
  it('extracts L2-normalised features batch by batch with flat memory', async () => {
    const images = tf.randomNormal([10, 2, 2, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const m = await extractFeatures(flatEmbed, tensorBatchSource(images), { batchSize: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect([m.rows, m.cols]).toEqual([10, 12]);
    const raw = images.dataSync();
    for (let r = 0; r < 10; r++) {
      const row = raw.subarray(r * 12, r * 12 + 12);
      const n = Math.hypot(...row);
      for (let j = 0; j < 12; j++) expect(m.data[r * 12 + j]).toBeCloseTo(row[j]! / n, 5);
    }
    const un = await extractFeatures(flatEmbed, tensorBatchSource(images), { batchSize: 4, normalize: false });
    expect(Array.from(un.data)).toEqual(Array.from(raw));
    images.dispose();
  });

  it('reads a dataset as normalised NHWC batches', async () => {
    const ds = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'test' });
    const src = datasetBatchSource(ds, { mean: [0.5], std: [0.25], indices: [3, 1, 4] });
    expect(src.size).toBe(3);
    expect(Array.from(src.labels())).toEqual([3, 1, 4].map((i) => ds.targets[i]!));
    const x = await src.batch(1, 3);
    expect(x.shape).toEqual([2, 28, 28, 1]);
    const v = x.dataSync();
    const raw = ds.get(4).image.data;
    expect(v[784 + 300]).toBeCloseTo((raw[300]! / 255 - 0.5) / 0.25, 6);
    x.dispose();
    await expect(Promise.resolve().then(() => datasetBatchSource(ds, { mean: [0.5, 0.5], std: [1, 1] }).batch(0, 1))).rejects.toThrow(/2\/2 values for 1 channels/);
  });

  it('builds eval_linear features: last-n CLS, and interleaved CLS/mean for n = 1', () => {
    // two blocks, B = 1, N+1 = 3 tokens, D = 2: block k token t = [10k + t, -(10k + t)]
    const model: IntermediateLayersModel = {
      getIntermediateLayers: (_x, n) =>
        Array.from({ length: n }, (_, i) => {
          const k = 2 - n + i;
          return tf.tensor3d([0, 1, 2].flatMap((t) => [10 * k + t, -(10 * k + t)]), [1, 3, 2]);
        }),
    };
    const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    const two = linearProbeFeatures(model, x, { nLastBlocks: 2 });
    expect(Array.from(two.dataSync())).toEqual([0, -0, 10, -10]);
    const one = linearProbeFeatures(model, x, { nLastBlocks: 1, avgPool: true });
    // last block CLS [10, -10], patch mean [11.5, -11.5] -> interleaved
    expect(Array.from(one.dataSync())).toEqual([10, 11.5, -10, -11.5]);
    const twoAvg = linearProbeFeatures(model, x, { nLastBlocks: 2, avgPool: true });
    expect(Array.from(twoAvg.dataSync())).toEqual([0, -0, 10, -10, 11.5, -11.5]);
    tf.dispose([x, two, one, twoAvg]);
  });
});
