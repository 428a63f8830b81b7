import { fashionMnistFixtureDir } from '@ssl/data';
import { describe, expect, it } from 'vitest';
import { pixelFeatures } from '@ssl/eval';
import { readFashionMnist } from './data.js';
import { pixelKnn } from './pixel-knn.js';

/** Brute-force weighted k-NN written out plainly, as an independent reference. */
function bruteForce(trainX: Float32Array, trainY: Int32Array, testX: Float32Array, testY: Int32Array, dim: number, k: number, T: number): number {
  let correct = 0;
  const nTrain = trainY.length;
  for (let q = 0; q < testY.length; q++) {
    const sims: [number, number][] = [];
    for (let t = 0; t < nTrain; t++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (testX[q * dim + j] as number) * (trainX[t * dim + j] as number);
      sims.push([s, t]);
    }
    sims.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const votes = new Array<number>(10).fill(0);
    for (const [s, t] of sims.slice(0, k)) votes[trainY[t] as number] = (votes[trainY[t] as number] as number) + Math.exp(s / T);
    const best = votes.indexOf(Math.max(...votes));
    if (best === testY[q]) correct++;
  }
  return (100 * correct) / testY.length;
}

describe('raw-pixel k-NN baseline', () => {
  it('unit-norm pixel rows, and the same top-1 as a brute-force reference on the fixture', async () => {
    const dir = fashionMnistFixtureDir();
    const train = await readFashionMnist(dir, 'train', 300);
    const test = await readFashionMnist(dir, 'test', 60);
    const f = pixelFeatures({ data: train.images, count: train.count }, (v) => v / 255);
    expect([f.rows, f.cols]).toEqual([300, 784]);
    let sq = 0;
    for (let j = 0; j < 784; j++) sq += (f.data[5 * 784 + j] as number) ** 2;
    expect(sq).toBeCloseTo(1, 5);
    const r = await pixelKnn(train, test, 20, 0.07, (v) => v / 255);
    expect(r.top1).toBeCloseTo(bruteForce(f.data, train.labels, pixelFeatures({ data: test.images, count: test.count }, (v) => v / 255).data, test.labels, 784, 20, 0.07), 6);
    expect(r.top1).toBeGreaterThan(50); // pixels do carry the class on Fashion-MNIST
    expect(r.top5).toBeGreaterThanOrEqual(r.top1);
  });
});
