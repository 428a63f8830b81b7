import { tf } from '@ssl/tensor';
import type { Tensor2D } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { knnClassifier, l2Normalize } from './knn.js';

const t2 = (rows: number[][]) => l2Normalize(tf.tensor2d(rows) as Tensor2D);

describe('knnClassifier (official eval_knn protocol)', () => {
  it('separable clusters: 100%', () => {
    const train = t2([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]);
    const test = t2([[1, 0.05], [0.05, 1]]);
    const r = knnClassifier(train, Int32Array.from([0, 0, 1, 1]), test, Int32Array.from([0, 1]), { k: 2, numClasses: 2 });
    expect(r).toEqual({ top1: 100, top5: 100 });
  });

  it('weights votes by exp(sim / T), against a hand-computed case', () => {
    // Test point [1, 0]; neighbours: class 1 at cos 0.8 (one), class 0 at cos 0.6 (two).
    // T = 0.07: exp(0.8/0.07) = 9.3e4 beats 2 * exp(0.6/0.07) = 1.05e4 -> class 1.
    // T = 1: exp(0.8) = 2.23 < 2 * exp(0.6) = 3.64 -> class 0.
    const train = t2([[0.8, 0.6], [0.6, 0.8], [0.6, -0.8]]);
    const test = t2([[1, 0]]);
    const labels = Int32Array.from([1, 0, 0]);
    expect(knnClassifier(train, labels, test, Int32Array.from([1]), { k: 3, T: 0.07, numClasses: 2 }).top1).toBe(100);
    expect(knnClassifier(train, labels, test, Int32Array.from([1]), { k: 3, T: 1, numClasses: 2 }).top1).toBe(0);
    expect(knnClassifier(train, labels, test, Int32Array.from([0]), { k: 3, T: 1, numClasses: 2 }).top1).toBe(100);
  });

  it('top-5 counts the target among the five best classes; k larger than the train set is clamped', () => {
    const rows: number[][] = [];
    const labels: number[] = [];
    for (let c = 0; c < 8; c++) {
      rows.push([Math.cos(c * 0.1), Math.sin(c * 0.1)]);
      labels.push(c);
    }
    const train = t2(rows);
    const test = t2([[1, 0]]);
    // Classes ranked by similarity: 0,1,2,3,4,5,... Target 4 is 5th: top-5 yes, top-1 no; target 6 is 7th.
    expect(knnClassifier(train, Int32Array.from(labels), test, Int32Array.from([4]), { k: 100, numClasses: 8 })).toEqual({ top1: 0, top5: 100 });
    expect(knnClassifier(train, Int32Array.from(labels), test, Int32Array.from([6]), { k: 100, numClasses: 8 })).toEqual({ top1: 0, top5: 0 });
  });

  it('blocks give the same answer as one block, and leak no tensors', () => {
    const train = l2Normalize(tf.randomNormal([200, 8], 0, 1, 'float32', 1) as Tensor2D);
    const test = l2Normalize(tf.randomNormal([37, 8], 0, 1, 'float32', 2) as Tensor2D);
    const trL = Int32Array.from({ length: 200 }, (_, i) => i % 5);
    const teL = Int32Array.from({ length: 37 }, (_, i) => (i * 3) % 5);
    const before = tf.memory().numTensors;
    const a = knnClassifier(train, trL, test, teL, { k: 10, numClasses: 5, blockSize: 7 });
    const b = knnClassifier(train, trL, test, teL, { k: 10, numClasses: 5, blockSize: 1000 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a).toEqual(b);
  });

  it('names mismatched inputs', () => {
    const x = t2([[1, 0]]);
    expect(() => knnClassifier(x, Int32Array.from([0, 1]), x, Int32Array.from([0]), { numClasses: 2 })).toThrow(/2 train labels for 1 train features/);
  });
});
