import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnistFixtureDir } from '@ssl/data';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { parseLog } from '../report/html.js';
import { runDino } from './dino.js';

const tinyFlags = (out: string, extra: Record<string, unknown> = {}) => ({
  output_dir: out,
  data_path: fashionMnistFixtureDir(),
  train_images: 96,
  knn_train_images: 96,
  batch_size_per_gpu: 32,
  log_every: 1,
  progress: 'none',
  attention_images: 1,
  feature_map_images: 100,
  ...extra,
});

describe('ssl-train dino end to end (fixture data, tiny ViT)', () => {
  it('trains, logs, evaluates against the pixel baseline and writes the report', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-dino-'));
    const config = resolveConfig('dino', { preset: 'fmnist_tiny', flags: tinyFlags(out) });
    const summary = await runDino(config);
    expect(summary.stopReason).toBe('finished');
    expect(summary.steps).toBe(3); // 96 images / 32
    const { steps, evals } = parseLog(readFileSync(join(out, 'log.jsonl'), 'utf8'));
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    for (const s of steps) {
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.teacherTemp).toBe(0.04);
    }
    // Memory: the live tensor count after each step does not grow.
    const tensors = readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; tensors?: number }).filter((r) => r.type === 'step').map((r) => r.tensors);
    expect(new Set(tensors).size).toBe(1);
    expect(evals).toHaveLength(1);
    const e = evals[0];
    expect(e?.testImages).toBe(500);
    expect(e?.trainImages).toBe(96);
    expect(e?.top1).toBeGreaterThan(10); // above chance even after 3 steps: random ViT features carry shape
    expect(e?.baselineTop1).toBeGreaterThan(50);
    expect(summary.baseline?.top1).toBe(e?.baselineTop1);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('data:image/png;base64,');
    expect(existsSync(join(out, 'config.yaml'))).toBe(true);
    expect(readdirSync(join(out, 'attention')).some((f) => f.startsWith('img0-attn-mean'))).toBe(true);
    // the feature-space map: the first 100 test images, coloured by their Fashion-MNIST class
    const map = JSON.parse(readFileSync(join(out, 'feature-map.json'), 'utf8')) as { seed: number; classes: string[]; points: { x: number; y: number; label: number }[] };
    expect(map.points).toHaveLength(100);
    expect(map.classes[0]).toBe('T-shirt/top');
    expect(new Set(map.points.map((p) => p.label)).size).toBeGreaterThan(5);
    expect(html).toContain('Feature space map');
    expect(html.match(/<circle /g)?.length).toBeGreaterThan(100);
  });

  it('evaluates every --eval-freq epochs, and a time budget ends the run with a checkpoint at that step, then evaluates', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-dino-'));
    const small = { train_images: 64, knn_train_images: 64, attention_images: 0 };
    const every = await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: tinyFlags(out, { ...small, epochs: 2, eval_freq: 1 }) }));
    expect(every).toMatchObject({ stopReason: 'finished', steps: 4, exitCode: 0 });
    // after epoch 1 (through onEpochEnd), then the final one after epoch 2
    expect(parseLog(readFileSync(join(out, 'log.jsonl'), 'utf8')).evals.map((e) => [e.epoch, e.step])).toEqual([[1, 2], [2, 4]]);

    const budget = mkdtempSync(join(tmpdir(), 'ssl-dino-'));
    const r = await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: tinyFlags(budget, { ...small, epochs: 2, time_budget: 1e-6 }) }));
    expect(r).toMatchObject({ stopReason: 'time budget', steps: 1, exitCode: 0 });
    expect(r.knn?.testImages).toBe(500);
    expect(JSON.parse(readFileSync(join(budget, 'checkpoint', 'state.json'), 'utf8'))).toMatchObject({ epoch: 0, iteration: 1, step: 1 });
  });

  it('a time budget measures the pace over the first epoch and plans the schedule: logged, in config.json, budget.json and the report', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-dino-'));
    const small = { train_images: 64, knn_train_images: 64, attention_images: 0 };
    const r = await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: tinyFlags(out, { ...small, epochs: 3, time_budget: 10 }) }));
    // 3 epochs of 2 steps fit 10 minutes: the recipe runs as configured (a budget never lengthens it)
    expect(r).toMatchObject({ stopReason: 'finished', steps: 6 });
    const plan = JSON.parse(readFileSync(join(out, 'budget.json'), 'utf8')) as Record<string, number>;
    expect(plan).toMatchObject({ epochs: 3, configuredEpochs: 3, decidedAtStep: 2, budgetMinutes: 10 });
    expect(plan.secondsPerStep).toBeGreaterThan(0);
    const records = readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((x) => x.type === 'budget')).toEqual([expect.objectContaining({ epochs: 3, configured_epochs: 3, step: 2 })]);
    expect((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { optimization: { epochs: number } }).optimization.epochs).toBe(3);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('planned for the 10-min budget');
  });

  it('names a wrong data path, an empty folder and an unknown arch', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-dino-'));
    await expect(runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...tinyFlags(out), data_path: '/nonexistent/fm' } }))).rejects.toThrow(
      /data_path \/nonexistent\/fm does not exist/,
    );
    await expect(runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...tinyFlags(out), dataset: 'folder', data_path: out } }))).rejects.toThrow(
      /is empty: expected images \(in any layout\) or one sub-folder of images per class/,
    );
    await expect(runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...tinyFlags(out), arch: 'vit_smal' } }))).rejects.toThrow(
      /unknown arch 'vit_smal'.*vit_small/,
    );
  });
});
