#!/usr/bin/env node
// The same `ssl-train dino` run on two tensor backends, step by step: the loss curves must agree
// within float tolerance (different kernels, same float32 math).
// Usage: node scripts/compare-backends.mjs [backendA=native] [backendB=webgpu] [-- extra ssl-train flags]
// Default run: --preset fmnist_tiny (8 steps) in float32 on both (auto precision is bf16 on native
// where the CPU has it, float32 on webgpu). Prints one line per step and the worst relative difference;
// exits 1 when it exceeds SSL_COMPARE_RTOL (default 1e-4).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const sep = process.argv.indexOf('--');
const names = (sep < 0 ? process.argv.slice(2) : process.argv.slice(2, sep)).filter(Boolean);
const [a = 'native', b = 'webgpu'] = names;
const extra = sep < 0 ? [] : process.argv.slice(sep + 1);
const rtol = Number(process.env.SSL_COMPARE_RTOL ?? 1e-4);

function run(backend) {
  const out = mkdtempSync(join(tmpdir(), `ssl-compare-${backend}-`));
  const args = [cli, 'dino', '--preset', 'fmnist_tiny', '--log-every', '1', '--progress', 'none', '--precision', 'fp32', ...extra, '--backend', backend, '--output-dir', out];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`ssl-train on ${backend} exited with ${r.status}`);
  const steps = readFileSync(join(out, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'step');
  return { steps, seconds: (performance.now() - t0) / 1000, out };
}

const ra = run(a);
const rb = run(b);
if (ra.steps.length !== rb.steps.length || ra.steps.length === 0) throw new Error(`step counts differ: ${ra.steps.length} vs ${rb.steps.length}`);
let worst = 0;
console.log(`step  loss ${a.padEnd(20)} loss ${b.padEnd(20)} rel. diff`);
ra.steps.forEach((s, i) => {
  const t = rb.steps[i];
  const rel = Math.abs(s.loss - t.loss) / Math.abs(s.loss);
  worst = Math.max(worst, rel);
  console.log(`${String(s.step).padStart(4)}  ${String(s.loss).padEnd(25)} ${String(t.loss).padEnd(25)} ${rel.toExponential(2)}`);
});
console.log(`worst relative difference ${worst.toExponential(2)} (tolerance ${rtol}); ${a} ${ra.seconds.toFixed(0)} s, ${b} ${rb.seconds.toFixed(0)} s end to end`);
process.exit(worst <= rtol ? 0 : 1);
