// Per-kernel time of one ViT step on a backend: what to move to C++ next.
// node dist/profile.js [native|wasm|cpu] [plain|fused] [fp32|bf16]   (DEPTH=n for fewer blocks, SSL_THREADS=n, TOP=n slowest calls, BY_SHAPE=Kernel)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { registerNativeBackend, type NativeBackend } from '../src/index.js';
import { FMNIST_REFERENCE_BENCH, loadFusedOps, makeVitStep, PLAIN_OPS, VIT_TINY_BENCH } from './vit.js';

// BENCH_PRESET=fmnist_reference: the fmnist_reference shapes instead of the ViT-Tiny ones.
const preset = process.env.BENCH_PRESET === 'fmnist_reference' ? FMNIST_REFERENCE_BENCH : VIT_TINY_BENCH;

const backend = process.argv[2] ?? 'native';
const variant = process.argv[3] ?? 'plain';
if (variant !== 'plain' && variant !== 'fused') throw new Error(`variant must be 'plain' or 'fused', got '${variant}'`);
const ops = variant === 'fused' ? await loadFusedOps() : PLAIN_OPS;
if (!ops) throw new Error('the fused variant needs a built @ssl/tensor (pnpm build)');
const precision = process.argv[4] ?? 'fp32';
if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`precision must be 'fp32' or 'bf16', got '${precision}'`);
const threads = Number(process.env.SSL_THREADS ?? 2);
if (backend === 'native') registerNativeBackend({ threads });
if (backend === 'wasm') {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount(threads);
}
await tf.setBackend(backend);
if (precision === 'bf16') (tf.backend() as NativeBackend).setAutocast('bf16');
const cfg = { ...preset, depth: Number(process.env.DEPTH ?? preset.depth) };
const vit = makeVitStep(cfg, 0, ops);
vit.step();
const t0 = performance.now();
const info = await tf.profile(() => {
  vit.step();
});
const wall = performance.now() - t0;
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of info.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += k.kernelTimeMs as number;
  e.n += 1;
  byKernel.set(k.name, e);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log(`${backend} ${variant} ${precision} depth ${cfg.depth}: step ${wall.toFixed(0)} ms wall (profiled), kernels ${total.toFixed(0)} ms`);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(9)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  x${e.n}`);
}
vit.dispose();
if (process.env.TOP) {
  const top = [...info.kernels].sort((a, b) => (b.kernelTimeMs as number) - (a.kernelTimeMs as number)).slice(0, Number(process.env.TOP));
  for (const k of top) console.log(`${k.name.padEnd(16)} ${(k.kernelTimeMs as number).toFixed(2).padStart(8)} ms  in ${JSON.stringify(k.inputShapes)} out ${JSON.stringify(k.outputShapes)}`);
}
// BY_SHAPE=Name: that kernel's time summed per input shapes, to tell which call sites cost.
if (process.env.BY_SHAPE) {
  const byShape = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels.filter((k) => k.name === process.env.BY_SHAPE)) {
    const key = JSON.stringify(k.inputShapes);
    const e = byShape.get(key) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n += 1;
    byShape.set(key, e);
  }
  for (const [key, e] of [...byShape].sort((a, b) => b[1].ms - a[1].ms)) console.log(`${e.ms.toFixed(2).padStart(8)} ms  x${e.n}  ${key}`);
}
