import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

function moments(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, variance };
}

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    expect(new Rng('run-a').random()).toBe(new Rng('run-a').random());
    expect(new Rng(2n ** 40n).random()).not.toBe(new Rng(0).random());
  });

  it('forks depend on the key and parts only, not on draws made before', () => {
    const parent = new Rng(7);
    const early = parent.fork(3, 11).random();
    for (let i = 0; i < 1000; i++) parent.random();
    expect(parent.fork(3, 11).random()).toBe(early);
    expect(new Rng(7, 3, 11).random()).toBe(early);
    expect(parent.fork(3, 12).random()).not.toBe(early);
    expect(parent.fork(11, 3).random()).not.toBe(early);
    // fork(a).fork(b) and fork(a, b) name the same stream
    expect(parent.fork(3).fork(11).random()).toBe(early);
  });

  it('uniform has mean 1/2 and variance 1/12, in range', () => {
    const rng = new Rng(1);
    const xs = Array.from({ length: 200_000 }, () => rng.random());
    const { mean, variance } = moments(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // 5 standard errors: sd(mean) = sqrt(1/12 / n) ~ 6.5e-4
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / xs.length));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(2e-3);
    const u = Array.from({ length: 10_000 }, () => rng.uniform(-3, 5));
    expect(u.every((x) => x >= -3 && x < 5)).toBe(true);
  });

  it('normal has the requested mean, variance and no skew', () => {
    const rng = new Rng(2);
    const xs = Array.from({ length: 200_000 }, () => rng.normal(3, 2));
    const { mean, variance } = moments(xs);
    expect(Math.abs(mean - 3)).toBeLessThan(5 * Math.sqrt(4 / xs.length));
    expect(Math.abs(variance - 4)).toBeLessThan(0.06);
    const skew = xs.reduce((a, x) => a + ((x - mean) / 2) ** 3, 0) / xs.length;
    const kurt = xs.reduce((a, x) => a + ((x - mean) / 2) ** 4, 0) / xs.length;
    expect(Math.abs(skew)).toBeLessThan(0.03);
    expect(Math.abs(kurt - 3)).toBeLessThan(0.06);
  });

  it('integer is uniform over [low, high) and rejects bad ranges', () => {
    const rng = new Rng(3);
    const counts = new Array(7).fill(0);
    const n = 70_000;
    for (let i = 0; i < n; i++) counts[rng.integer(0, 7)]++;
    // chi-square with 6 dof: 99.9% quantile is 22.5
    const chi = counts.reduce((a, c) => a + (c - n / 7) ** 2 / (n / 7), 0);
    expect(chi).toBeLessThan(22.5);
    for (let i = 0; i < 1000; i++) {
      const v = rng.integer(-5, -2);
      expect(v).toBeGreaterThanOrEqual(-5);
      expect(v).toBeLessThan(-2);
    }
    expect(() => rng.integer(3, 3)).toThrow(/low < high/);
    expect(() => rng.integer(0.5, 3)).toThrow(/integers/);
  });

  it('shuffle and permutation are permutations, with uniform first positions', () => {
    const rng = new Rng(4);
    const p = rng.permutation(100);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const firsts = new Array(4).fill(0);
    for (let i = 0; i < 40_000; i++) firsts[rng.shuffle([0, 1, 2, 3])[0] as number]++;
    for (const c of firsts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('state round-trips exactly, including the cached normal', () => {
    const rng = new Rng(5);
    rng.normal();
    const state = JSON.parse(JSON.stringify(rng.getState()));
    const expected = [rng.normal(), rng.random(), rng.integer(0, 1000)];
    const restored = Rng.fromState(state);
    expect([restored.normal(), restored.random(), restored.integer(0, 1000)]).toEqual(expected);
    expect(restored.fork(1).random()).toBe(new Rng(5).fork(1).random());
  });

  it('rejects non-integer seeds', () => {
    expect(() => new Rng(1.5)).toThrow(/seed must be a finite integer/);
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
  });
});
