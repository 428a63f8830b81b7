// Images/s of the full DINO train step (student on 2 global + N local crops, teacher on the 2 global
// ones, DINO loss, backward, per-parameter clipping, AdamW, teacher EMA) on one tensor backend, with
// synthetic crops: the engine's trainDino, timed by its own step events.
//   node dist/dino-step.js [--backend webgpu] [--setting tiny|small|smoke] [--steps 5] [--batch 32]
//                          [--unfuse attention|all] [--precision fp32|fp16|bf16|auto]
// Settings: tiny  = vit_tiny/4 on 28 px global, 12 px local crops (the Fashion-MNIST presets);
//           small = vit_small/16 on 224 px global, 96 px local crops (ImageNet, as main_dino.py);
//           smoke = a 1-block dim-48 ViT on 28/12 px with 2 local crops (checks the script, CPU Vulkan).
// On webgpu it also counts the compute dispatches of one step; `--unfuse` unregisters our fused
// kernels first (attention: the Ssl*Attention* kernels; all: every Ssl* kernel), so the tfjs composites run, to
// count the step as it was without them.
// Prints one JSON line; bench/dino_step.py is the PyTorch counterpart (fp32 and autocast, CUDA or CPU).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainDino } from '@ssl/engine';
import type { BatchSource, TrainBatch } from '@ssl/engine';
import { Rng, initBackend, parsePrecision, resolvePrecision, tf } from '@ssl/tensor';
import type { BackendName } from '@ssl/tensor';
import { resolveConfig } from '../src/config/load.js';
import { buildDinoNetworks } from '../src/train/dino.js';

const SETTINGS = {
  tiny: { arch: 'vit_tiny', patch_size: 4, global_crops_size: 28, local_crops_size: 12, local_crops_number: 6, channels: 1 },
  small: { arch: 'vit_small', patch_size: 16, global_crops_size: 224, local_crops_size: 96, local_crops_number: 6, channels: 3 },
  smoke: { arch: 'vit_tiny', patch_size: 4, global_crops_size: 28, local_crops_size: 12, local_crops_number: 2, channels: 1, embed_dim: 48, depth: 1, num_heads: 3 },
} as const;

const { values } = parseArgs({
  options: {
    backend: { type: 'string' },
    setting: { type: 'string', default: 'tiny' },
    steps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '32' },
    unfuse: { type: 'string' },
    // fp16: webgpu's autocast (matmul operands in binary16), the counterpart of PyTorch's fp16 autocast.
    precision: { type: 'string' },
  },
});
const setting = SETTINGS[values.setting as keyof typeof SETTINGS];
if (!setting) throw new Error(`--setting must be one of ${Object.keys(SETTINGS).join(', ')}, got '${values.setting}'`);
const steps = Number(values.steps);
const batch = Number(values.batch);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got '${values.steps}'`);
if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got '${values.batch}'`);

const info = await initBackend(values.backend ? { backend: values.backend as BackendName } : {});
if (values.unfuse !== undefined) {
  if (values.unfuse !== 'attention' && values.unfuse !== 'all') throw new Error(`--unfuse must be 'attention' or 'all', got '${values.unfuse}'`);
  const ours = tf.getKernelsForBackend(info.name).map((k) => k.kernelName).filter((n) => n.startsWith('Ssl'));
  const names = values.unfuse === 'attention' ? ours.filter((n) => n.includes('Attention')) : ours;
  for (const name of names) if (tf.getKernel(name, info.name)) tf.unregisterKernel(name, info.name);
}
/** The webgpu backend's running count of compute dispatches (@ssl/backend-webgpu); undefined elsewhere. */
const dispatchCount = () => (tf.backend() as { dispatchCount?: number }).dispatchCount;
const { channels, local_crops_number, global_crops_size, local_crops_size, ...model } = setting;
const outputDir = mkdtempSync(join(tmpdir(), 'ssl-dino-step-'));
const config = resolveConfig('dino', {
  flags: { ...model, global_crops_size, local_crops_size, local_crops_number, batch_size_per_gpu: batch, epochs: 1, warmup_epochs: 0, output_dir: outputDir, ...(values.precision ? { precision: values.precision } : {}) },
});
const nets = buildDinoNetworks(config, channels);
// What the step runs (the engine's 'auto' is bf16 where the CPU runs it); unsupported -> float32.
const ranPrecision = resolvePrecision(values.precision === undefined || values.precision === 'auto' ? undefined : parsePrecision(values.precision, '--precision'));

// One warm-up step (shader compilation, buffer pools) plus the timed ones, all from one epoch.
const rng = new Rng(0, 'bench');
const view = (size: number) => ({ data: Float32Array.from(rng.normalArray(batch * size * size * channels)), shape: [batch, size, size, channels] });
const crops: TrainBatch = {
  views: [view(global_crops_size), view(global_crops_size), ...Array.from({ length: local_crops_number }, () => view(local_crops_size))],
};
const loader: BatchSource = {
  length: () => steps + 1,
  async *epoch() {
    for (let i = 0; i <= steps; i++) yield crops;
  },
};
const seconds: number[] = [];
const dispatches: number[] = [];
const result = await trainDino({
  student: nets.student,
  teacher: nets.teacher,
  loader,
  config: { ...config, logging: { ...config.logging, saveckp_freq: 0 } },
  outputDir,
  logEvery: 0,
  onStep: (e) => {
    seconds.push(e.seconds);
    const n = dispatchCount();
    if (n !== undefined) dispatches.push(n);
  },
});
result.dinoLoss.dispose();
nets.student.dispose();
nets.teacher.dispose();
rmSync(outputDir, { recursive: true, force: true });
const timed = seconds.slice(1);
const mean = timed.reduce((a, b) => a + b, 0) / timed.length;
console.log(
  JSON.stringify({
    backend: info.name,
    adapter: info.reason,
    setting: values.setting,
    batch,
    crops: `2x${global_crops_size}px + ${local_crops_number}x${local_crops_size}px`,
    firstStepSeconds: seconds[0],
    secondsPerStep: mean,
    imagesPerSec: batch / mean,
    precision: ranPrecision.precision,
    ...(values.unfuse ? { unfused: values.unfuse } : {}),
    // Dispatches between the first two step events: one whole step after the warm-up one.
    ...(dispatches.length >= 2 ? { dispatchesPerStep: dispatches[1]! - dispatches[0]! } : {}),
  }),
);
