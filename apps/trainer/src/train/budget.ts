import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Budget-aware schedules: with `--time-budget`, the run measures its own pace over the first steps
 * and then fixes the number of epochs so that the whole schedule (lr, weight decay, teacher
 * temperature and momentum, all laid out over `epochs`) ends inside the budget, instead of being
 * cut mid-schedule at the deadline with the lr still high.
 */

export interface BudgetPlanInput {
  /** Seconds of the budget left now. */
  secondsLeft: number;
  /** Measured wall-clock seconds per step (data loading included). */
  secondsPerStep: number;
  /** Global steps done so far. */
  stepsDone: number;
  /** Steps per epoch. */
  ipe: number;
  /** The configured epochs: the budget only ever shortens a recipe, never lengthens it. */
  maxEpochs: number;
  /** The fewest epochs a schedule can have (its warm-ups plus one), and the epoch in progress + 1. */
  minEpochs: number;
}

/** Share of the remaining time planned for steps; the rest covers checkpoints and the pace's noise. */
export const BUDGET_SAFETY = 0.95;

/** Epochs that fit the budget at the measured pace, within [minEpochs, maxEpochs]. */
export function planEpochs(p: BudgetPlanInput): { epochs: number; fits: boolean } {
  const fit = p.stepsDone + Math.floor((Math.max(0, p.secondsLeft) * BUDGET_SAFETY) / p.secondsPerStep);
  const epochs = Math.floor(fit / p.ipe);
  const min = Math.max(1, p.minEpochs);
  return { epochs: Math.min(p.maxEpochs, Math.max(min, epochs)), fits: epochs >= min };
}

/**
 * Measures the pace and decides once: after at least `minSteps` timed steps and `minSeconds` of
 * them, or at the end of the first epoch (the lr warm-up), whichever comes first. The first step
 * of a run is not timed (it pays for kernel set-up).
 */
export class BudgetPlanner {
  private timedFrom: number | null = null;
  private timedSteps = 0;
  decided = false;

  constructor(
    private readonly options: { minSteps: number; minSeconds: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.options.now ?? (() => performance.now()))();
  }

  /**
   * Call after every step; returns the measured seconds per step once it is time to decide
   * (then never again), else null.
   */
  step(lastOfEpoch: boolean): number | null {
    if (this.decided) return null;
    const t = this.now();
    if (this.timedFrom === null) {
      this.timedFrom = t;
      return null;
    }
    this.timedSteps++;
    const seconds = (t - this.timedFrom) / 1000;
    if ((this.timedSteps >= this.options.minSteps && seconds >= this.options.minSeconds) || lastOfEpoch) {
      this.decided = true;
      return seconds / this.timedSteps;
    }
    return null;
  }
}

/** The choice a budget run made, kept beside its checkpoints so a resumed run keeps the same schedule. */
export interface BudgetPlan {
  epochs: number;
  configuredEpochs: number;
  secondsPerStep: number;
  decidedAtStep: number;
  budgetMinutes: number;
}

const PLAN_FILE = 'budget.json';

export function writeBudgetPlan(dir: string, plan: BudgetPlan): void {
  // written whole then renamed: a kill never leaves half a plan
  const tmp = join(dir, `${PLAN_FILE}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(plan, null, 2)}\n`);
  renameSync(tmp, join(dir, PLAN_FILE));
}

export function readBudgetPlan(dir: string): BudgetPlan | null {
  const p = join(dir, PLAN_FILE);
  if (!existsSync(p)) return null;
  const plan = JSON.parse(readFileSync(p, 'utf8')) as BudgetPlan;
  if (!Number.isInteger(plan.epochs) || plan.epochs < 1) throw new Error(`${p}: epochs must be a positive integer, got ${String(plan.epochs)}`);
  return plan;
}
