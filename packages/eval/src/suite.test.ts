import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '@ssl/augment';
import { FashionMNIST, fashionMnistFixtureDir } from '@ssl/data';
import { VisionTransformer, writeSafetensors } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVit, vitOptionsFromStateDict } from './model-io.js';
import { runEvalSuite } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'ssl-eval-suite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = () => new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, seed: 5 });

describe('model loading', () => {
  it('rebuilds a ViT from a checkpoint with teacher/student sections and matches its forward', async () => {
    const model = tiny();
    const other = new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, seed: 6 });
    const dict: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(model.stateDict())) dict[`teacher.backbone.${k}`] = v;
    for (const [k, v] of Object.entries(other.stateDict())) dict[`student.backbone.${k}`] = v;
    const file = join(dir, 'ckpt.safetensors');
    await writeSafetensors(file, dict);
    expect(vitOptionsFromStateDict(dict, { numHeads: 2 })).toMatchObject({ embedDim: 16, depth: 2, patchSize: 7, inChans: 1, imgSize: 28 });
    const { model: loaded } = await loadVit(file, { numHeads: 2 });
    const x = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 1);
    const a = model.forward(x);
    const b = loaded.forward(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const { model: student } = await loadVit(file, { numHeads: 2, section: 'student' });
    const c = student.forward(x);
    expect(Array.from(c.dataSync())).toEqual(Array.from(other.forward(x).dataSync()));
    tf.dispose([x, a, b, c, ...Object.values(dict)]);
    await expect(loadVit(join(dir, 'nope.safetensors'))).rejects.toThrow(/does not exist/);
    const notVit = { 'fc.weight': tf.zeros([2, 2]) };
    expect(() => vitOptionsFromStateDict(notVit)).toThrow(/not a ViT backbone/);
    tf.dispose(Object.values(notVit));
  });
});

describe('runEvalSuite', () => {
  it('scores k-NN, segmentation and copy detection and writes PNGs, with flat memory', async () => {
    const root = fashionMnistFixtureDir();
    const [train, test] = await Promise.all([FashionMNIST.load({ root, split: 'train' }), FashionMNIST.load({ root, split: 'test' })]);
    const model = tiny();
    const before = tf.memory().numTensors;
    const res = await runEvalSuite({
      model, train, test, mean: [...FASHION_MNIST_MEAN], std: [...FASHION_MNIST_STD],
      trainLimit: 200, testLimit: 50, ks: [5, 20], segImages: 20, snnPerClass: 3, linearEpochs: 20, linearLr: 10, copiesPerPhoto: 1, whiteningCopies: 40,
      outDir: join(dir, 'png'), pngImages: 1, enlarge: 2,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(res.knn)).toEqual(['5', '20']);
    // a random ViT still beats chance (10%) on Fashion-MNIST pixels
    expect(res.knn['20']!.top1).toBeGreaterThan(20);
    expect(res.knn['20']!.top5).toBeGreaterThanOrEqual(res.knn['20']!.top1);
    expect(res.snn.support).toBe(30);
    expect(res.snn.top1).toBeGreaterThan(10);
    expect(res.linear?.epochs).toBe(20);
    expect(res.linear?.top1).toBeGreaterThan(20);
    expect(res.segmentation.perHead).toHaveLength(2);
    expect(res.segmentation.disc).toBeGreaterThan(0);
    expect(res.copyDetection.queries).toBe(12);
    expect(res.copyDetection.database).toBe(12);
    expect(res.copyDetection.mAP).toBeGreaterThan(0);
    expect(res.copyDetection.whitened?.mAP).toBeGreaterThan(0);
    // 2 images (1 test + 1 photo) x (img + 3 maps x (heat map + overlay))
    expect(res.pngs).toHaveLength(14);
  });
});
