import { Rng } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { centerCropBox, colorJitterParams, fallbackCrop, randomResizedCropParams, roundHalfEven, shorterSideSize } from './params.js';

describe('random parameters', () => {
  it('rounds halves to even as Python', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6, 3].map(roundHalfEven)).toEqual([0, 2, 2, -0, 2, 3, 3]);
  });

  it('RandomResizedCrop draws area and log-aspect uniformly and stays inside the image', () => {
    const rng = new Rng(1);
    const H = 400;
    const W = 500;
    const n = 20000;
    const areas: number[] = [];
    const logRatios: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = randomResizedCropParams(H, W, [0.05, 0.4], [3 / 4, 4 / 3], rng);
      expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= H && b.left + b.width <= W).toBe(true);
      areas.push((b.height * b.width) / (H * W));
      logRatios.push(Math.log(b.width / b.height));
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    // Area fraction ~ U(0.05, 0.4) up to rounding of w and h: mean 0.225, sd 0.101.
    expect(Math.abs(mean(areas) - 0.225)).toBeLessThan(0.005);
    expect(Math.min(...areas)).toBeGreaterThan(0.045);
    expect(Math.max(...areas)).toBeLessThan(0.41);
    // log aspect ~ U(log 3/4, log 4/3): mean 0, variance (2 log(4/3))^2 / 12.
    const lr = mean(logRatios);
    expect(Math.abs(lr)).toBeLessThan(0.005);
    const v = mean(logRatios.map((x) => (x - lr) ** 2));
    expect(Math.abs(v - (2 * Math.log(4 / 3)) ** 2 / 12)).toBeLessThan(0.002);
    // Positions uniform: the crop centre's mean is the image centre.
  });

  it('falls back to a central crop after 10 failed tries', () => {
    // A 10x1000 strip: no crop with aspect in [3/4, 4/3] and area >= 50% fits.
    const rng = new Rng(2);
    const b = randomResizedCropParams(10, 1000, [0.5, 1], [3 / 4, 4 / 3], rng);
    expect(b).toEqual({ top: 0, left: Math.floor((1000 - 13) / 2), height: 10, width: 13 });
    expect(fallbackCrop(1000, 10, [3 / 4, 4 / 3])).toEqual({ top: Math.floor((1000 - 13) / 2), left: 0, height: 13, width: 10 });
    expect(fallbackCrop(100, 110, [3 / 4, 4 / 3])).toEqual({ top: 0, left: 0, height: 100, width: 110 });
    // With a feasible scale most draws succeed, so the fallback is rare.
    let fallbacks = 0;
    for (let i = 0; i < 2000; i++) {
      const c = randomResizedCropParams(10, 1000, [0.0001, 0.01], [3 / 4, 4 / 3], rng);
      if (c.height === 10 && c.width === 13 && c.left === 493) fallbacks++;
    }
    expect(fallbacks).toBeLessThan(20);
  });

  it('ColorJitter factors cover the torchvision ranges and the order is a permutation', () => {
    const rng = new Rng(3);
    let minB = Infinity;
    let maxB = -Infinity;
    let maxH = 0;
    const firstOp = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const p = colorJitterParams(0.4, 0.4, 0.2, 0.1, rng);
      expect([...p.order].sort()).toEqual([0, 1, 2, 3]);
      firstOp[p.order[0]!]!++;
      minB = Math.min(minB, p.brightness);
      maxB = Math.max(maxB, p.brightness);
      maxH = Math.max(maxH, Math.abs(p.hue));
      expect(p.saturation >= 0.8 && p.saturation <= 1.2).toBe(true);
    }
    expect(minB).toBeGreaterThanOrEqual(0.6);
    expect(minB).toBeLessThan(0.61);
    expect(maxB).toBeLessThanOrEqual(1.4);
    expect(maxB).toBeGreaterThan(1.39);
    expect(maxH).toBeLessThanOrEqual(0.1);
    for (const c of firstOp) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });

  it('Resize and CenterCrop sizes follow torchvision', () => {
    expect(shorterSideSize(375, 500, 256)).toEqual([256, 341]);
    expect(shorterSideSize(500, 333, 256)).toEqual([384, 256]);
    expect(centerCropBox(256, 341, 224, 224)).toEqual({ top: 16, left: 58, height: 224, width: 224 });
    expect(() => centerCropBox(10, 10, 11, 5)).toThrow(/larger than the 10x10 image/);
  });
});
