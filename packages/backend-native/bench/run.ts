// `pnpm --filter @ssl/backend-native bench`: sgemm GFLOP/s (native on OpenBLAS, on oneDNN float32
// and bf16, wasm, direct OpenBLAS), the ViT-Tiny train step in ms/step (native float32 and bf16
// autocast with their GEMM time, wasm, PyTorch float32 and bf16 autocast when importable), one
// core's FMA and bf16 dot-product peaks, thread scaling.
// Env: SSL_THREADS (default 2), BENCH_STEPS (native/PyTorch timed steps, default 3),
// BENCH_WASM_STEPS (default 1; 0 skips the wasm step), BENCH_DEPTH (default 12),
// BENCH_WASM_DEPTH (default 4: wasm's 32-bit heap runs out of memory on the 12-block step),
// BENCH_THREADS_TABLE (default 1; 0 skips the 1-vs-2-threads table).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {
  GEMM_MODES,
  directSgemm,
  nativeBackendStatus,
  nativeGemmSeconds,
  peakGflopsPerCore,
  registerNativeBackend,
  setNativeThreads,
  type GemmMode,
  type NativeBackend,
} from '../src/index.js';
import { FMNIST_REFERENCE_BENCH, loadFusedOps, makeVitStep, PLAIN_OPS, VIT_TINY_BENCH, type StepOps, type VitConfig } from './vit.js';

const threads = Number(process.env.SSL_THREADS ?? 2);
const steps = Number(process.env.BENCH_STEPS ?? 3);
const wasmSteps = Number(process.env.BENCH_WASM_STEPS ?? 1);
const depth = Number(process.env.BENCH_DEPTH ?? VIT_TINY_BENCH.depth);
const wasmDepth = Number(process.env.BENCH_WASM_DEPTH ?? 4);
const here = dirname(fileURLToPath(import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms of `f` over enough repetitions to fill ~`budgetMs`, after one warm-up. */
function timeIt(f: () => void, budgetMs = 400, maxReps = 50): number {
  f();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < budgetMs && times.length < maxReps)) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return median(times);
}

type Shape = { name: string; batch: number; m: number; n: number; k: number };
const SHAPES: Shape[] = [
  { name: '256', batch: 1, m: 256, n: 256, k: 256 },
  { name: '512', batch: 1, m: 512, n: 512, k: 512 },
  { name: '1024', batch: 1, m: 1024, n: 1024, k: 1024 },
  { name: 'vit qkv 3200x192x576', batch: 1, m: 3200, n: 576, k: 192 },
  { name: 'vit fc1 3200x192x768', batch: 1, m: 3200, n: 768, k: 192 },
  { name: 'vit fc2 3200x768x192', batch: 1, m: 3200, n: 192, k: 768 },
  { name: 'vit attn 192x(50x64x50)', batch: 192, m: 50, n: 50, k: 64 },
];

function tfMatMul(s: Shape): { run: () => void; dispose: () => void } {
  const a = tf.randomUniform(s.batch > 1 ? [s.batch, s.m, s.k] : [s.m, s.k]);
  const b = tf.randomUniform(s.batch > 1 ? [s.batch, s.k, s.n] : [s.k, s.n]);
  // The native and wasm kernels run synchronously inside tf.matMul, so no read is needed to time
  // them; reading would also hand the output array to the caller, which keeps it out of the
  // native buffer pool (as in training, where outputs are not read).
  const run = () => tf.matMul(a, b).dispose();
  return { run, dispose: () => tf.dispose([a, b]) };
}

function tfMatMulMs(s: Shape): number {
  const m = tfMatMul(s);
  const ms = timeIt(m.run);
  m.dispose();
  return ms;
}

const nativeBackend = () => tf.backend() as NativeBackend;

/** Median ms of each run, the runs alternated rep by rep so that all see the same machine load. */
function alternatedMs(runs: Array<() => void>, budgetMs: number): number[] {
  for (const run of runs) run();
  const times: number[][] = runs.map(() => []);
  const start = performance.now();
  while (times[0]!.length < 5 || (performance.now() - start < budgetMs && times[0]!.length < 100)) {
    runs.forEach((run, i) => {
      const t0 = performance.now();
      run();
      times[i]!.push(performance.now() - t0);
    });
  }
  return times.map(median);
}

/** Blocks the thread for ms without spinning. */
const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Native tf.matMul in each GEMM mode (OpenBLAS, oneDNN float32, oneDNN bf16 when available) and
 * direct sgemm: returns { direct, [mode]: ms }, medians. The OpenBLAS runs (native and direct)
 * alternate with each other and the oneDNN runs with each other, the oneDNN ones first and after
 * a pause: OpenBLAS's threads keep spinning for a while after each call (about 0.1 s by default),
 * and on a 2-core machine that halved the speed of any oneDNN GEMM run right after one.
 */
function nativeVsDirectMs(s: Shape, modes: GemmMode[], budgetMs = 1200): { direct: number; modes: number[] } {
  // One matrix per batch entry, as tf.matMul reads, so neither side runs from a warm cache.
  const [sa, sb, sc] = [s.m * s.k, s.k * s.n, s.m * s.n];
  const a = new Float32Array(s.batch * sa).map(() => Math.random());
  const b = new Float32Array(s.batch * sb).map(() => Math.random());
  const c = new Float32Array(s.batch * sc);
  const direct = () => {
    for (let i = 0; i < s.batch; i++) {
      directSgemm(a.subarray(i * sa), b.subarray(i * sb), c.subarray(i * sc), s.m, s.n, s.k);
    }
  };
  const m = tfMatMul(s);
  const backend = nativeBackend();
  const inMode = (mode: GemmMode) => () => {
    backend.gemmMode = mode;
    m.run();
  };
  const onednnModes = modes.filter((mode) => mode !== GEMM_MODES.blas);
  sleepMs(300);
  const onednn = alternatedMs(onednnModes.map(inMode), budgetMs / 2);
  const [blas, directMs] = alternatedMs([inMode(GEMM_MODES.blas), direct], budgetMs / 2);
  backend.gemmMode = GEMM_MODES.blas;
  m.dispose();
  return { direct: directMs!, modes: modes.map((mode) => (mode === GEMM_MODES.blas ? blas! : onednn[onednnModes.indexOf(mode)]!)) };
}

const gflops = (s: Shape, ms: number) => (2 * s.batch * s.m * s.n * s.k) / (ms * 1e6);

async function useWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
}

let lastCpuMs = 0;
/** GEMM wall ms per step of the last native timing (nativeGemmSeconds). */
let lastGemmMs = 0;

type StepPrecision = 'fp32' | 'fp32-openblas' | 'bf16';

/** The float32 GEMMs run on oneDNN where the addon has it; 'fp32-openblas' times the OpenBLAS ones. */
function setStepPrecision(native: NativeBackend, precision: StepPrecision): void {
  native.setAutocast(precision === 'bf16' ? 'bf16' : 'fp32');
  if (precision === 'fp32-openblas') native.gemmMode = GEMM_MODES.blas;
}

/**
 * Wall ms per step; `lastCpuMs` gets the process CPU ms per step (fairer on a loaded machine).
 * bf16: the whole step under the backend's autocast (what @ssl/tensor's `autocast` switches):
 * matmuls and convolutions of forward and backward in bf16, everything else float32.
 */
function vitMs(n: number, blocks = depth, ops: StepOps = PLAIN_OPS, precision: StepPrecision = 'fp32'): number {
  const vit = makeVitStep({ ...VIT_TINY_BENCH, depth: blocks }, 0, ops);
  const native = tf.getBackend() === 'native' ? nativeBackend() : undefined;
  if (native) setStepPrecision(native, precision);
  try {
    return timedSteps(vit, n);
  } finally {
    native?.setAutocast('fp32');
  }
}

/**
 * What bounds float32 / bf16 of a step. Autocast runs only the GEMMs (and the attention's
 * products) in bf16; everything else stays float32 and costs about the same in both steps. A bf16
 * GEMM can beat a float32 one that runs near the FMA peak by at most the CPU's bf16-dot / FMA peak
 * ratio, so the step's ratio can reach 2 only if everything else fits in what that leaves.
 */
let peak: { fma: number; bf16Dot: number } | undefined;
function printBf16Bound(f32Ms: number, f32GemmMs: number, bf16Ms: number, bf16GemmMs: number): void {
  console.log(
    `  GEMMs: float32 ${f32GemmMs.toFixed(0)}, bf16 ${bf16GemmMs.toFixed(0)} ms/step (${(f32GemmMs / bf16GemmMs).toFixed(2)}x); everything else: ${(f32Ms - f32GemmMs).toFixed(0)} and ${(bf16Ms - bf16GemmMs).toFixed(0)} ms/step (float32 but for the attention's products)`,
  );
  peak ??= peakGflopsPerCore();
  if (peak.fma > 0 && peak.bf16Dot > 0) {
    const ratio = peak.bf16Dot / peak.fma;
    const left = f32Ms / 2 - f32GemmMs / ratio;
    console.log(
      `  one core's peak: float32 FMA ${peak.fma.toFixed(0)}, bf16 dot product ${peak.bf16Dot.toFixed(0)} GFLOP/s (${ratio.toFixed(2)}x); float32 / bf16 >= 2 with bf16 GEMMs at that ratio would leave everything else ${left.toFixed(0)} ms/step (now ${(bf16Ms - bf16GemmMs).toFixed(0)})`,
    );
  }
}

function timedSteps(vit: ReturnType<typeof makeVitStep>, n: number): number {
  vit.step();
  const before = tf.memory().numTensors;
  const c0 = process.cpuUsage();
  const g0 = nativeGemmSeconds();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) vit.step();
  const ms = (performance.now() - t0) / n;
  const c = process.cpuUsage(c0);
  lastCpuMs = (c.user + c.system) / 1000 / n;
  lastGemmMs = ((nativeGemmSeconds() - g0) * 1000) / n;
  if (tf.memory().numTensors !== before) throw new Error(`ViT step leaked ${tf.memory().numTensors - before} tensors`);
  vit.dispose();
  return ms;
}

/**
 * PyTorch's step. `torch.set_num_threads` bounds only its OpenMP pool: Debian's torch runs its GEMMs
 * on OpenBLAS's own pool, one thread per core, unless OPENBLAS_NUM_THREADS says otherwise. Bounded,
 * both pools get `threads`, the comparison the target is about; unbounded is PyTorch as installed.
 */
function torchMs(bounded: boolean, precision: 'fp32' | 'bf16' = 'fp32', preset = 'vit_tiny'): { ms?: number; cpuMs?: number; why?: string } {
  const python = '/usr/bin/python3';
  if (!existsSync(python) || spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    return { why: `${python} cannot import torch` };
  }
  // bench/vit_step.py sits next to this file in the source tree and one level up from dist/.
  const script = [join(here, 'vit_step.py'), join(here, '..', 'bench', 'vit_step.py')].find(existsSync);
  if (!script) return { why: 'bench/vit_step.py not found' };
  const env = bounded
    ? { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE' }
    : process.env;
  const r = spawnSync(python, [script, String(threads), String(steps), String(depth), precision, preset], { encoding: 'utf8', env });
  if (r.status !== 0) return { why: `vit_step.py failed: ${r.stderr.trim().split('\n').pop()}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms_per_step: number; cpu_ms_per_step: number };
  return { ms: out.ms_per_step, cpuMs: out.cpu_ms_per_step };
}

const status = nativeBackendStatus();
if (!status.available) {
  console.log(`native backend unavailable: ${status.reason}`);
  process.exit(1);
}
registerNativeBackend({ threads });
console.log(`# @ssl/backend-native bench: ${status.reason.replace(/, \d+ thread\(s\)$/, '')}, ${threads} thread(s)`);
console.log(`# load average at start: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);

console.log('\n## GEMM GFLOP/s (median; OpenBLAS native and direct alternated rep by rep, the oneDNN modes likewise, apart from OpenBLAS)\n');
const modes: GemmMode[] = status.isa ? [GEMM_MODES.blas, GEMM_MODES.onednnF32] : [GEMM_MODES.blas];
if (status.bf16) modes.push(GEMM_MODES.bf16);
const modeNames = ['native float32 (OpenBLAS)', 'native float32 (oneDNN)', 'native bf16 (oneDNN)'].slice(0, modes.length);
console.log(`| shape | ${modeNames.join(' | ')} | wasm | direct OpenBLAS | OpenBLAS native / direct |${status.bf16 ? ' bf16 / float32 |' : ''}`);
console.log(`| --- |${' ---: |'.repeat(modes.length + 3 + (status.bf16 ? 1 : 0))}`);
if (!status.bf16) console.log(`(bf16 off: ${status.bf16Reason})`);
const rows: Array<[Shape, { direct: number; modes: number[] }]> = [];
await tf.setBackend('native');
for (const s of SHAPES) rows.push([s, nativeVsDirectMs(s, modes)]);
await useWasm();
for (const [s, r] of rows) {
  const wasmMs = tfMatMulMs(s);
  const f32 = Math.min(r.modes[0]!, r.modes[1] ?? Infinity);
  console.log(
    `| ${s.name} | ${r.modes.map((ms) => gflops(s, ms).toFixed(1)).join(' | ')} | ${gflops(s, wasmMs).toFixed(1)} | ${gflops(s, r.direct).toFixed(1)} | ${((100 * r.direct) / r.modes[0]!).toFixed(0)}% |${status.bf16 ? ` ${(f32 / r.modes[2]!).toFixed(2)}x |` : ''}`,
  );
}

console.log(`\n## ViT-Tiny train step (patch 4, 28px, depth ${depth}, dim 192, 3 heads, 2x28px + 6x12px crops, batch 32, AdamW)\n`);
await tf.setBackend('native');
// plain: the issue's step, every op a tfjs op; fused: LayerNorm, GELU, attention and AdamW through
// @ssl/tensor's fused ops (one native kernel each, forward and backward).
const fusedOps = await loadFusedOps();
const variants: Array<[string, StepOps | undefined, StepPrecision]> = [['plain', PLAIN_OPS, 'fp32'], ['fused', fusedOps, 'fp32']];
if (status.isa) variants.push(['fused, OpenBLAS GEMMs', fusedOps, 'fp32-openblas']);
if (status.bf16) variants.push(['fused bf16', fusedOps, 'bf16']);
else console.log(`native bf16: skipped (${status.bf16Reason})`);
const measured: Array<[string, number, number, number]> = [];
for (const [name, ops, precision] of variants) {
  if (!ops) {
    console.log(`native ${name}: skipped (@ssl/tensor is not built: run pnpm build)`);
    continue;
  }
  const ms = vitMs(steps, depth, ops, precision);
  measured.push([name, ms, lastCpuMs, lastGemmMs]);
  console.log(`native ${name}: ${ms.toFixed(0)} ms/step wall, ${lastCpuMs.toFixed(0)} ms/step CPU, ${lastGemmMs.toFixed(0)} ms/step in GEMMs (${steps} steps)`);
}
const fusedF32 = measured.find(([n]) => n === 'fused');
const fusedBf16 = measured.find(([n]) => n === 'fused bf16');
if (fusedF32 && fusedBf16) {
  console.log(`  native fused float32 / bf16: ${(fusedF32[1] / fusedBf16[1]).toFixed(2)}x wall, ${(fusedF32[2] / fusedBf16[2]).toFixed(2)}x CPU (goal >= 2)`);
  printBf16Bound(fusedF32[1], fusedF32[3], fusedBf16[1], fusedBf16[3]);
  const openblas = measured.find(([n]) => n === 'fused, OpenBLAS GEMMs');
  if (openblas) console.log(`  native fused float32 with OpenBLAS GEMMs / bf16: ${(openblas[1] / fusedBf16[1]).toFixed(2)}x wall, ${(openblas[2] / fusedBf16[2]).toFixed(2)}x CPU`);
}
const torchRuns: Array<[boolean, 'fp32' | 'bf16', string]> = [
  [true, 'fp32', `PyTorch float32, ${threads} thread(s) (OpenMP and OpenBLAS, OMP_WAIT_POLICY=PASSIVE)`],
  [true, 'bf16', `PyTorch bf16 autocast, ${threads} thread(s) (OpenMP and OpenBLAS, OMP_WAIT_POLICY=PASSIVE)`],
  [false, 'fp32', `PyTorch float32, set_num_threads(${threads}) only (OpenBLAS threads as installed)`],
];
for (const [bounded, precision, label] of torchRuns) {
  const torch = torchMs(bounded, precision);
  if (torch.ms === undefined || torch.cpuMs === undefined) {
    console.log(`PyTorch: skipped (${torch.why})`);
    break;
  }
  console.log(`${label}: ${torch.ms.toFixed(0)} ms/step wall, ${torch.cpuMs.toFixed(0)} ms/step CPU`);
  for (const [name, ms, cpuMs] of measured) {
    if (precision === 'bf16' && !name.includes('bf16')) continue;
    console.log(`  native ${name} / this PyTorch: ${(ms / torch.ms).toFixed(2)}x wall, ${(cpuMs / torch.cpuMs).toFixed(2)}x CPU`);
  }
}
console.log('\n## fmnist_reference shapes (ViT 96/4/3, head 1024/512/256, batch 64, 2x28px + 4x12px crops): DINO step, fused, float32 vs bf16\n');
{
  const fmnist = async (precision: StepPrecision) => {
    const vit = makeVitStep(FMNIST_REFERENCE_BENCH as VitConfig, 0, fusedOps ?? PLAIN_OPS);
    setStepPrecision(nativeBackend(), precision);
    try {
      return timedSteps(vit, steps);
    } finally {
      nativeBackend().setAutocast('fp32');
    }
  };
  const f32 = await fmnist('fp32');
  const f32Cpu = lastCpuMs;
  const f32Gemm = lastGemmMs;
  console.log(`native float32: ${f32.toFixed(0)} ms/step wall, ${f32Cpu.toFixed(0)} ms/step CPU, ${f32Gemm.toFixed(0)} ms/step in GEMMs`);
  if (status.isa) {
    const blas = await fmnist('fp32-openblas');
    console.log(`native float32, OpenBLAS GEMMs: ${blas.toFixed(0)} ms/step wall, ${lastCpuMs.toFixed(0)} ms/step CPU`);
  }
  let b16: number | undefined;
  let b16Cpu = 0;
  if (status.bf16) {
    b16 = await fmnist('bf16');
    b16Cpu = lastCpuMs;
    console.log(`native bf16: ${b16.toFixed(0)} ms/step wall, ${b16Cpu.toFixed(0)} ms/step CPU; float32 / bf16 = ${(f32 / b16).toFixed(2)}x wall, ${(f32Cpu / b16Cpu).toFixed(2)}x CPU`);
    printBf16Bound(f32, f32Gemm, b16, lastGemmMs);
  }
  for (const precision of ['fp32', 'bf16'] as const) {
    const torch = torchMs(true, precision, 'fmnist_reference');
    if (torch.ms === undefined || torch.cpuMs === undefined) {
      console.log(`PyTorch: skipped (${torch.why})`);
      break;
    }
    const ours = precision === 'fp32' ? [f32, f32Cpu] : [b16, b16Cpu];
    const ratio = ours[0] !== undefined ? `; native / PyTorch = ${(ours[0] / torch.ms).toFixed(2)}x wall, ${(ours[1]! / torch.cpuMs).toFixed(2)}x CPU` : '';
    console.log(`PyTorch ${precision === 'bf16' ? 'bf16 autocast' : 'float32'} (${threads} threads, OMP_WAIT_POLICY=PASSIVE): ${torch.ms.toFixed(0)} ms/step wall, ${torch.cpuMs.toFixed(0)} ms/step CPU${ratio}`);
  }
}

if (wasmSteps > 0) {
  const nativeShort = vitMs(steps, wasmDepth);
  await useWasm();
  try {
    const wasmStep = vitMs(wasmSteps, wasmDepth);
    console.log(
      `depth ${wasmDepth}: native ${nativeShort.toFixed(0)} ms/step, wasm ${wasmStep.toFixed(0)} ms/step (${wasmSteps} step(s)); wasm / native = ${(wasmStep / nativeShort).toFixed(1)}x`,
    );
  } catch (err) {
    console.log(`depth ${wasmDepth}: native ${nativeShort.toFixed(0)} ms/step, wasm failed: ${(err as Error).message.split('\n')[0]}`);
  }
}

if (process.env.BENCH_THREADS_TABLE === '0') {
  console.log(`\n# load average at end: ${(await import('node:os')).loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  process.exit(0);
}
console.log('\n## threads: median ms at 1 and 2 threads\n');
await tf.setBackend('native');
const x = tf.randomUniform([64, 50, 768]);
const y = tf.randomUniform([64, 50, 768]);
const w = tf.randomUniform([768, 192]);
/** A fused kernel's first output (the others are disposed by the caller's tidy). */
const fused = (name: string, inputs: tf.NamedTensorMap, attrs = {}) => {
  const out = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out[0]! : out;
};
const ln = tf.tidy(() => {
  const lx = tf.reshape(tf.slice(tf.reshape(x, [64, 50, 4, 192]), [0, 0, 0, 0], [64, 50, 1, 192]), [64, 50, 192]);
  const [g, b] = [tf.ones([192]), tf.zeros([192])];
  const [, mean, rstd] = tf.engine().runKernel('SslLayerNorm', { x: lx, gamma: g, beta: b }, { epsilon: 1e-6 }) as tf.Tensor[];
  return { x: lx, g, b, mean: mean!, rstd: rstd! };
});
const aw = tf.randomUniform([192, 768]);
const qkv = tf.randomUniform([64, 50, 576]);
const ADAMW_ATTRS = { decay: 0.99996, beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001, sqrtBiasCorrection2: 0.03, epsilon: 1e-8, stepSize: 1e-3 };
const kernels: Array<[string, () => tf.Tensor]> = [
  ['matmul 3200x768x192', () => tf.matMul(tf.reshape(x, [3200, 768]), w)],
  ['add [64,50,768]', () => tf.add(x, y)],
  ['mul by row [64,50,768]x[768]', () => tf.mul(x, tf.slice(y, [0, 0, 0], [1, 1, 768]))],
  ['exp [64,50,768]', () => tf.exp(x)],
  ['erf [64,50,768]', () => tf.erf(x)],
  ['sum last axis [64,50,768]', () => tf.sum(x, -1)],
  ['sum first axes [3200,768]', () => tf.sum(tf.reshape(x, [3200, 768]), 0)],
  ['transpose [64,50,3,64]->[64,3,50,64]', () => tf.transpose(tf.reshape(x, [64, 50, 12, 64]), [0, 2, 1, 3])],
  ['softmax [64,3,50,256]', () => tf.softmax(tf.reshape(x, [64, 3, 50, 256]))],
  // The fused kernels at the ViT step's shapes: LayerNorm on [B, N, 192], GELU on fc1's output,
  // attention on the qkv projection [B, N, 3 x 3 heads x 64], AdamW on fc1's weight.
  ['SslLayerNorm [64,50,192]', () => fused('SslLayerNorm', { x: ln.x, gamma: ln.g, beta: ln.b }, { epsilon: 1e-6 })],
  ['SslLayerNormGrad [64,50,192]', () => fused('SslLayerNormGrad', { dy: ln.x, x: ln.x, gamma: ln.g, mean: ln.mean, rstd: ln.rstd })],
  ['SslGelu [64,50,768]', () => fused('SslGelu', { x })],
  ['SslGeluGrad [64,50,768]', () => fused('SslGeluGrad', { dy: y, x })],
  ['SslSelfAttention [64,50,576]', () => fused('SslSelfAttention', { qkv }, { heads: 3, scale: 0.125 })],
  ['SslAdamW [192,768]', () => fused('SslAdamW', { param: aw, grad: aw, m: aw, v: tf.abs(aw) }, ADAMW_ATTRS)],
];
console.log('| kernel | 1 thread | 2 threads | speed-up |');
console.log('| --- | ---: | ---: | ---: |');
for (const [name, f] of kernels) {
  // No read: the kernels are synchronous, and a read output would leave the buffer pool (each rep
  // would then page-fault a fresh array, which two threads do slower than one).
  const run = () => tf.tidy(f).dispose();
  setNativeThreads(1);
  const one = timeIt(run, 300);
  setNativeThreads(2);
  const two = timeIt(run, 300);
  console.log(`| ${name} | ${one.toFixed(2)} | ${two.toFixed(2)} | ${(one / two).toFixed(2)}x |`);
}
setNativeThreads(threads);
tf.dispose([x, y, w, aw, qkv, ...Object.values(ln)]);
console.log(`\n# load average at end: ${(await import('node:os')).loadavg().map((v) => v.toFixed(1)).join(' ')}`);
