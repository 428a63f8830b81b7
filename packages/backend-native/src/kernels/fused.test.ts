import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNativeMatches, rand } from '../test_util.js';
import { SSL_ADAMW } from './AdamW.js';
import { SSL_GELU, SSL_GELU_GRAD } from './Gelu.js';
import { SSL_LAYER_NORM, SSL_LAYER_NORM_GRAD } from './LayerNorm.js';

// The references are the composites of tfjs ops that the fused kernels replace, run on 'cpu';
// their gradients come from tfjs autograd (tf.grads), not from hand-written formulas.

const run = (name: string, inputs: tf.NamedTensorMap, attrs = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

function layerNormRef(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const xc = tf.sub(x, tf.mean(x, -1, true));
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
  return tf.add(tf.mul(tf.mul(xc, r), g), b);
}

const geluRef = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

describe('SslLayerNorm', () => {
  const eps = 1e-5;
  // Last dims that are and are not multiples of the 8-wide row loop; size-1 and empty dims;
  // [2000, 64] is large enough to be split over the thread pool.
  const shapes = [[3, 50], [2, 5, 16], [7], [1, 1], [4, 1], [0, 8], [3, 0], [2000, 64]];

  it('forward matches the composite', () => {
    for (const [i, shape] of shapes.entries()) {
      const c = shape[shape.length - 1]!;
      const args = () => [tf.mul(rand(shape, 30 + i), 3), tf.add(rand([c], 40 + i), 1), rand([c], 50 + i)] as const;
      expectNativeMatches(
        () => layerNormRef(...args(), eps),
        () => (run(SSL_LAYER_NORM, { x: args()[0], gamma: args()[1], beta: args()[2] }, { epsilon: eps }) as tf.Tensor[])[0]!,
      );
    }
  });

  it('backward matches autograd of the composite (dx, dgamma, dbeta)', () => {
    for (const [i, shape] of shapes.entries()) {
      const c = shape[shape.length - 1]!;
      const x = () => tf.mul(rand(shape, 60 + i), 3);
      const g = () => tf.add(rand([c], 70 + i), 1);
      const b = () => rand([c], 80 + i);
      const w = () => rand(shape, 90 + i);
      // tfjs autograd fails on an empty last dim (a broadcast gradient of shape [3, 0] for [3, 1]);
      // the expected gradients there are empty.
      const ref = c === 0 ? () => [tf.zeros(shape), tf.zeros([0]), tf.zeros([0])] : () => tf.grads((xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(layerNormRef(xs, gs, bs, eps), w())))([x(), g(), b()]);
      expectNativeMatches(
        ref,
        () => {
          const [, mean, rstd] = run(SSL_LAYER_NORM, { x: x(), gamma: g(), beta: b() }, { epsilon: eps }) as tf.Tensor[];
          return run(SSL_LAYER_NORM_GRAD, { dy: w(), x: x(), gamma: g(), mean: mean!, rstd: rstd! }) as tf.Tensor[];
        },
        1e-4,
        1e-5,
      );
    }
  });

  it('rejects mismatched shapes and other dtypes by name', () => {
    tf.setBackend('native');
    expect(() => run(SSL_LAYER_NORM, { x: tf.zeros([2, 3]), gamma: tf.zeros([4]), beta: tf.zeros([3]) }, { epsilon: 1e-5 })).toThrow(
      /gamma must have shape \[3\]/,
    );
    expect(() => run(SSL_LAYER_NORM, { x: tf.zeros([2, 3], 'int32'), gamma: tf.zeros([3]), beta: tf.zeros([3]) }, { epsilon: 1e-5 })).toThrow(
      /'x' must be float32/,
    );
  });
});

describe('SslGelu', () => {
  const shapes = [[3, 50], [1], [0, 4], [70000]];

  it('forward and backward match the composite and its autograd', () => {
    for (const [i, shape] of shapes.entries()) {
      const x = () => tf.mul(rand(shape, 100 + i), 3);
      expectNativeMatches(() => geluRef(x()), () => run(SSL_GELU, { x: x() }) as tf.Tensor, 1e-5, 1e-6);
      const dy = () => rand(shape, 110 + i);
      expectNativeMatches(
        () => tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(geluRef(xs), dy())))(x()),
        () => run(SSL_GELU_GRAD, { dy: dy(), x: x() }) as tf.Tensor,
        1e-5,
        1e-6,
      );
    }
  });

  it('NaN and infinities as the composite', () => {
    const x = () => tf.tensor1d([NaN, Infinity, -Infinity, 0, 10, -10]);
    expectNativeMatches(() => geluRef(x()), () => run(SSL_GELU, { x: x() }) as tf.Tensor);
  });
});

describe('SslAdamW', () => {
  // The composite in the order of @ssl/engine's AdamW: each tfjs op rounds to float32.
  function adamwRef(p: tf.Tensor, g: tf.Tensor, m0: tf.Tensor, v0: tf.Tensor, s: Record<string, number>): tf.Tensor[] {
    const decayed = tf.mul(p, tf.scalar(s.decay!));
    const m = tf.add(tf.mul(m0, tf.scalar(s.beta1!)), tf.mul(g, tf.scalar(s.oneMinusBeta1!)));
    const v = tf.add(tf.mul(v0, tf.scalar(s.beta2!)), tf.mul(tf.mul(g, g), tf.scalar(s.oneMinusBeta2!)));
    const denom = tf.add(tf.div(tf.sqrt(v), tf.scalar(s.sqrtBiasCorrection2!)), tf.scalar(s.epsilon!));
    return [tf.sub(decayed, tf.mul(tf.div(m, denom), tf.scalar(s.stepSize!))), m, v];
  }

  function scalars(lr: number, wd: number, b1: number, b2: number, eps: number, t: number): Record<string, number> {
    return {
      decay: 1 - lr * wd,
      beta1: b1,
      oneMinusBeta1: 1 - b1,
      beta2: b2,
      oneMinusBeta2: 1 - b2,
      sqrtBiasCorrection2: Math.sqrt(1 - b2 ** t),
      epsilon: eps,
      stepSize: lr / (1 - b1 ** t),
    };
  }

  it('gives the same bits as the composite', () => {
    const cases = [
      { shape: [3, 50], s: scalars(1e-3, 0.04, 0.9, 0.999, 1e-8, 1) },
      { shape: [1], s: scalars(0.5, 0, 0.8, 0.99, 1e-6, 7) },
      { shape: [0], s: scalars(1e-3, 0.01, 0.9, 0.999, 1e-8, 2) },
      { shape: [70000], s: scalars(3e-4, 0.1, 0.9, 0.95, 1e-8, 30) },
    ];
    for (const [i, { shape, s }] of cases.entries()) {
      const ins = () => [rand(shape, 120 + i), rand(shape, 130 + i), tf.mul(rand(shape, 140 + i), 0.1), tf.abs(tf.mul(rand(shape, 150 + i), 0.01))] as const;
      expectNativeMatches(
        () => adamwRef(...ins(), s),
        () => {
          const [param, grad, m, v] = ins();
          return run(SSL_ADAMW, { param, grad, m, v }, s) as tf.Tensor[];
        },
        0,
        0,
      );
    }
  });

  it('rejects a gradient of another shape and a missing attr', () => {
    tf.setBackend('native');
    const s = scalars(1e-3, 0.04, 0.9, 0.999, 1e-8, 1);
    const [p, m, v] = [tf.zeros([4]), tf.zeros([4]), tf.zeros([4])];
    expect(() => run(SSL_ADAMW, { param: p, grad: tf.zeros([5]), m, v }, s)).toThrow(/grad must have the shape of param \[4\]/);
    expect(() => run(SSL_ADAMW, { param: p, grad: tf.zeros([4]), m, v }, { ...s, stepSize: undefined })).toThrow(/'stepSize'/);
  });
});

it('fused kernels keep the tensor count flat over repeated calls', () => {
  tf.setBackend('native');
  const x = rand([6, 16], 200);
  const g = tf.ones([16]);
  const b = tf.zeros([16]);
  const once = () => {
    const outs = [
      ...(run(SSL_LAYER_NORM, { x, gamma: g, beta: b }, { epsilon: 1e-6 }) as tf.Tensor[]),
      run(SSL_GELU, { x }) as tf.Tensor,
      run(SSL_GELU_GRAD, { dy: x, x }) as tf.Tensor,
    ];
    const [, mean, rstd] = outs as [tf.Tensor, tf.Tensor, tf.Tensor];
    outs.push(...(run(SSL_LAYER_NORM_GRAD, { dy: x, x, gamma: g, mean, rstd }) as tf.Tensor[]));
    const s = { decay: 1, beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001, sqrtBiasCorrection2: 0.03, epsilon: 1e-8, stepSize: 0.01 };
    outs.push(...(run(SSL_ADAMW, { param: x, grad: x, m: x, v: tf.abs(x) }, s) as tf.Tensor[]));
    tf.dispose(outs);
  };
  tf.tidy(once);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) tf.tidy(once);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, g, b]);
});
