import { readFileSync } from 'node:fs';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { computeMap, interpolateBilinear, labelRetrieval, MULTISCALE_SCALES, multiScaleEmbed, rankByCosine, revisitedMap } from './retrieval.js';

interface Setting { map: number; aps: (number | null)[]; mpr: number[]; prs: (number | null)[][] }
const ref = JSON.parse(readFileSync(new URL('../fixtures/retrieval.json', import.meta.url), 'utf8')) as {
  ranking: number[][];
  gnd: { easy: number[]; hard: number[]; junk: number[] }[];
  kappas: number[];
  easy: Setting; medium: Setting; hard: Setting;
  plain: { ranking: number[][]; gnd: { ok: number[]; junk?: number[] }[]; map: number };
  interpolate: { shape: number[]; x: number[]; scales: { scale: number; shape: number[]; y: number[] }[] };
};

const same = (got: number, want: number | null): void => {
  if (want === null) expect(got).toBeNaN(); // the fixture's null is the official NaN
  else expect(got).toBeCloseTo(want, 12);
};

describe('computeMap (official utils.compute_map)', () => {
  it('equals the official mAP, APs and precision@k in the Easy/Medium/Hard settings', () => {
    const got = revisitedMap(ref.ranking, ref.gnd, ref.kappas);
    for (const name of ['easy', 'medium', 'hard'] as const) {
      same(got[name].map, ref[name].map);
      ref[name].aps.forEach((a, q) => same(got[name].aps[q] as number, a));
      ref[name].mpr.forEach((p, j) => same(got[name].mpr[j] as number, p));
    }
    expect(Number.isNaN(got.hard.aps[2])).toBe(true); // the query without hard positives
    const m = computeMap(ref.ranking, ref.gnd.map((g) => ({ ok: [...g.easy, ...g.hard], junk: g.junk })), ref.kappas);
    ref.medium.prs.forEach((row, q) => row.forEach((p, j) => same(m.prs[q]![j] as number, p)));
  });

  it('counts repeated positive ids as the official len(ok) does, and skips junk', () => {
    same(computeMap(ref.plain.ranking, ref.plain.gnd).map, ref.plain.map);
    // hand-computed: positives at 2 and 5 with junk at 0 -> positions 1 and 4; trapezoids of
    // (precision before, precision after) x recall step 1/2: (0 + 1/2)/2/2 + (1/4 + 2/5)/2/2
    const ap = (0 + 1 / 2) / 4 + (1 / 4 + 2 / 5) / 4;
    expect(computeMap([[9, 8, 1, 7, 6, 2]], [{ ok: [1, 2], junk: [9] }]).map).toBeCloseTo(ap, 12);
  });

  it('rejects mismatched inputs', () => {
    expect(() => computeMap([[0]], [])).toThrow(/1 rankings for 0/);
  });
});

describe('multi-scale features', () => {
  it('interpolateBilinear equals F.interpolate(scale_factor=s, bilinear, align_corners=False)', () => {
    const [B, H, W, C] = ref.interpolate.shape as [number, number, number, number];
    const x = tf.tensor4d(ref.interpolate.x, [B, H, W, C]);
    for (const s of ref.interpolate.scales) {
      const y = interpolateBilinear(x, s.scale);
      expect(y.shape).toEqual(s.shape);
      const d = y.dataSync();
      s.y.forEach((v, i) => expect(Math.abs((d[i] as number) - v)).toBeLessThan(1e-5));
      y.dispose();
    }
    x.dispose();
    expect(MULTISCALE_SCALES).toEqual([1, 1 / Math.SQRT2, 0.5]);
  });

  it('averages the embeddings of the three scales and L2-normalises, without leaking tensors', () => {
    const images = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    // an embedding that sees the size: [mean, H]
    const embed = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => tf.concat([tf.reshape(tf.mean(x, [1, 2, 3]), [-1, 1]), tf.fill([x.shape[0], 1], x.shape[1])], 1));
    const before = tf.memory().numTensors;
    const f = multiScaleEmbed(embed)(images);
    expect(tf.memory().numTensors).toBe(before + 1);
    const m = tf.tidy(() => tf.mean(images, [1, 2, 3]).arraySync() as number[]);
    const d = f.arraySync() as number[][];
    // the mean of a bilinear resize is not the mean, so only the size column is exact: (8 + 5 + 4) / 3
    d.forEach((row, i) => {
      expect(Math.hypot(...row)).toBeCloseTo(1, 6);
      expect(row[1]! / row[0]!).toBeGreaterThan(((8 + 5 + 4) / 3 / (m[i]! * 1.2)));
    });
    tf.dispose([f, images]);
  });
});

describe('ranking and label retrieval', () => {
  it('ranks by cosine with ties in index order, and scores mAP / recall@k by labels', () => {
    const ranking = rankByCosine([[1, 0], [0, 1]], [[0, 2], [1, 0.1], [2, 0], [1, 1]]);
    expect(Array.from(ranking[0]!)).toEqual([2, 1, 3, 0]);
    expect(Array.from(ranking[1]!)).toEqual([0, 3, 1, 2]);
    const s = labelRetrieval(ranking, ['a', 'b'], ['b', 'a', 'x', 'b'], [1, 2]);
    // q0 (a): positive 1 at position 1 -> AP (1/1 + 1/2)/2 ... compute_ap: rank 1, j 0 -> (0 + 1/2)/2 = 0.25
    // q1 (b): positives 0, 3 at positions 0, 1 -> AP 1
    expect(s.map).toBeCloseTo((0.25 + 1) / 2, 12);
    expect(s.recallAt).toEqual({ 1: 0.5, 2: 1 });
    expect(s.skipped).toBe(0);
  });
});
