// fp16 autocast on webgpu: the binary16 rounding against a JS reference (ties, subnormals,
// overflow), and matmuls inside the scope against tfjs's cpu matmul on rounded operands.
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { afterAll, describe, expect, it } from 'vitest';
import { releaseWebGPUBackend, webgpuDeviceAdapter, webgpuDispatchCount } from './index.js';
import { roundToHalf } from './kernels/half.js';
import { expectWebgpuMatches, rand, roundToHalfJs, runOn, webgpuSuiteStatus } from './test_util.js';

const suite = await webgpuSuiteStatus();

interface Hooks {
  setAutocast(p: string): string;
  currentAutocast(): string;
  fp16Support(): { fp16: boolean; reason: string };
  autocastSupport(): { bf16: boolean; reason: string };
}
const hooks = () => tf.backend() as unknown as Hooks;

/** `f` on webgpu inside an fp16 scope (the hook @ssl/tensor's autocast('fp16') sets). */
function inFp16<T>(f: () => T): () => T {
  return () => {
    const previous = hooks().setAutocast('fp16');
    try {
      return f();
    } finally {
      hooks().setAutocast(previous);
    }
  };
}

const half = (t: Tensor) => tf.tensor(roundToHalfJs(t.dataSync() as Float32Array), t.shape);

describe.runIf(suite.run)('fp16 autocast on webgpu', () => {
  afterAll(releaseWebGPUBackend);

  it('reports fp16 (not bf16) support and whether the adapter has shader-f16', async () => {
    await tf.setBackend('webgpu');
    expect(hooks().fp16Support().fp16).toBe(true);
    expect(hooks().fp16Support().reason).toContain(webgpuDeviceAdapter()!.shaderF16 ? 'has shader-f16' : 'lacks shader-f16');
    expect(hooks().autocastSupport().bf16).toBe(false);
    expect(() => hooks().setAutocast('bf16')).toThrow(/'fp16' or 'fp32'/);
    expect(hooks().currentAutocast()).toBe('fp32');
  });

  it('rounds to the nearest binary16 value, ties to even, with subnormals and overflow to infinity', async () => {
    const special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -20, 3 * 2 ** -25, 65504, 65519, 65520, -70000, 0, -0.1, 2 ** -14, 1e-10];
    const x = new Float32Array([...special, ...tf.util.flatten(Array.from(rand([500], 21).dataSync()).map((v) => v * 10 ** Math.round(v * 3)))]);
    await tf.setBackend('webgpu');
    const t = tf.tensor(x);
    const info = roundToHalf(tf.backend() as unknown as WebGPUBackend, t);
    const got = (await tf.engine().makeTensorFromTensorInfo(info).data()) as Float32Array;
    expect(Array.from(got)).toEqual(Array.from(roundToHalfJs(x)));
    expect(Array.from(got.slice(0, 8))).toEqual([1, 1 + 4 * 2 ** -11, 2 ** -20, 2 ** -23, 65504, 65504, Infinity, -Infinity]);
    t.dispose();
  });

  const products: Array<[string, number[], number[], boolean, boolean]> = [
    ['a b^T (Linear)', [65, 192], [576, 192], false, true],
    ['batched a b', [2, 3, 17, 16], [2, 3, 16, 17], false, false],
    ['split-K a b^T', [32, 2048], [256, 2048], false, true],
  ];
  for (const [name, aShape, bShape, ta, tb] of products) {
    it(`matMul ${name} reads binary16 operands, accumulates float32`, async () => {
      const ref = () => tf.matMul(half(rand(aShape, 22)), half(rand(bShape, 23)), ta, tb);
      await expectWebgpuMatches(ref, inFp16(() => tf.matMul(rand(aShape, 22), rand(bShape, 23), ta, tb)), 1e-5, 1e-4);
      // Float32 differs by 10x the tolerance or more: the test can fail.
      const [f32] = await runOn('cpu', () => tf.matMul(rand(aShape, 22), rand(bShape, 23), ta, tb));
      const [f16] = await runOn('cpu', ref);
      let worst = 0;
      for (let i = 0; i < f32!.values.length; i++) worst = Math.max(worst, Math.abs(f32!.values[i]! - f16!.values[i]!));
      expect(worst).toBeGreaterThan(1e-3);
    });
  }

  it('fused matMul (bias, relu) and its gradient: the backward GEMMs read binary16 too (dy included)', async () => {
    const a = () => rand([24, 40], 24);
    const w = () => rand([32, 40], 25);
    const bias = () => rand([32], 26);
    const dy = () => rand([24, 32], 27);
    await expectWebgpuMatches(
      () => {
        // y = relu(a w^T + bias); dA = (dy * relu') w, dW = (dy * relu')^T a, each product on rounded operands.
        const pre = tf.add(tf.matMul(half(a()), half(w()), false, true), bias());
        const g = tf.mul(dy(), tf.step(pre));
        return [tf.relu(pre), tf.matMul(half(g), half(w())), tf.matMul(half(g), half(a()), true, false)];
      },
      inFp16(() => {
        const y = tf.fused.matMul({ a: a() as tf.Tensor2D, b: w() as tf.Tensor2D, transposeB: true, bias: bias(), activation: 'relu' });
        const [da, dw] = tf.grads((x: Tensor, ww: Tensor) =>
          tf.sum(tf.mul(tf.fused.matMul({ a: x as tf.Tensor2D, b: ww as tf.Tensor2D, transposeB: true, bias: bias(), activation: 'relu' }), dy())),
        )([a(), w()]);
        return [y, da!, dw!];
      }),
      1e-5,
      1e-4,
    );
  });

  it('outside the scope matmuls are float32 again; rounding costs one dispatch per operand', async () => {
    await tf.setBackend('webgpu');
    const a = rand([8, 16], 28);
    const b = rand([16, 4], 29);
    const count = async (f: () => Tensor) => {
      const before = webgpuDispatchCount()!;
      const y = f();
      await y.data();
      y.dispose();
      return webgpuDispatchCount()! - before;
    };
    const plain = await count(() => tf.matMul(a, b));
    expect(await count(inFp16(() => tf.matMul(a, b)))).toBe(plain + 2);
    expect(await count(() => tf.matMul(a, b))).toBe(plain);
    tf.dispose([a, b]);
  });
});
