import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { Rng, tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { makeCopy } from './copies.js';
import {
  applyWhitening,
  averagePrecision,
  copyDetection,
  copyDetectionDescriptor,
  gemPool,
  learnWhitening,
  scoreRanking,
} from './copy-detection.js';
import { symmetricEigen } from './linalg.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/copy_detection.json', import.meta.url), 'utf8')) as {
  tokens: number[]; B: number; N: number; D: number; gem: number[]; descriptor: number[];
  whitening: {
    features: number[]; n: number; dim: number; queries: number[]; database: number[];
    eigenvalues: number[]; energyKept: number; similarity: number[]; top4: number[];
  };
};

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(tol);
}

describe('copy-detection descriptors', () => {
  it('GeM(p=4) and [CLS ; GeM] match eval_copy_detection.py', async () => {
    const tokens = tf.tensor3d(ref.tokens, [ref.B, ref.N + 1, ref.D]);
    const patches = tf.slice(tokens, [0, 1, 0], [ref.B, ref.N, ref.D]) as tf.Tensor3D;
    const gem = gemPool(patches);
    expectClose(gem.dataSync(), ref.gem, 1e-5);
    const desc = copyDetectionDescriptor(tokens);
    expect(desc.shape).toEqual([ref.B, 2 * ref.D]);
    expectClose(desc.dataSync(), ref.descriptor, 1e-5);
    tf.dispose([tokens, patches, gem, desc]);
  });
});

describe('symmetricEigen', () => {
  it('decomposes a random symmetric matrix: A v = lambda v, ascending, orthonormal', async () => {
    const n = 12;
    const rng = new Rng(4);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    const { values, vectors } = symmetricEigen(a, n);
    for (let e = 0; e < n; e++) {
      if (e > 0) expect(values[e]!).toBeGreaterThanOrEqual(values[e - 1]!);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k]! * vectors[k * n + e]!;
        expect(av).toBeCloseTo(values[e]! * vectors[i * n + e]!, 10);
      }
      for (let f = 0; f < n; f++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += vectors[k * n + e]! * vectors[k * n + f]!;
        expect(dot).toBeCloseTo(e === f ? 1 : 0, 10);
      }
    }
    expect(() => symmetricEigen([1, 2, 3, 4], 2)).toThrow(/not symmetric/);
  });
});

describe('PCA whitening', () => {
  it('matches utils.PCA(whit=0.5) on the similarities it produces', async () => {
    const w = ref.whitening;
    const white = learnWhitening({ data: Float32Array.from(w.features), rows: w.n, cols: w.dim });
    expect(white.energyKept).toBeCloseTo(w.energyKept, 6);
    const q = { data: Float32Array.from(w.queries), rows: w.queries.length / w.dim, cols: w.dim };
    const db = { data: Float32Array.from(w.database), rows: w.database.length / w.dim, cols: w.dim };
    // eigenvector signs are arbitrary; cosine similarities after whitening are not
    const res = await copyDetection(q, db, Array.from({ length: q.rows }, () => [0]), { whitening: white, topK: 4 });
    expect(res.ranking.flatMap((r) => Array.from(r))).toEqual(w.top4);
    const qw = applyWhitening(white, tf.tensor2d(q.data, [q.rows, q.cols]));
    const dw = applyWhitening(white, tf.tensor2d(db.data, [db.rows, db.cols]));
    const sim = tf.tidy(() => {
      const nq = tf.div(qw, tf.norm(qw, 'euclidean', 1, true));
      const nd = tf.div(dw, tf.norm(dw, 'euclidean', 1, true));
      return tf.matMul(nq, nd, false, true);
    });
    expectClose(sim.dataSync(), w.similarity, 1e-4);
    tf.dispose([qw, dw, sim]);
    expect(() => learnWhitening([[1, 2]])).toThrow(/at least 2 rows/);
  });
});

describe('retrieval scores', () => {
  it('computes Copydays AP on hand-made rankings', async () => {
    // positives at ranks 0 and 2 of 2: 0.5 * (1 + 1) / 2 + 0.5 * (1/2 + 2/3) / 2
    expect(averagePrecision([0, 2], 2)).toBeCloseTo(0.5 + (0.5 + 2 / 3) / 4, 12);
    // one positive, found at rank 3: (0 + 1/4) / 2
    expect(averagePrecision([3], 1)).toBeCloseTo(0.125, 12);
    // three positives, only one retrieved (first): recall stops at 1/3
    expect(averagePrecision([0], 3)).toBeCloseTo(1 / 3, 12);
    expect(averagePrecision([], 1)).toBe(0);
    const s = scoreRanking([[5, 1, 2], [7, 9, 8], [4, 3]], [[5], [9, 8], [0]]);
    // q0: rank 0 -> 1; q1: ranks 1, 2 of 2 positives -> 0.5*(0 + 1/2)/2 + 0.5*(1/2 + 2/3)/2; q2: missed -> 0
    const ap1 = 0.5 * (0 + 0.5) / 2 + 0.5 * (0.5 + 2 / 3) / 2;
    expect(Array.from(s.ap)).toEqual([1, expect.closeTo(ap1, 12), 0]);
    expect(s.mAP).toBeCloseTo((1 + ap1) / 3, 12);
    expect(s.recallAt1).toBeCloseTo(1 / 3, 12);
  });

  it('finds near-duplicates of database rows: mAP 1', async () => {
    const rng = new Rng(9);
    const db = Array.from({ length: 30 }, () => Array.from({ length: 16 }, () => rng.normal()));
    const queries = db.slice(0, 10).map((r) => r.map((v) => v + 0.05 * rng.normal()));
    const before = tf.memory().numTensors;
    const res = await copyDetection(queries, db, queries.map((_, i) => [i]));
    expect(tf.memory().numTensors).toBe(before);
    expect(res.mAP).toBe(1);
    expect(res.recallAt1).toBe(1);
    expect(res.ranking[0]).toHaveLength(20);
  });
});

describe('copy generator', () => {
  const photo = new URL('../fixtures/photos/ladybird.jpg', import.meta.url).pathname;

  it('is seeded: same seed and index, same copy; edits are strong and listed', async () => {
    const a = await makeCopy(photo, 7, 3);
    const b = await makeCopy(photo, 7, 3);
    const c = await makeCopy(photo, 7, 4);
    expect(a.edits).toEqual(b.edits);
    expect(a.data.equals(b.data)).toBe(true);
    expect(c.edits).not.toEqual(a.edits);
    expect(a.edits.length).toBeGreaterThanOrEqual(2);
    const meta = await sharp(a.data).metadata();
    expect(meta.width).toBeGreaterThan(0);
  });

  it('applies every edit kind when asked', async () => {
    const all = await makeCopy(photo, 1, 0, {
      probabilities: { crop: 1, rescale: 1, rotate: 1, jpeg: 1, colour: 1, text: 1, flip: 1 },
    });
    expect(all.edits.map((e) => e.split(' ')[0])).toEqual(['crop', 'rescale', 'rotate', 'colour', 'text', 'flip', 'jpeg']);
    expect((await sharp(all.data).metadata()).format).toBe('jpeg');
    const none = await makeCopy(photo, 1, 0, {
      probabilities: { crop: 0, rescale: 0, rotate: 0, jpeg: 0, colour: 0, text: 0, flip: 1 }, minEdits: 1,
    });
    expect(none.edits).toEqual(['flip']);
    // a flip alone keeps the pixels, mirrored
    const src = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const out = await sharp(none.data).raw().toBuffer({ resolveWithObject: true });
    const { width: w } = src.info;
    expect(Array.from(out.data.subarray(0, 3))).toEqual(Array.from(src.data.subarray((w - 1) * 3, w * 3)));
  });
});
