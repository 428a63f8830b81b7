// ms/step of the ViT bench step on one backend, for quick A/B runs:
// node dist/step.js [native|wasm|cpu] [steps] [plain|fused] [fp32|bf16]   (BENCH_DEPTH, SSL_THREADS as in run.ts)
// 'fused' uses @ssl/tensor's layerNorm, gelu and adamwUpdate (fused kernels on native); 'bf16' runs
// the step under the native backend's autocast (matmuls and convolutions in bf16).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { bufferPoolStats, nativeGemmSeconds, registerNativeBackend, type NativeBackend } from '../src/index.js';
import { FMNIST_REFERENCE_BENCH, loadFusedOps, makeVitStep, PLAIN_OPS, VIT_TINY_BENCH } from './vit.js';

// BENCH_PRESET=fmnist_reference: the fmnist_reference shapes instead of the ViT-Tiny ones.
const preset = process.env.BENCH_PRESET === 'fmnist_reference' ? FMNIST_REFERENCE_BENCH : VIT_TINY_BENCH;

const backend = process.argv[2] ?? 'native';
const steps = Number(process.argv[3] ?? 3);
const variant = process.argv[4] ?? 'plain';
if (variant !== 'plain' && variant !== 'fused') throw new Error(`variant must be 'plain' or 'fused', got '${variant}'`);
const precision = process.argv[5] ?? 'fp32';
if (precision !== 'fp32' && precision !== 'bf16') throw new Error(`precision must be 'fp32' or 'bf16', got '${precision}'`);
const threads = Number(process.env.SSL_THREADS ?? 2);
const ops = variant === 'fused' ? await loadFusedOps() : PLAIN_OPS;
if (!ops) throw new Error('the fused variant needs a built @ssl/tensor (pnpm build)');
if (backend === 'native') registerNativeBackend({ threads });
if (backend === 'wasm') (await import('@tensorflow/tfjs-backend-wasm')).setThreadsCount(threads);
await tf.setBackend(backend);
if (precision === 'bf16') (tf.backend() as NativeBackend).setAutocast('bf16');
const vit = makeVitStep({ ...preset, depth: Number(process.env.BENCH_DEPTH ?? preset.depth) }, 0, ops);
vit.step();
const pool0 = bufferPoolStats();
const cpu0 = process.cpuUsage();
const gemm0 = nativeGemmSeconds();
const t0 = performance.now();
for (let i = 0; i < steps; i++) vit.step();
const wall = (performance.now() - t0) / steps;
const cpu = process.cpuUsage(cpu0);
const gemmMsPerStep = Math.round(((nativeGemmSeconds() - gemm0) * 1000) / steps);
const pool = bufferPoolStats();
console.log(JSON.stringify({ backend, variant, precision, threads, msPerStep: Math.round(wall), cpuMsPerStep: Math.round((cpu.user + cpu.system) / 1000 / steps), sysMsPerStep: Math.round(cpu.system / 1000 / steps), gemmMsPerStep, pooledBuffersPerStep: Math.round((pool.reused - pool0.reused) / steps), newBuffersPerStep: Math.round((pool.allocated - pool0.allocated) / steps), poolMiB: Math.round(pool.pooledBytes / 2 ** 20) }));
vit.dispose();
