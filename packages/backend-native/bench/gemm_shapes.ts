// Per-shape GEMM time of the ViT step's matmuls in each native GEMM mode, every transpose layout.
import * as tf from '@tensorflow/tfjs-core';
import { GEMM_MODES, registerNativeBackend, type NativeBackend } from '../src/index.js';
registerNativeBackend({ threads: Number(process.env.SSL_THREADS ?? 2) });
await tf.setBackend('native');
const be = tf.backend() as NativeBackend;
const fmnist: Array<[number, number, number, number]> = [
  [1, 6400, 384, 96], [1, 6400, 96, 384], [1, 6400, 288, 96], [1, 6400, 96, 96], [1, 96, 384, 6400], [1, 96, 96, 6400],
  [384, 50, 50, 32], [384, 50, 32, 50], [768, 10, 10, 32], [768, 10, 32, 10],
];
const tiny: Array<[number, number, number, number]> = [
  [1, 3200, 768, 192], [1, 3200, 192, 768], [1, 3200, 576, 192], [1, 3200, 192, 576], [1, 192, 768, 3200], [1, 192, 192, 3200],
  [192, 50, 50, 64], [192, 50, 64, 50], [576, 10, 10, 64], [576, 10, 64, 10],
];
const shapes = process.env.BENCH_PRESET === 'fmnist_reference' ? fmnist : tiny;
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const [batch, m, n, k] of shapes) {
  for (const [ta, tb] of [[false, false], [false, true], [true, false]] as const) {
    const a = tf.randomUniform(batch > 1 ? [batch, ta ? k : m, ta ? m : k] : [ta ? k : m, ta ? m : k]);
    const b = tf.randomUniform(batch > 1 ? [batch, tb ? n : k, tb ? k : n] : [tb ? n : k, tb ? k : n]);
    const res: string[] = [];
    for (const mode of [GEMM_MODES.blas, GEMM_MODES.onednnF32, GEMM_MODES.bf16]) {
      be.gemmMode = mode;
      tf.matMul(a, b, ta, tb).dispose();
      const t: number[] = [];
      for (let i = 0; i < 15; i++) { const t0 = performance.now(); tf.matMul(a, b, ta, tb).dispose(); t.push(performance.now() - t0); }
      res.push(med(t).toFixed(2));
    }
    console.log(`${batch}x${m}x${n}x${k} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}  blas ${res[0]}  dnnl ${res[1]}  bf16 ${res[2]}  GF/s bf16 ${((2 * batch * m * n * k) / (Number(res[2]) * 1e6)).toFixed(0)}`);
    tf.dispose([a, b]);
  }
}
