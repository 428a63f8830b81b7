import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fashionMnistFixtureDir } from '@ssl/data';
import { loadCheckpoint } from '@ssl/engine';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { checkpointKnn } from '../commands/knn-checkpoint.js';
import { runDino } from './dino.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const flags = (out: string) => ({
  output_dir: out,
  data_path: fashionMnistFixtureDir(),
  train_images: 64,
  knn_train_images: 64,
  batch_size_per_gpu: 32,
  epochs: 3,
  progress: 'none',
  attention_images: 0,
});

function argv(f: Record<string, unknown>): string[] {
  return ['dino', '--preset', 'fmnist_tiny', ...Object.entries(f).flatMap(([k, v]) => [`--${k.replace(/_/g, '-')}`, String(v)])];
}

async function teacherWeights(dir: string): Promise<Map<string, Float32Array>> {
  const ck = await loadCheckpoint(join(dir, 'checkpoint'));
  const out = new Map<string, Float32Array>();
  for (const [k, t] of Object.entries(ck.tensors)) if (k.startsWith('teacher.') || k.startsWith('student.')) out.set(k, t.dataSync() as Float32Array);
  tf.dispose(Object.values(ck.tensors));
  return out;
}

describe('resume after kill -9', () => {
  it('continues from the last checkpoint and ends with the weights of an uninterrupted run', async () => {
    // Uninterrupted: 3 epochs of 2 steps.
    const straight = mkdtempSync(join(tmpdir(), 'ssl-straight-'));
    const first = await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: flags(straight) }));
    // `ssl-train knn --checkpoint` rebuilds the teacher from config.json + checkpoint: same numbers as the run's own evaluation.
    const again = await checkpointKnn(straight);
    expect(again.epoch).toBe(3);
    expect([again.model.top1, again.model.top5]).toEqual([first.knn?.top1, first.knn?.top5]);
    expect(again.pixels.top1).toBe(first.baseline.top1);

    // Same run in a child process, killed with SIGKILL once the epoch-1 checkpoint exists.
    const killed = mkdtempSync(join(tmpdir(), 'ssl-killed-'));
    const child = spawn(process.execPath, [CLI, ...argv(flags(killed))], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const state = join(killed, 'checkpoint', 'state.json');
        if (existsSync(state) && (JSON.parse(readFileSync(state, 'utf8')) as { epoch: number }).epoch >= 1) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', (code) => {
        clearInterval(timer);
        code === null ? resolve() : reject(new Error(`child exited (${code}) before it could be killed`));
      });
    });
    const summary = await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: flags(killed) }));
    expect(summary.steps).toBe(6);
    const log = readFileSync(join(killed, 'log.jsonl'), 'utf8');
    expect(log).toContain('"type":"eval"');

    const a = await teacherWeights(straight);
    const b = await teacherWeights(killed);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    let maxDiff = 0;
    for (const [k, va] of a) {
      const vb = b.get(k) as Float32Array;
      for (let i = 0; i < va.length; i++) maxDiff = Math.max(maxDiff, Math.abs((va[i] as number) - (vb[i] as number)));
    }
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('refuses a checkpoint from another architecture, naming both', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-arch-'));
    await runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...flags(out), epochs: 1 } }));
    await expect(runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { ...flags(out), epochs: 2, depth: 3 } }))).rejects.toThrow(
      /checkpoint is from another architecture \(depth=2\) than this run \(depth=3\)/,
    );
  });
});
