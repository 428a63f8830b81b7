// ms/step of the ViT bench step on one backend, for quick A/B runs:
// node dist/step.js [native|wasm|cpu] [steps]   (BENCH_DEPTH, SSL_THREADS as in run.ts)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { bufferPoolStats, registerNativeBackend } from '../src/index.js';
import { makeVitStep, VIT_TINY_BENCH } from './vit.js';

const backend = process.argv[2] ?? 'native';
const steps = Number(process.argv[3] ?? 3);
const threads = Number(process.env.SSL_THREADS ?? 2);
if (backend === 'native') registerNativeBackend({ threads });
if (backend === 'wasm') (await import('@tensorflow/tfjs-backend-wasm')).setThreadsCount(threads);
await tf.setBackend(backend);
const vit = makeVitStep({ ...VIT_TINY_BENCH, depth: Number(process.env.BENCH_DEPTH ?? VIT_TINY_BENCH.depth) });
vit.step();
const pool0 = bufferPoolStats();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < steps; i++) vit.step();
const wall = (performance.now() - t0) / steps;
const cpu = process.cpuUsage(cpu0);
const pool = bufferPoolStats();
console.log(JSON.stringify({ backend, threads, msPerStep: Math.round(wall), cpuMsPerStep: Math.round((cpu.user + cpu.system) / 1000 / steps), sysMsPerStep: Math.round(cpu.system / 1000 / steps), pooledBuffersPerStep: Math.round((pool.reused - pool0.reused) / steps), newBuffersPerStep: Math.round((pool.allocated - pool0.allocated) / steps), poolMiB: Math.round(pool.pooledBytes / 2 ** 20) }));
vit.dispose();
