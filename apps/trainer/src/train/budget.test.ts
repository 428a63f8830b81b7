import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUDGET_SAFETY, BudgetPlanner, planEpochs, readBudgetPlan, writeBudgetPlan } from './budget.js';

describe('planEpochs', () => {
  const base = { secondsPerStep: 0.5, stepsDone: 20, ipe: 100, maxEpochs: 14, minEpochs: 2 };
  it('fits whole epochs into the time left at the measured pace, within [minEpochs, maxEpochs]', () => {
    // 600 s left at 2 steps/s: 20 done + floor(600 * 0.95 * 2) = 1160 steps -> 11 epochs
    expect(BUDGET_SAFETY).toBe(0.95);
    expect(planEpochs({ ...base, secondsLeft: 600 })).toEqual({ epochs: 11, fits: true });
    // a fast machine does the configured recipe, never more
    expect(planEpochs({ ...base, secondsLeft: 6000 })).toEqual({ epochs: 14, fits: true });
    // too little time: the warm-ups still need their epochs, and the run says it will be cut
    expect(planEpochs({ ...base, secondsLeft: 60 })).toEqual({ epochs: 2, fits: false });
    expect(planEpochs({ ...base, secondsLeft: -5 })).toEqual({ epochs: 2, fits: false });
  });
});

describe('BudgetPlanner', () => {
  it('skips the first step, then decides once after enough timed steps and seconds, or at the end of the first epoch', () => {
    let t = 0;
    const p = new BudgetPlanner({ minSteps: 3, minSeconds: 2, now: () => t });
    const out: (number | null)[] = [];
    for (const dt of [5000, 500, 500, 500, 1000, 500]) {
      t += dt;
      out.push(p.step(false));
    }
    // timed from the end of step 1: 3 steps in 1.5 s (< 2 s), then 4 steps in 2.5 s -> 0.625 s/step
    expect(out).toEqual([null, null, null, null, 0.625, null]);
    expect(p.decided).toBe(true);
    const q = new BudgetPlanner({ minSteps: 100, minSeconds: 100, now: () => t });
    q.step(false);
    t += 300;
    expect(q.step(true)).toBe(0.3);
  });
});

describe('budget.json', () => {
  it('keeps the plan for a resumed run, and names a broken one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-budget-'));
    expect(readBudgetPlan(dir)).toBeNull();
    const plan = { epochs: 5, configuredEpochs: 14, secondsPerStep: 0.4, decidedAtStep: 12, budgetMinutes: 15 };
    writeBudgetPlan(dir, plan);
    expect(readBudgetPlan(dir)).toEqual(plan);
    writeFileSync(join(dir, 'budget.json'), JSON.stringify({ ...plan, epochs: 0 }));
    expect(() => readBudgetPlan(dir)).toThrow(/budget\.json: epochs must be a positive integer, got 0/);
  });
});
