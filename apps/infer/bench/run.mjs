// images/s of ONNX Runtime vs our tfjs forward (float32 and bf16 autocast) vs PyTorch eager for the
// same DINO ViTs. Run: pnpm --filter ssl-infer bench   (after pnpm build). Timings on a shared
// machine are noisy; compare the ratios within one run. BENCH_SECONDS (default 4) bounds each
// measurement; BENCH_TORCH=0 leaves PyTorch out; BENCH_CONFIG=vit-s|fmnist runs one model.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VisionTransformer } from '@ssl/models';
import { exportModule, OnnxFeatureExtractor } from '@ssl/onnx';
import { bf16Support, initBackend } from '@ssl/tensor';
import { NativeExtractor } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const THREADS = availableParallelism();
const PYTHON = '/usr/bin/python3';

const ALL_CONFIGS = [
  { key: 'vit-s', name: 'ViT-S/16 @224', imgSize: 224, patchSize: 16, embedDim: 384, depth: 12, numHeads: 6, inChans: 3, batch: 8 },
  { key: 'fmnist', name: 'Fashion-MNIST ViT (dim 96, depth 4, 3 heads, patch 4) @28', imgSize: 28, patchSize: 4, embedDim: 96, depth: 4, numHeads: 3, inChans: 1, batch: 64 },
];
const CONFIGS = ALL_CONFIGS.filter((c) => !process.env.BENCH_CONFIG || c.key === process.env.BENCH_CONFIG);

async function timeLoop(fn, batch) {
  await fn();
  await fn(); // warm-up
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000 || n < 2) {
    await fn();
    n++;
  }
  return (n * batch) / ((performance.now() - t0) / 1000);
}

function hasTorch() {
  if (process.env.BENCH_TORCH === '0' || !existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const backend = await initBackend();
const bf16 = bf16Support();
console.log(`tfjs backend: ${backend.name}; bf16: ${bf16.bf16 ? 'on' : 'off'} (${bf16.reason}); ORT intra-op threads: ${THREADS}; ${SECONDS} s per measurement`);
const torchOk = hasTorch();
const rows = [];
for (const c of CONFIGS) {
  const model = new VisionTransformer({ imgSize: c.imgSize, patchSize: c.patchSize, inChans: c.inChans, embedDim: c.embedDim, depth: c.depth, numHeads: c.numHeads, seed: 1 });
  const { bytes } = exportModule(model, { numHeads: c.numHeads });
  // The extractor the CLI and server use: one worker thread, all cores as intra-op threads.
  const fx = await OnnxFeatureExtractor.create({ model: bytes, workers: 1, intraOpThreads: THREADS });
  const nchw = new Float32Array(c.batch * c.inChans * c.imgSize * c.imgSize).map((_, i) => Math.sin(i * 0.37));
  const input = { data: nchw, dims: [c.batch, c.inChans, c.imgSize, c.imgSize] };
  const ortIps = await timeLoop(() => fx.run({ input }, ['cls']), c.batch);
  await fx.close();

  // The engine of `ssl-infer --precision bf16` (NCHW in, transpose, forward, read back), in float32 and in bf16.
  const tfIps = await timeLoop(() => new NativeExtractor(model, 'fp32').run({ input }, ['cls']), c.batch);
  const bf16Ips = await timeLoop(() => new NativeExtractor(model, 'bf16').run({ input }, ['cls']), c.batch);
  model.dispose();

  let torchIps = null;
  if (torchOk) {
    const out = execFileSync(PYTHON, [join(here, 'torch_vit.py'), ...[c.imgSize, c.patchSize, c.embedDim, c.depth, c.numHeads, c.inChans, c.batch, SECONDS, THREADS].map(String)], { encoding: 'utf8' });
    torchIps = JSON.parse(out.trim().split('\n').pop()).images_per_s;
  }
  rows.push({ config: c.name, batch: c.batch, ort: ortIps, tfjs: tfIps, tfjsBf16: bf16Ips, torch: torchIps });
  console.log(
    `${c.name}, batch ${c.batch}: ORT ${ortIps.toFixed(1)} img/s | tfjs (${backend.name}) ${tfIps.toFixed(1)} img/s | ` +
      `tfjs bf16 ${bf16Ips.toFixed(1)} img/s | bf16/ORT ${(bf16Ips / ortIps).toFixed(2)}x | ` +
      (torchIps === null ? 'PyTorch: not available' : `PyTorch eager ${torchIps.toFixed(1)} img/s | ORT/PyTorch ${(ortIps / torchIps).toFixed(2)}x`) +
      ` | ORT/tfjs ${(ortIps / tfIps).toFixed(2)}x`,
  );
}
console.log(JSON.stringify({ threads: THREADS, tfjsBackend: backend.name, rows }));
