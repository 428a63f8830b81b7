import { afterEach, describe, expect, it, vi } from 'vitest';
import { describePosition, evaluateEveryEpochs, StopSignal, Throughput } from './run.js';

afterEach(() => vi.restoreAllMocks());

describe('StopSignal', () => {
  it('Ctrl-C asks to stop (exit 130); a second one exits at once', () => {
    const said: string[] = [];
    const listeners = process.listenerCount('SIGINT');
    const stop = new StopSignal(0, (s) => said.push(s));
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      expect(stop.check()).toBe(false);
      process.emit('SIGINT');
      expect([stop.check(), stop.reason, stop.signal, stop.exitCode]).toEqual([true, 'interrupted', 'SIGINT', 130]);
      expect(said).toEqual(['Ctrl-C: stopping after the current step and saving a checkpoint there (Ctrl-C again quits at once)']);
      expect(exit).not.toHaveBeenCalled();
      process.emit('SIGINT');
      expect(exit).toHaveBeenCalledWith(130);
    } finally {
      stop.dispose();
    }
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });

  it('SIGTERM exits 143; the time budget stops without a signal', () => {
    const stop = new StopSignal(0, () => {});
    try {
      process.emit('SIGTERM');
      expect([stop.reason, stop.exitCode]).toEqual(['interrupted', 143]);
    } finally {
      stop.dispose();
    }
    let now = 0;
    const budget = new StopSignal(1, () => {}, () => now);
    try {
      now = 59_999;
      expect(budget.check()).toBe(false);
      now = 60_000;
      expect([budget.check(), budget.reason, budget.exitCode]).toEqual([true, 'time budget', 0]);
    } finally {
      budget.dispose();
    }
  });

  it('describes where a run stopped', () => {
    expect(describePosition({ step: 6, endEpoch: 1, endIteration: 2 }, 4)).toBe('step 6 (epoch 1, batch 2 of 4)');
    expect(describePosition({ step: 8, endEpoch: 2, endIteration: 0 }, 4)).toBe('step 8 (end of epoch 1)');
  });
});

describe('evaluateEveryEpochs', () => {
  it('evaluates every evalFreq epochs, never after the last epoch or when stopping', async () => {
    const calls: [number, number][] = [];
    const lines: string[] = [];
    const hook = evaluateEveryEpochs(2, async (epoch, step) => (calls.push([epoch, step]), { top1: 50, top5: 90.125 }), (l) => lines.push(l));
    for (let epoch = 0; epoch < 6; epoch++) await hook({ epoch, step: (epoch + 1) * 10, last: epoch === 5, stopping: false });
    await hook({ epoch: 7, step: 80, last: false, stopping: true });
    expect(calls).toEqual([[2, 20], [4, 40]]);
    expect(lines[0]).toBe('epoch 2: k-NN top-1 50.00%, top-5 90.13%');
    const never = evaluateEveryEpochs(0, async () => ({ top1: 0, top5: 0 }), () => {});
    await expect(never({ epoch: 0, step: 1, last: false, stopping: false })).resolves.toBeUndefined();
  });
});

describe('Throughput', () => {
  it('counts images per step over the run and over the log window', () => {
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const meter = new Throughput(64);
    now = 2000;
    expect(meter.step()).toBeCloseTo(64);
    now = 3000;
    expect(meter.step()).toBeCloseTo(64);
    meter.newWindow();
    now = 3500;
    expect(meter.step()).toBeCloseTo(128);
    expect(meter.overall).toBeCloseTo(192 / 2.5);
    expect(meter.seconds).toBeCloseTo(2.5);
  });
});
