import { readFileSync } from 'node:fs';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { classRank, knnClassifier, knnClassifierSweep, knnSearch, knnVotes, rankClasses } from './knn.js';

const FIXTURE = new URL('../fixtures/knn/', import.meta.url);

function readF32(name: string): Float32Array {
  const buf = readFileSync(new URL(name, FIXTURE));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function normalise(rows: number[][]): number[][] {
  return rows.map((r) => {
    const n = Math.hypot(...r);
    return r.map((v) => v / n);
  });
}

describe('knnClassifier', () => {
  it('is 100% on separable clusters', async () => {
    // three tight clusters on the axes; every test point sits near its own axis
    const train: number[][] = [];
    const trainY: number[] = [];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 5; i++) {
        const v = [0.05 * i, 0.03 * i, 0.02];
        v[c] = 1;
        train.push(v);
        trainY.push(c);
      }
    }
    const test = normalise([[1, 0.1, 0.2], [0.1, 1, 0], [0.2, 0.1, 1], [0.9, 0.3, 0]]);
    const r = await knnClassifier(normalise(train), trainY, test, [0, 1, 2, 0], { k: 5, T: 0.07, numClasses: 3 });
    expect(r).toEqual({ top1: 100, top5: 100 });
  });

  it('matches hand-computed weighted votes', async () => {
    // 1-D features so similarities are plain products: query 1 against train values
    const train = [[0.9], [0.8], [0.7], [0.6], [-1]];
    const labels = [1, 0, 0, 1, 2];
    const nb = await knnSearch(train, [[1]], 4);
    expect(Array.from(nb.indices)).toEqual([0, 1, 2, 3]);
    const scores = knnVotes(nb, Int32Array.from(labels), 3, 4, 0.5);
    // class 1: e^(0.9/0.5) + e^(0.6/0.5); class 0: e^(0.8/0.5) + e^(0.7/0.5)
    expect(scores[1]).toBeCloseTo(Math.exp(1.8) + Math.exp(1.2), 4);
    expect(scores[0]).toBeCloseTo(Math.exp(1.6) + Math.exp(1.4), 4);
    expect(scores[2]).toBe(0);
    // 9.37 vs 9.01: class 1 wins with T = 0.5 ...
    expect((await knnClassifier(train, labels, [[1]], [1], { k: 4, T: 0.5, numClasses: 3 })).top1).toBe(100);
    // ... with k = 3 the fourth neighbour (label 1) drops out: 6.05 vs 9.01, class 0 wins
    expect((await knnClassifier(train, labels, [[1]], [1], { k: 3, T: 0.5, numClasses: 3 })).top1).toBe(0);
    expect((await knnClassifier(train, labels, [[1]], [0], { k: 3, T: 0.5, numClasses: 3 })).top1).toBe(100);
    // k = 1: only the nearest (label 1) votes; top-5 is then top-1 (min(5, k) columns, as official)
    expect(await knnClassifier(train, labels, [[1]], [0], { k: 1, numClasses: 3 })).toEqual({ top1: 0, top5: 0 });
    expect(await knnClassifier(train, labels, [[1]], [0], { k: 2, numClasses: 3 })).toEqual({ top1: 0, top5: 100 });
  });

  it('breaks ties toward the lower train index and the lower class index', async () => {
    // rows 1 and 3 are identical: with k = 1 the lower index (label 2) is retrieved
    const train = [[0, 1], [1, 0], [0.6, 0.8], [1, 0]];
    const labels = [0, 2, 1, 3];
    const nb = await knnSearch(train, [[1, 0]], 2);
    expect(Array.from(nb.indices)).toEqual([1, 3]);
    expect((await knnClassifier(train, labels, [[1, 0]], [2], { k: 1, numClasses: 4 })).top1).toBe(100);
    // k = 2: classes 2 and 3 get equal votes; the lower class is ranked first
    expect((await knnClassifier(train, labels, [[1, 0]], [2], { k: 2, numClasses: 4 })).top1).toBe(100);
    expect(await knnClassifier(train, labels, [[1, 0]], [3], { k: 2, numClasses: 4 })).toEqual({ top1: 0, top5: 100 });
    expect(Array.from(rankClasses([0, 5, 5, 7], 0, 4))).toEqual([3, 1, 2, 0]);
    expect(classRank([0, 5, 5, 7], 0, 4, 2)).toBe(2);
    // ties survive blocking: the duplicate in a later train block does not displace the earlier one
    const blocked = await knnSearch(train, [[1, 0]], 2, { maxBlockElements: 2 });
    expect(Array.from(blocked.indices)).toEqual([1, 3]);
  });

  it('clamps k larger than the train set', async () => {
    const train = [[1, 0], [0, 1], [0.8, 0.6]];
    const labels = [0, 1, 0];
    const test = [[0, 1], [1, 0]];
    const big = await knnClassifier(train, labels, test, [1, 0], { k: 50, numClasses: 2 });
    const all = await knnClassifier(train, labels, test, [1, 0], { k: 3, numClasses: 2 });
    expect(big).toEqual(all);
    // query [0, 1]: votes e^(1/T) for 1 vs e^(0/T)+e^(0.6/T) for 0, class 1 wins; query [1, 0] -> 0
    expect(big.top1).toBe(100);
    expect((await knnSearch(train, test, 50)).k).toBe(3);
  });

  it('matches the official knn_classifier on a PyTorch fixture, whatever the blocking', async () => {
    const ref = JSON.parse(readFileSync(new URL('reference.json', FIXTURE), 'utf8')) as {
      numTrain: number; numTest: number; dim: number; numClasses: number; T: number;
      trainLabels: number[]; testLabels: number[];
      results: Record<string, { top1: number; top5: number; ambiguousRows: number; top1LowerIndexTies: number; top5LowerIndexTies: number }>;
    };
    const train = { data: readF32('train_features.f32'), rows: ref.numTrain, cols: ref.dim };
    const test = { data: readF32('test_features.f32'), rows: ref.numTest, cols: ref.dim };
    const ks = Object.keys(ref.results).map(Number);
    for (const maxBlockElements of [1 << 24, 1000, 37]) {
      const res = await knnClassifierSweep(train, ref.trainLabels, test, ref.testLabels, {
        ks, T: ref.T, numClasses: ref.numClasses, maxBlockElements,
      });
      for (const k of ks) {
        const want = ref.results[String(k)]!;
        const got = res.get(k)!;
        expect(got.top1).toBeCloseTo(want.top1LowerIndexTies, 10);
        expect(got.top5).toBeCloseTo(want.top5LowerIndexTies, 10);
        if (want.ambiguousRows === 0) {
          expect(got.top1).toBeCloseTo(want.top1, 10);
          expect(got.top5).toBeCloseTo(want.top5, 10);
        }
      }
    }
    // the same through tensors
    const ts = [tf.tensor2d(train.data, [ref.numTrain, ref.dim]), tf.tensor1d(ref.trainLabels, 'int32'),
      tf.tensor2d(test.data, [ref.numTest, ref.dim]), tf.tensor1d(ref.testLabels, 'int32')] as const;
    const r = await knnClassifier(ts[0], ts[1], ts[2], ts[3], { k: 20, T: 0.07, numClasses: 10 });
    tf.dispose([...ts]);
    expect(r.top1).toBeCloseTo(ref.results['20']!.top1, 10);
    expect(r.top5).toBeCloseTo(ref.results['20']!.top5, 10);
  });

  it('keeps tf.memory flat across blocks', async () => {
    const train = tf.randomNormal([300, 8], 0, 1, 'float32', 1) as tf.Tensor2D;
    const test = tf.randomNormal([50, 8], 0, 1, 'float32', 2) as tf.Tensor2D;
    const labels = Array.from({ length: 300 }, (_, i) => i % 4);
    const before = tf.memory().numTensors;
    await knnClassifier(train, labels, test, labels.slice(0, 50), { k: 10, numClasses: 4, maxBlockElements: 500 });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([train, test]);
  });

  it('rejects bad input with a clear message', async () => {
    const train = [[1, 0], [0, 1]];
    await expect(knnClassifier(train, [0, 1], [[1, 0, 0]], [0])).rejects.toThrow(/dimension 3 does not match.*2/);
    await expect(knnClassifier(train, [0], [[1, 0]], [0])).rejects.toThrow(/trainLabels: 1 labels for 2/);
    await expect(knnClassifier(train, [0, 3], [[1, 0]], [0], { numClasses: 2 })).rejects.toThrow(/trainLabels\[1\] = 3/);
    await expect(knnClassifier(train, [0, 1], [[1, 0]], [0], { k: 0 })).rejects.toThrow(/k must be a positive integer/);
    await expect(knnClassifier(train, [0, 1], [[1, 0]], [0.5])).rejects.toThrow(/testLabels\[0\] = 0.5/);
    await expect(knnClassifier(train, [0, 1], [[1, 0]], [0], { T: 0 })).rejects.toThrow(/T must be > 0/);
  });
});
