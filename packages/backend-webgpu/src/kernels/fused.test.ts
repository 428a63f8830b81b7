// The fused Ssl* kernels against the formulas they replace, run by tfjs's cpu kernels (forward)
// and autograd through those formulas (gradients).
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { releaseWebGPUBackend } from '../index.js';
import { expectNoTensorGrowth, expectWebgpuMatches, rand, webgpuSuiteStatus } from '../test_util.js';

const suite = await webgpuSuiteStatus();
const run = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown> = {}) =>
  tf.engine().runKernel(name, inputs as never, attrs as never) as unknown as Tensor[];

function layerNormRef(x: Tensor, g: Tensor, b: Tensor, eps: number) {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
  return { y: tf.add(tf.mul(tf.mul(xc, rstd), g), b), mean: tf.squeeze(mean, [-1]), rstd: tf.squeeze(rstd, [-1]) };
}

function batchNormRef(x: Tensor, g: Tensor, b: Tensor, eps: number) {
  const axes = [...Array(x.rank - 1).keys()];
  const mean = tf.mean(x, axes);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), axes);
  return { y: tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), g), b), mean, variance };
}

const geluRef = (x: Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

/** Gradients of sum(y * w) for a fixed random w: a dy that is not all ones. */
function gradsOf(f: (...xs: Tensor[]) => Tensor, xs: Tensor[], dy: Tensor): Tensor[] {
  return tf.grads((...args: Tensor[]) => tf.sum(tf.mul(f(...args), dy)))(xs);
}

describe.runIf(suite.run)('fused kernels on webgpu', () => {
  afterAll(releaseWebGPUBackend);

  for (const shape of [[2, 65, 192], [3, 1000], [5, 1]]) {
    it(`SslLayerNorm and its gradient on [${shape}]`, async () => {
      const c = shape[shape.length - 1]!;
      const eps = 1e-6;
      const inputs = () => [rand(shape, 1), rand([c], 2), rand([c], 3), rand(shape, 4)] as const;
      await expectWebgpuMatches(
        () => {
          const [x, g, b, dy] = inputs();
          const r = layerNormRef(x, g, b, eps);
          return [r.y, r.mean, r.rstd, ...gradsOf((xx, gg, bb) => layerNormRef(xx!, gg!, bb!, eps).y, [x, g, b], dy)];
        },
        () => {
          const [x, g, b, dy] = inputs();
          const [y, mean, rstd] = run('SslLayerNorm', { x, gamma: g, beta: b }, { epsilon: eps });
          return [y!, mean!, rstd!, ...run('SslLayerNormGrad', { dy, x, gamma: g, mean: mean!, rstd: rstd! })];
        },
        1e-4,
        1e-4,
      );
    });
  }

  for (const shape of [[4, 5, 5, 8], [2, 3, 300]]) {
    it(`SslBatchNorm and its gradient on [${shape}]`, async () => {
      const c = shape[shape.length - 1]!;
      const eps = 1e-5;
      const inputs = () => [rand(shape, 5), rand([c], 6), rand([c], 7), rand(shape, 8)] as const;
      await expectWebgpuMatches(
        () => {
          const [x, g, b, dy] = inputs();
          const r = batchNormRef(x, g, b, eps);
          return [r.y, r.mean, r.variance, ...gradsOf((xx, gg, bb) => batchNormRef(xx!, gg!, bb!, eps).y, [x, g, b], dy)];
        },
        () => {
          const [x, g, b, dy] = inputs();
          const [y, mean, variance] = run('SslBatchNorm', { x, gamma: g, beta: b }, { epsilon: eps });
          return [y!, mean!, variance!, ...run('SslBatchNormGrad', { dy, x, gamma: g, mean: mean!, variance: variance! }, { epsilon: eps })];
        },
        1e-4,
        1e-4,
      );
    });
  }

  it('SslGelu and SslGeluGrad (exact, erf) on [3, 7, 50], with large |x|', async () => {
    const inputs = () => [tf.mul(rand([3, 7, 50], 9), 4), rand([3, 7, 50], 10)] as const;
    await expectWebgpuMatches(
      () => {
        const [x, dy] = inputs();
        return [geluRef(x), ...gradsOf(geluRef, [x], dy)];
      },
      () => {
        const [x, dy] = inputs();
        return [tf.engine().runKernel('SslGelu', { x }) as Tensor, tf.engine().runKernel('SslGeluGrad', { dy, x }) as Tensor];
      },
      1e-5,
      1e-6,
    );
  });

  it('SslAdamW equals the AdamW update formula', async () => {
    const k = { decay: 1 - 1e-3 * 0.04, beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001, sqrtBiasCorrection2: Math.sqrt(1 - 0.999 ** 3), epsilon: 1e-8, stepSize: 1e-3 / (1 - 0.9 ** 3) };
    const inputs = () => [rand([257, 3], 11), rand([257, 3], 12), tf.mul(rand([257, 3], 13), 0.1), tf.abs(tf.mul(rand([257, 3], 14), 0.01))] as const;
    await expectWebgpuMatches(
      () => {
        const [p, g, m, v] = inputs();
        const m1 = tf.add(tf.mul(m, k.beta1), tf.mul(g, k.oneMinusBeta1));
        const v1 = tf.add(tf.mul(v, k.beta2), tf.mul(tf.mul(g, g), k.oneMinusBeta2));
        const denom = tf.add(tf.div(tf.sqrt(v1), k.sqrtBiasCorrection2), k.epsilon);
        return [tf.sub(tf.mul(p, k.decay), tf.mul(tf.div(m1, denom), k.stepSize)), m1, v1];
      },
      () => {
        const [param, grad, m, v] = inputs();
        return run('SslAdamW', { param, grad, m, v }, k);
      },
      1e-5,
      1e-6,
    );
  });

  it('bad input is a clear error naming it', async () => {
    await tf.setBackend('webgpu');
    expect(() => run('SslLayerNorm', { x: tf.zeros([2, 3]), gamma: tf.zeros([4]), beta: tf.zeros([3]) }, { epsilon: 1e-5 })).toThrow(/SslLayerNorm: gamma must have shape \[3\]/);
    expect(() => run('SslAdamW', { param: tf.zeros([2]), grad: tf.zeros([3]), m: tf.zeros([2]), v: tf.zeros([2]) }, {})).toThrow(/SslAdamW: grad must have the shape of param/);
  });

  it('leaves no tensors behind across repeated calls', async () => {
    await tf.setBackend('webgpu');
    const x = rand([4, 16], 15);
    const g = rand([16], 16);
    const b = rand([16], 17);
    const step = () => tf.tidy(() => {
      const [y, mean, rstd] = run('SslLayerNorm', { x, gamma: g, beta: b }, { epsilon: 1e-5 });
      const [dx] = run('SslLayerNormGrad', { dy: y!, x, gamma: g, mean: mean!, rstd: rstd! });
      return tf.sum(tf.engine().runKernel('SslGelu', { x: dx! }) as Tensor);
    });
    await expectNoTensorGrowth(step);
    tf.dispose([x, g, b]);
  });
});
