// DINO training-step timing on synthetic batches: where the time of one iteration goes.
// Run: pnpm --filter @ssl/engine bench   (SSL_BACKEND=native|wasm|cpu to force a backend)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf, Rng } from '@ssl/tensor';
import { DINOHead, MultiCropWrapper, VisionTransformer } from '@ssl/models';
import { trainDino } from '../dist/index.js';

const info = await initBackend({ log: (l) => console.log(l) });
const B = Number(process.env.BENCH_BATCH ?? 16);
const LOCAL = 4;
const STEPS = Number(process.env.BENCH_STEPS ?? 6);
const net = (dpr) =>
  new MultiCropWrapper(
    new VisionTransformer({ imgSize: 32, patchSize: 4, inChans: 3, embedDim: 192, depth: 4, numHeads: 3, dropPathRate: dpr, seed: 0 }),
    new DINOHead({ inDim: 192, outDim: 4096, seed: 1 }),
  );
const rng = new Rng(0);
const view = (s) => ({ data: rng.normalArray(B * s * s * 3), shape: [B, s, s, 3] });
const batches = Array.from({ length: STEPS }, () => ({ views: [view(32), view(32), ...Array.from({ length: LOCAL }, () => view(16))] }));
const loader = { length: () => STEPS, epoch: async function* () { yield* batches; } };
const out = mkdtempSync(join(tmpdir(), 'bench-dino-'));
const times = [];
const r = await trainDino({
  student: net(0.1), teacher: net(0), loader, logEvery: 0,
  outputDir: out,
  config: {
    model: { out_dim: 4096 }, data: { local_crops_number: LOCAL }, optimization: { epochs: 1, batch_size_per_gpu: B, warmup_epochs: 0 }, logging: { saveckp_freq: 0 },
  },
  onStep: (e) => times.push(e.seconds),
});
r.dinoLoss.dispose();
rmSync(out, { recursive: true, force: true });
const steady = times.slice(1);
const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
console.log(`backend ${info.name}: ViT 4x192 (patch 4, 32px) + DINOHead 4096, batch ${B}, 2x32px + ${LOCAL}x16px crops`);
console.log(`first step ${times[0].toFixed(2)} s; steady ${mean.toFixed(3)} s/step = ${(B / mean).toFixed(1)} images/s over ${steady.length} steps; tensors ${tf.memory().numTensors}`);

// The engine's share of a step: AdamW, per-parameter clipping, EMA over the same parameters.
const { emaUpdate } = await import('../dist/index.js');
const { AdamW, getParamsGroups, clipGradients } = await import('@ssl/optim');
const s = net(0);
const t = net(0);
const named = s.namedParameters().filter(([, v]) => v.trainable);
const opt = new AdamW(getParamsGroups(s.namedParameters()));
const numel = named.reduce((n, [, v]) => n + v.size, 0);
const time = (f, n = 3) => {
  f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  return (performance.now() - t0) / n / 1000;
};
const grads = Object.fromEntries(named.map(([k, v]) => [k, tf.randomNormal(v.shape)]));
const tOpt = time(() => opt.step(grads));
const tClip = time(() => {
  const g = { ...grads };
  clipGradients(g, 1e9);
});
const tEma = time(() => emaUpdate(s.parameters(), t.parameters(), 0.996));
console.log(`engine share (${(numel / 1e6).toFixed(2)} M trainable parameters): AdamW step ${tOpt.toFixed(3)} s, clip ${tClip.toFixed(3)} s, EMA ${tEma.toFixed(3)} s`);
