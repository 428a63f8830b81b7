import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cosineScheduler, WarmupCosineSchedule } from './schedule.js';

const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')).schedules;

/**
 * Largest |a - b| over the schedule's peak |b|. V8's Math.cos (fdlibm) and glibc's cos (numpy)
 * differ in the last bit for some arguments, so cosine parts agree to 1 ulp of the peak, not bitwise.
 */
function maxErrOverPeak(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let peak = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    peak = Math.max(peak, Math.abs(b[i] as number));
  }
  return err / peak;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number)) / Math.max(Math.abs(b[i] as number), 1e-300);
    m = Math.max(m, d);
  }
  return m;
}

describe('cosineScheduler', () => {
  it('equals numpy utils.cosine_scheduler element for element', () => {
    for (const c of fx.cosine as Array<{ args: [number, number, number, number]; kw: { warmup_epochs?: number; start_warmup_value?: number }; values?: number[]; indices?: number[]; sampled?: number[]; length?: number }>) {
      const s = cosineScheduler(...c.args, { warmupEpochs: c.kw.warmup_epochs ?? 0, startWarmupValue: c.kw.start_warmup_value ?? 0 });
      if (c.values) {
        expect(s.length).toBe(c.values.length);
        expect(maxErrOverPeak(s, c.values)).toBeLessThanOrEqual(2 ** -52);
        // the warm-up (np.linspace) part is bit for bit
        const w = (c.kw.warmup_epochs ?? 0) * (c.args[3] as number);
        expect(Array.from(s.subarray(0, w))).toEqual(c.values.slice(0, w));
      } else {
        expect(s.length).toBe(c.length);
        const picked = (c.indices as number[]).map((i) => s[i] as number);
        expect(maxErrOverPeak(picked, c.sampled as number[])).toBeLessThanOrEqual(2 ** -52);
      }
    }
  });

  it('has the issue example shape and the official end points', () => {
    const s = cosineScheduler(0.0005, 1e-6, 100, 1251, { warmupEpochs: 10 });
    expect(s).toBeInstanceOf(Float64Array);
    expect(s.length).toBe(125100);
    expect(s[0]).toBe(0);
    expect(s[12509]).toBe(0.0005); // linspace endpoint
    expect(s[12510]).toBe(0.0005); // cosine starts at base
    expect(s[125099]).toBeGreaterThan(1e-6); // never quite reaches final
  });

  it('rejects bad arguments', () => {
    expect(() => cosineScheduler(1, 0, 2, 3, { warmupEpochs: 3 })).toThrow(/warmupEpochs \(3\) must not exceed epochs \(2\)/);
    expect(() => cosineScheduler(1, 0, 2.5, 3)).toThrow(/epochs must be a non-negative integer/);
  });
});

describe('WarmupCosineSchedule', () => {
  it('gives the lr PyTorch LambdaLR sets at each step (PAWS)', () => {
    for (const c of fx.warmupCosine as Array<{ warmupSteps: number; startLr: number; refLr: number; finalLr: number; tMax: number; lrs: number[] }>) {
      const s = new WarmupCosineSchedule(c);
      expect(maxRel(s.toArray(c.lrs.length), c.lrs)).toBeLessThan(1e-15);
    }
  });
});
