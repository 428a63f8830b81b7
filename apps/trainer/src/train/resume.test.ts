import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnistFixtureDir } from '@ssl/data';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { checkpointKnn } from './checkpoint-knn.js';
import { runDino } from './dino.js';
import type { RunSummary } from './runner.js';
import { argv, child, maxWeightDiff, printed, readLog } from './run.test-helpers.js';

// 128 images in batches of 32: 4 steps per epoch, 2 epochs.
const flags = (out: string) => ({
  output_dir: out,
  data_path: fashionMnistFixtureDir(),
  train_images: 128,
  knn_train_images: 64,
  batch_size_per_gpu: 32,
  epochs: 2,
  log_every: 1,
  progress: 'none',
  attention_images: 0,
});

afterEach(() => vi.restoreAllMocks());

describe('stopping and resuming ssl-train dino', () => {
  let straight: Promise<{ dir: string; summary: RunSummary; said: string }> | null = null;
  const runStraight = () =>
    (straight ??= (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ssl-straight-'));
      const [summary, said] = await printed(() => runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: flags(dir) })));
      return { dir, summary, said };
    })());

  it('resumes after kill -9 from the last checkpoint and ends with the weights of an uninterrupted run', async () => {
    const { dir: straightDir, summary: first, said } = await runStraight();
    expect(first.steps).toBe(8);
    expect(said).not.toContain('resumed from'); // a fresh run says nothing about resuming
    // `ssl-train knn --checkpoint` rebuilds the teacher from config.json + checkpoint: same numbers as the run's own evaluation.
    const again = await checkpointKnn(straightDir);
    expect(again.epoch).toBe(2);
    expect([again.model.top1, again.model.top5]).toEqual([first.knn?.top1, first.knn?.top5]);
    expect(again.pixels.top1).toBe(first.baseline?.top1);

    // Same run in a child process, killed with SIGKILL once the epoch-1 checkpoint exists.
    const killed = mkdtempSync(join(tmpdir(), 'ssl-killed-'));
    const { code } = await child(argv('fmnist_tiny', flags(killed)), (c) => {
      const state = join(killed, 'checkpoint', 'state.json');
      if (!existsSync(state) || (JSON.parse(readFileSync(state, 'utf8')) as { epoch: number }).epoch < 1) return false;
      c.kill('SIGKILL');
      return true;
    });
    expect(code).toBeNull();
    const summary = await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: flags(killed) }));
    expect(summary.steps).toBe(8);
    expect(readLog(killed).some((r) => r.type === 'eval')).toBe(true);
    expect(await maxWeightDiff(straightDir, killed)).toBeLessThan(1e-6);
  });

  it('SIGTERM mid-epoch saves that step and exits 143; --resume continues from that step with nothing lost', async () => {
    const { dir: straightDir } = await runStraight();
    const out = mkdtempSync(join(tmpdir(), 'ssl-term-'));
    // SIGTERM as soon as the first step is logged: the run stops after the step in progress.
    const { code, stderr } = await child(argv('fmnist_tiny', flags(out)), (c) => {
      if (!existsSync(join(out, 'log.jsonl')) || !readLog(out).some((r) => r.type === 'step')) return false;
      c.kill('SIGTERM');
      return true;
    });
    expect(code).toBe(143);
    const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')) as { epoch: number; iteration: number; step: number };
    expect(state.epoch).toBe(0);
    expect(state.iteration).toBeGreaterThan(0); // inside epoch 0 (4 batches)
    expect(state.iteration).toBeLessThan(4);
    expect(state.step).toBe(state.iteration);
    expect(stderr).toContain('SIGTERM: stopping after the current step');
    expect(stderr).toContain(
      `interrupted by SIGTERM at step ${state.step} (epoch 0, batch ${state.iteration} of 4): checkpoint saved in ${join(out, 'checkpoint')}. ` +
        'To continue from there, rerun the same command',
    );
    const before = readLog(out).filter((r) => r.type === 'step');
    expect(before.map((r) => r.step)).toEqual(Array.from({ length: state.step }, (_, i) => i + 1));

    const [summary, said] = await printed(() => runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...flags(out), resume: true } })));
    expect(summary).toMatchObject({ stopReason: 'finished', steps: 8, exitCode: 0 });
    expect(said.match(/resumed from/g)).toHaveLength(1);
    expect(said).toContain(`resumed from ${join(out, 'checkpoint')}: epoch 0, step ${state.step} (batch ${state.iteration} of 4 of that epoch)`);
    const log = readLog(out);
    const resumeAt = log.findIndex((r) => r.type === 'resume');
    expect(log[resumeAt]).toMatchObject({ epoch: 0, iteration: state.iteration, step: state.step });
    // every step exactly once: 1..k before the stop, k+1..8 after the resume
    const after = log.slice(resumeAt).filter((r) => r.type === 'step');
    expect([...before, ...after].map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const straightSteps = readLog(straightDir).filter((r) => r.type === 'step');
    [...before, ...after].forEach((r, i) => expect(Math.abs((r.loss as number) - (straightSteps[i]?.loss as number))).toBeLessThan(1e-6));
    expect(await maxWeightDiff(straightDir, out)).toBeLessThan(1e-6);
  });

  it('refuses a checkpoint from another architecture, naming both', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-arch-'));
    const tiny = { ...flags(out), train_images: 64, knn_train_images: 32 };
    await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...tiny, epochs: 1 } }));
    await expect(runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...tiny, epochs: 2, depth: 3 } }))).rejects.toThrow(
      /checkpoint is from another architecture \(depth=2\) than this run \(depth=3\)/,
    );
  });
});
