import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '@ssl/augment';
import { FashionMNIST, fashionMnistFixtureDir } from '@ssl/data';
import { VisionTransformer } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { runEvalSuite } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'ssl-eval-suite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = () => new VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, seed: 5 });

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

  it('writes no PNGs with pngImages 0 (ssl-eval --png-images 0), and scores the rest', async () => {
    const root = fashionMnistFixtureDir();
    const [train, test] = await Promise.all([FashionMNIST.load({ root, split: 'train' }), FashionMNIST.load({ root, split: 'test' })]);
    const model = tiny();
    const out = join(dir, 'none');
    const res = await runEvalSuite({
      model, train, test, mean: [...FASHION_MNIST_MEAN], std: [...FASHION_MNIST_STD],
      trainLimit: 40, testLimit: 10, ks: [5], segImages: 2, snnPerClass: 1, copiesPerPhoto: 1,
      outDir: out, pngImages: 0,
    });
    expect(res.pngs).toEqual([]);
    expect(existsSync(out)).toBe(false);
    expect(res.knn['5']!.top1).toBeGreaterThanOrEqual(0);
    model.dispose();
  });
});
