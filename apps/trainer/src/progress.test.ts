import { describe, expect, it } from 'vitest';
import { Progress, formatDuration } from './progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 120, write: (s: string) => (out.push(s), true) } };
}

describe('Progress', () => {
  it('draws a bar with step, loss, lr, img/s and ETA on a TTY', () => {
    let now = 0;
    const { out, stream } = sink(true);
    const p = new Progress({ total: 100, mode: 'auto', stream, now: () => now });
    now = 10_000; // 10 s for 20 steps -> 40 s left for 80
    p.update({ step: 20, epoch: 0, loss: 6.5, lr: 1e-3, imagesPerSec: 128 });
    const line = out.join('');
    expect(line).toMatch(/^\r\[#{2,}\.+\] epoch 0 step  20\/100 loss 6\.5000 lr 1\.00e-3 128\.0 img\/s ETA 40s/);
    p.log('checkpoint saved');
    expect(out.slice(-2).join('')).toBe('\r\x1b[Kcheckpoint saved\n');
  });

  it('never shows an ETA past the time budget, and takes a new plan', () => {
    let now = 0;
    let left = 30;
    const { out, stream } = sink(false);
    const p = new Progress({ total: 100, mode: 'lines', every: 1, stream, now: () => now, secondsLeft: () => left });
    now = 10_000; // the pace says 40 s, the budget 30 s
    p.update({ step: 20, epoch: 0, loss: 1, lr: 1, imagesPerSec: 1 });
    p.setTotal(50); // a budget plan: 30 steps left at 0.5 s
    left = 100;
    p.update({ step: 20, epoch: 0, loss: 1, lr: 1, imagesPerSec: 1 });
    expect(out.map((l) => /step +20\/(\d+) .*ETA (\S+)/.exec(l)?.slice(1))).toEqual([['100', '30s'], ['50', '15s']]);
  });

  it('prints plain lines every n steps off a TTY', () => {
    const { out, stream } = sink(false);
    const p = new Progress({ total: 30, mode: 'auto', stream, every: 10 });
    for (let s = 1; s <= 30; s++) p.update({ step: s, epoch: 0, loss: 1, lr: 1, imagesPerSec: 1 });
    expect(out.length).toBe(3);
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(NaN)).toBe('?');
  });
});
