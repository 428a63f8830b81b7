import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '@ssl/engine';
import { tf } from '@ssl/tensor';
import { expect, vi } from 'vitest';

/** The built CLI (the kill -9 tests run it in a child process). */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** `ssl-train dino --preset P --flag value ...` from a flags object. */
export function argv(preset: string, f: Record<string, unknown>): string[] {
  return ['dino', '--preset', preset, ...Object.entries(f).flatMap(([k, v]) => [`--${k.replace(/_/g, '-')}`, String(v)])];
}

export async function teacherWeights(dir: string): Promise<Map<string, Float32Array>> {
  const ck = await loadCheckpoint(join(dir, 'checkpoint'));
  const out = new Map<string, Float32Array>();
  for (const [k, t] of Object.entries(ck.tensors)) if (k.startsWith('teacher.') || k.startsWith('student.')) out.set(k, t.dataSync() as Float32Array);
  tf.dispose(Object.values(ck.tensors));
  return out;
}

export async function maxWeightDiff(a: string, b: string): Promise<number> {
  const wa = await teacherWeights(a);
  const wb = await teacherWeights(b);
  expect([...wb.keys()].sort()).toEqual([...wa.keys()].sort());
  let maxDiff = 0;
  for (const [k, va] of wa) {
    const vb = wb.get(k) as Float32Array;
    for (let i = 0; i < va.length; i++) maxDiff = Math.max(maxDiff, Math.abs((va[i] as number) - (vb[i] as number)));
  }
  return maxDiff;
}

export type LogRecord = { type: string; step: number; epoch: number; iteration?: number; loss?: number };
/** log.jsonl records; a line being written while the test polls is skipped. */
export const readLog = (dir: string): LogRecord[] =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').flatMap((l) => {
    try {
      return l ? [JSON.parse(l) as LogRecord] : [];
    } catch {
      return [];
    }
  });

/** What the run prints on stderr (ctx.print, progress lines), captured. */
export async function printed<T>(fn: () => Promise<T>): Promise<[T, string]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
  try {
    return [await fn(), lines.join('')];
  } finally {
    spy.mockRestore();
  }
}

/**
 * The CLI in a child process; `onPoll` decides when to signal it. Resolves with its exit code (null: killed) and stderr.
 * The child is pinned to `native` (unless SSL_BACKEND says otherwise): an automatic choice that fell past
 * native (e.g. its addon being rebuilt) must fail naming why, not train on wasm, which has no Conv2D gradient.
 */
export function child(args: string[], onPoll: (c: ReturnType<typeof spawn>) => boolean): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env, SSL_BACKEND: process.env.SSL_BACKEND || 'native' };
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  c.stderr?.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve, reject) => {
    let signalled = false;
    const timer = setInterval(() => {
      if (!signalled && onPoll(c)) signalled = true;
    }, 20);
    c.on('exit', (code) => {
      clearInterval(timer);
      signalled ? resolve({ code, stderr }) : reject(new Error(`child exited (${code}) before it was signalled:\n${stderr}`));
    });
  });
}
