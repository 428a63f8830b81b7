// SslAttention(Grad) against softmax(q scale k^T) v run by tfjs's cpu kernels (forward) and
// autograd through it (gradients), in float32 and with binary16-rounded matmul operands (fp16).
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { releaseWebGPUBackend, webgpuDispatchCount } from '../index.js';
import { expectNoTensorGrowth, expectWebgpuMatches, rand, roundToHalfJs, runOn, webgpuSuiteStatus } from '../test_util.js';

const suite = await webgpuSuiteStatus();
const run = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown>) =>
  tf.engine().runKernel(name, inputs as never, attrs as never) as unknown as Tensor | Tensor[];

/** Binary16 rounding as a differentiable identity (straight-through), for the fp16 reference. */
const halfRound = tf.customGrad(((x: Tensor) => ({
  value: tf.tensor(roundToHalfJs(x.dataSync() as Float32Array), x.shape),
  gradFunc: (dy: Tensor) => dy,
})) as never) as (x: Tensor) => Tensor;

/**
 * Identity forward, gradient rounded: the backward GEMMs of autocast read binary16 operands (the
 * incoming dy, the softmax gradient), as the kernels do.
 */
function gradRound(rd: (t: Tensor) => Tensor) {
  return tf.customGrad(((x: Tensor) => ({ value: tf.clone(x), gradFunc: (dy: Tensor) => rd(dy) })) as never) as (x: Tensor) => Tensor;
}

/**
 * The composite @ssl/tensor runs elsewhere, softmax(q scale k^T) v, and the gradients of
 * sum(y * w); with `half`, every matmul operand rounded to binary16 (torch.autocast's fp16 GEMMs)
 * while the softmax stays float32.
 */
function refAll(shape: number[], scale: number, half: boolean): Tensor[] {
  const identity = (t: Tensor) => t;
  const rd = half ? halfRound : identity;
  const g = half ? gradRound(halfRound) : identity;
  const [q, k, v, w] = [rand(shape, 1), rand(shape, 2), rand(shape, 3), rand(shape, 4)];
  // g(.) rounds the gradient arriving at each matmul's output (dy of A V, the softmax gradient of q k^T).
  const f = (qq: Tensor, kk: Tensor, vv: Tensor) => {
    const p = tf.softmax(g(tf.matMul(rd(tf.mul(qq, scale)), rd(kk), false, true)));
    return g(tf.matMul(rd(p), rd(vv)));
  };
  const y = f(q!, k!, v!);
  const grads = tf.grads((qq: Tensor, kk: Tensor, vv: Tensor) => tf.sum(tf.mul(f(qq, kk, vv), w!)))([q!, k!, v!]);
  return [y, ...grads];
}

function kernelAll(shape: number[], scale: number, precision: 'fp32' | 'fp16'): Tensor[] {
  const [q, k, v, w] = [rand(shape, 1), rand(shape, 2), rand(shape, 3), rand(shape, 4)];
  const y = run('SslAttention', { q: q!, k: k!, v: v! }, { scale, precision }) as Tensor;
  return [y, ...(run('SslAttentionGrad', { dy: w!, q: q!, k: k!, v: v! }, { scale, precision }) as Tensor[])];
}

describe.runIf(suite.run)('SslAttention on webgpu', () => {
  afterAll(releaseWebGPUBackend);

  // [BH, N, d]: fewer tokens than lanes and a head dim below the lane count; N = 50 and 197 (the
  // ViT-S/16 224 px sequence), neither a multiple of the 64-lane workgroup; d = 32 and 64.
  const shapes = [[2, 5, 3], [6, 50, 32], [2, 197, 64]];
  for (const shape of shapes) {
    it(`forward and gradient on [${shape}] equal cpu (float32)`, async () => {
      const scale = shape[2]! ** -0.5;
      await expectWebgpuMatches(() => refAll(shape, scale, false), () => kernelAll(shape, scale, 'fp32'), 1e-4, 1e-5);
    });
  }

  it('fp16: matmul operands read as binary16 equal the cpu composite on rounded operands, not the float32 one', async () => {
    const shape = [3, 50, 32];
    const scale = 32 ** -0.5;
    await expectWebgpuMatches(() => refAll(shape, scale, true), () => kernelAll(shape, scale, 'fp16'), 1e-4, 1e-4);
    // The test can fail: float32 and fp16 outputs differ by several times its tolerance (1e-4 + 1e-4 |y|).
    const [f32] = await runOn('cpu', () => refAll(shape, scale, false)[0]!);
    const [f16] = await runOn('webgpu', () => kernelAll(shape, scale, 'fp16')[0]!);
    let worst = 0;
    for (let i = 0; i < f32!.values.length; i++) worst = Math.max(worst, Math.abs(f32!.values[i]! - f16!.values[i]!));
    expect(worst).toBeGreaterThan(4e-4);
  });

  it('is 1 dispatch forward and 4 backward', async () => {
    await tf.setBackend('webgpu');
    const [q, k, v] = [rand([2, 9, 4], 5), rand([2, 9, 4], 6), rand([2, 9, 4], 7)];
    const before = webgpuDispatchCount()!;
    const y = run('SslAttention', { q: q!, k: k!, v: v! }, { scale: 0.5 }) as Tensor;
    await y.data();
    expect(webgpuDispatchCount()! - before).toBe(1);
    const grads = run('SslAttentionGrad', { dy: y, q: q!, k: k!, v: v! }, { scale: 0.5 }) as Tensor[];
    await Promise.all(grads.map((g) => g.data()));
    expect(webgpuDispatchCount()! - before).toBe(5);
    tf.dispose([q!, k!, v!, y, ...grads]);
  });

  it('leaves no tensors behind across repeated forward and backward calls', async () => {
    await tf.setBackend('webgpu');
    const [q, k, v] = [rand([2, 9, 4], 8), rand([2, 9, 4], 9), rand([2, 9, 4], 10)];
    const step = () =>
      tf.tidy(() => {
        const y = run('SslAttention', { q: q!, k: k!, v: v! }, { scale: 0.5 }) as Tensor;
        return tf.addN(run('SslAttentionGrad', { dy: y, q: q!, k: k!, v: v! }, { scale: 0.5 }) as Tensor[]);
      });
    await expectNoTensorGrowth(step);
    tf.dispose([q!, k!, v!]);
  });

  it('bad input is a clear error naming it', async () => {
    await tf.setBackend('webgpu');
    const q = tf.zeros([2, 4, 8]);
    expect(() => run('SslAttention', { q, k: tf.zeros([2, 4, 7]), v: q }, { scale: 1 })).toThrow(/SslAttention: k must have the shape of q \[2,4,8\]/);
    expect(() => run('SslAttention', { q, k: q, v: q }, { scale: 1, precision: 'bf16' })).toThrow(/precision' must be 'fp32' or 'fp16'/);
    expect(() => run('SslAttention', { q: tf.zeros([1, 2000, 8]), k: tf.zeros([1, 2000, 8]), v: tf.zeros([1, 2000, 8]) }, { scale: 1 })).toThrow(/at most 1024 tokens/);
  });
});
