import { readFileSync } from 'node:fs';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { snnClassifier, snnProbabilities } from './snn.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/snn.json', import.meta.url), 'utf8')) as {
  support: number[]; supportLabels: number[]; queries: number[]; queryLabels: number[];
  D: number; C: number; T: number; probs: number[]; top1: number; top5: number;
};

describe('PAWS soft nearest neighbours', () => {
  const support = { data: Float32Array.from(ref.support), rows: ref.supportLabels.length, cols: ref.D };
  const queries = { data: Float32Array.from(ref.queries), rows: ref.queryLabels.length, cols: ref.D };

  it('matches snn_eval.py probabilities and accuracy, whatever the blocking', async () => {
    for (const maxBlockElements of [1 << 24, 100]) {
      const { probs } = await snnProbabilities(support, ref.supportLabels, queries, { T: ref.T, numClasses: ref.C, maxBlockElements });
      for (let i = 0; i < probs.length; i++) expect(Math.abs(probs[i]! - ref.probs[i]!)).toBeLessThan(1e-5);
    }
    const r = await snnClassifier(support, ref.supportLabels, queries, ref.queryLabels, { numClasses: ref.C });
    expect(r.top1).toBeCloseTo(ref.top1, 10);
    expect(r.top5).toBeCloseTo(ref.top5, 10);
  });

  it('gives hand-computed probabilities and keeps memory flat', async () => {
    // query along x: similarities 1 (class 0) and 0 (class 1); T = 1 -> e / (e + 1)
    const before = tf.memory().numTensors;
    const { probs } = await snnProbabilities([[2, 0], [0, 3]], [0, 1], [[5, 0]], { T: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(probs[0]).toBeCloseTo(Math.E / (Math.E + 1), 6);
    expect(probs[1]).toBeCloseTo(1 / (Math.E + 1), 6);
    await expect(snnProbabilities([[1, 0]], [0], [[1, 0, 0]])).rejects.toThrow(/dimension 3 does not match support dimension 2/);
  });
});
