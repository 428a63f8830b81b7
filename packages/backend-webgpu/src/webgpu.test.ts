import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { releaseWebGPUBackend, webgpuDeviceAdapter } from './index.js';
import { upstreamKernel } from './kernels/upstream.js';
import { expectWebgpuMatches, rand, runOn, webgpuSuiteStatus } from './test_util.js';

const suite = await webgpuSuiteStatus();

describe.runIf(suite.run)('webgpu backend on Dawn', () => {
  // Dawn keeps a device (and on some drivers a core) busy until it is destroyed.
  afterAll(releaseWebGPUBackend);

  it('has an adapter (in CI the setup script installs CPU Vulkan) and reports it', async () => {
    expect(suite.status.available, suite.status.reason).toBe(true);
    await tf.setBackend('webgpu');
    const adapter = webgpuDeviceAdapter()!;
    expect(adapter.description.length + adapter.vendor.length).toBeGreaterThan(0);
    expect(typeof adapter.isFallbackAdapter).toBe('boolean');
  });

  // [32,2048] x [256,2048]^T: DINOHead's 2048 -> 256 layer at batch 32, where tfjs 4.22 splits K.
  const splitK: Array<[string, number[], number[], boolean, boolean]> = [
    ['a b^T (the Linear layout)', [32, 2048], [256, 2048], false, true],
    ['a b', [8, 2048], [2048, 64], false, false],
    ['a^T b^T', [2048, 16], [48, 2048], true, true],
    ['a^T b', [2400, 12], [2400, 20], true, false],
  ];

  it('tfjs-backend-webgpu 4.22 alone gets the split-K matmul wrong (the reason for the override)', async () => {
    const upstream = upstreamKernel('BatchMatMul');
    const [want] = await runOn('cpu', () => tf.matMul(rand([32, 2048], 1), rand([256, 2048], 2), false, true));
    await tf.setBackend('webgpu');
    const a = rand([1, 32, 2048], 1);
    const b = rand([1, 256, 2048], 2);
    const backend = tf.backend();
    const info = upstream({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: true } }) as tf.TensorInfo;
    const got = tf.engine().makeTensorFromTensorInfo(info);
    const values = await got.data();
    tf.dispose([a, b, got]);
    let worst = 0;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]! - want!.values[i]!));
    expect(worst).toBeGreaterThan(1);
  });

  for (const [name, aShape, bShape, ta, tb] of splitK) {
    it(`matMul ${name} ${JSON.stringify(aShape)} x ${JSON.stringify(bShape)} (split-K shapes) equals cpu`, async () => {
      const f = () => tf.matMul(rand(aShape, 3), rand(bShape, 4), ta, tb);
      await expectWebgpuMatches(f, f, 1e-4, 1e-4);
    });
  }

  it('fused matMul with bias and relu on a split-K shape, and its gradient, equal cpu', async () => {
    const f = () => {
      const a = rand([32, 2048], 5);
      const w = rand([64, 2048], 6);
      const bias = rand([64], 7);
      const y = tf.fused.matMul({ a, b: w, transposeB: true, bias, activation: 'relu' });
      const grads = tf.grads((aa: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.fused.matMul({ a: aa as tf.Tensor2D, b: ww as tf.Tensor2D, transposeB: true, bias })))([a, w]);
      return [y, ...grads];
    };
    await expectWebgpuMatches(f, f, 1e-4, 1e-4);
  });

  it('ordinary (batched, broadcast) matmuls equal cpu', async () => {
    const f = () => [
      tf.matMul(rand([65, 192], 8), rand([576, 192], 9), false, true),
      tf.matMul(rand([2, 3, 17, 16], 10), rand([2, 3, 17, 16], 11), false, true),
      tf.matMul(rand([2, 3, 17, 17], 12), rand([2, 3, 17, 16], 13)),
    ];
    await expectWebgpuMatches(f, f, 1e-4, 1e-4);
  });
});

describe.runIf(!suite.run)('webgpu backend on Dawn (no adapter here)', () => {
  it('is skipped with the reason printed', () => {
    expect(suite.status.available).toBe(false);
    expect(suite.status.reason.length).toBeGreaterThan(0);
  });
});
