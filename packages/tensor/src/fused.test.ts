import { beforeAll, describe, expect, it } from 'vitest';
// Through the index, which registers tfjs's gradients.
import { FUSED_KERNELS, adamwUpdate, attention, autocast, batchNormTrain, bf16Support, gelu, hasFusedKernel, initBackend, layerNorm, selfAttention, tf } from './index.js';
import type { AdamWStep } from './index.js';

/** Deterministic values in [-2, 2) (an LCG), so failures reproduce. */
function rand(shape: number[], seed: number, scale = 1): tf.Tensor {
  const out = new Float32Array(shape.reduce((a, d) => a * d, 1));
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 4 - 2) * scale;
  }
  return tf.tensor(out, shape);
}

type Outs = tf.Tensor | tf.Tensor[];

/** Runs `f` under `backend` and returns the values and shapes of its outputs. */
function on(backend: string, f: () => Outs): { shape: number[]; values: Float32Array }[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
  });
}

function expectClose(got: ReturnType<typeof on>, want: ReturnType<typeof on>, rtol: number, atol: number): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    const g = got[i]!;
    expect(g.shape).toEqual(w.shape);
    for (let j = 0; j < w.values.length; j++) {
      const a = w.values[j]!;
      const b = g.values[j]!;
      if (Math.abs(a - b) > atol + rtol * Math.abs(a)) throw new Error(`output ${i} [${w.shape}] at ${j}: want ${a}, got ${b}`);
    }
  });
}

// PyTorch's layer_norm written with plain tfjs ops: its autograd is the independent reference for
// the composite's hand-written gradient.
function layerNormPlain(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  // (tf.moments is avoided: its gradient fails in tfjs 4.22 after the first use.)
  const xc = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.div(xc, tf.sqrt(tf.add(variance, eps))), g), b);
}
// PyTorch's training batch_norm with plain tfjs ops (statistics over all axes but the last,
// biased variance): the composite and the native kernels are checked against its autograd.
function batchNormPlain(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor[] {
  const axes = [...Array(x.rank - 1).keys()];
  const mean = tf.mean(x, axes);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), axes);
  return [tf.add(tf.mul(tf.div(xc, tf.sqrt(tf.add(variance, eps))), g), b), mean, variance];
}
const batchNormFused = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor[] => {
  const r = batchNormTrain(x, g, b, eps);
  return [r.y, r.mean, r.variance];
};
type BatchNormFn = typeof batchNormPlain;
const BN_SHAPES = [[6, 5], [2, 3, 3, 16], [4, 1], [1, 3], [8, 7, 7, 40]];
const bnArgs = (shape: number[], seed: number) => () => {
  const c = shape[shape.length - 1]!;
  return [rand(shape, seed, 3), tf.add(rand([c], seed + 1), 1), rand([c], seed + 2)] as const;
};
const bnGrads = (bn: BatchNormFn, shape: number[], seed: number) => () => {
  const w = rand(shape, seed + 3);
  return tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(bn(x, g, b, 1e-5)[0]!, w)))([...bnArgs(shape, seed)()]);
};

const geluPlain = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

type LayerNormFn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number) => tf.Tensor;

const lnGrads = (ln: LayerNormFn, shape: number[], seed: number) => () => {
  const c = shape[shape.length - 1]!;
  const w = rand(shape, seed + 3);
  return tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(ln(x, g, b, 1e-6), w)))([
    rand(shape, seed, 3),
    tf.add(rand([c], seed + 1), 1),
    rand([c], seed + 2),
  ]);
};

// Shapes with a last dim that is and is not a multiple of 8, size-1 dims, an empty batch, and one
// big enough for the native kernels to split over threads.
const SHAPES = [[3, 50], [2, 4, 16], [5], [1, 1], [3, 1], [0, 8], [600, 64]];

let nativeOk = false;
beforeAll(async () => {
  // The native backend is built in CI (see @ssl/backend-native); the kernel tests need it.
  const info = await initBackend({ backend: 'native', env: {} });
  nativeOk = info.name === 'native';
});

describe('composite (cpu backend)', () => {
  it('layerNorm forward and gradients match plain tf ops and their autograd', () => {
    for (const [i, shape] of SHAPES.entries()) {
      const c = shape[shape.length - 1]!;
      const args = () => [rand(shape, 10 + i, 3), tf.add(rand([c], 20 + i), 1), rand([c], 30 + i)] as const;
      expectClose(on('cpu', () => layerNorm(...args(), 1e-6)), on('cpu', () => layerNormPlain(...args(), 1e-6)), 1e-5, 1e-5);
      expectClose(on('cpu', lnGrads(layerNorm, shape, 40 + i)), on('cpu', lnGrads(layerNormPlain, shape, 40 + i)), 1e-4, 1e-5);
    }
  });

  it('batchNormTrain forward (y, mean, variance) and gradients match plain tf ops and their autograd', () => {
    for (const [i, shape] of BN_SHAPES.entries()) {
      const args = bnArgs(shape, 200 + 10 * i);
      expectClose(on('cpu', () => batchNormFused(...args(), 1e-5)), on('cpu', () => batchNormPlain(...args(), 1e-5)), 1e-5, 1e-5);
      expectClose(on('cpu', bnGrads(batchNormFused, shape, 300 + 10 * i)), on('cpu', bnGrads(batchNormPlain, shape, 300 + 10 * i)), 1e-4, 1e-5);
    }
  });

  it('batchNormTrain: mean and variance carry no gradient; bad inputs are named', () => {
    for (const backend of ['cpu', 'native']) {
      tf.setBackend(backend);
      const [x, g, b] = bnArgs([5, 4], 400)();
      const withStats = tf.grads((xs: tf.Tensor) => {
        const r = batchNormTrain(xs, g, b);
        return tf.add(tf.sum(tf.square(r.y)), tf.add(tf.sum(r.mean), tf.sum(r.variance)));
      })([x]);
      const without = tf.grads((xs: tf.Tensor) => tf.sum(tf.square(batchNormTrain(xs, g, b).y)))([x]);
      expect(Array.from(withStats[0]!.dataSync())).toEqual(Array.from(without[0]!.dataSync()));
      tf.dispose([x, g, b, ...withStats, ...without]);
    }
    tf.setBackend('cpu');
    expect(() => batchNormTrain(tf.zeros([2, 3]), tf.ones([4]), tf.zeros([3]))).toThrow(/gamma must have shape \[3\]/);
    expect(() => batchNormTrain(tf.zeros([2, 3]), tf.ones([3]), tf.zeros([2]))).toThrow(/beta must have shape \[3\]/);
    expect(() => batchNormTrain(tf.zeros([3]), tf.ones([3]), tf.zeros([3]))).toThrow(/at least 2 dims/);
  });

  it('gelu forward and gradient match plain tf ops and their autograd', () => {
    for (const [i, shape] of [[3, 50], [1], [0, 4]].entries()) {
      const x = () => rand(shape, 50 + i, 3);
      expectClose(on('cpu', () => gelu(x())), on('cpu', () => geluPlain(x())), 1e-6, 1e-7);
      const dy = () => rand(shape, 60 + i);
      const grad = (f: (x: tf.Tensor) => tf.Tensor) => () => tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(f(xs), dy())))(x());
      expectClose(on('cpu', grad(gelu)), on('cpu', grad(geluPlain)), 1e-5, 1e-6);
    }
  });

  it('adamwUpdate matches a double-precision AdamW on hand values', () => {
    tf.setBackend('cpu');
    const s: AdamWStep = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, step: 2 };
    const [p, g, m, v] = [[1, -2, 0.5], [0.3, -0.1, 0], [0.05, 0.01, -0.2], [0.01, 0.002, 0.03]];
    const r = adamwUpdate(tf.tensor1d(p), tf.tensor1d(g), tf.tensor1d(m), tf.tensor1d(v), s);
    const want = p.map((pi, i) => {
      const mi = 0.9 * m[i]! + 0.1 * g[i]!;
      const vi = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
      return [pi * (1 - 0.05) - (0.1 / (1 - 0.9 ** 2)) * (mi / (Math.sqrt(vi) / Math.sqrt(1 - 0.999 ** 2) + 1e-8)), mi, vi];
    });
    for (const [k, t] of [r.param, r.m, r.v].entries()) {
      const got = Array.from(t.dataSync());
      got.forEach((x, i) => expect(x).toBeCloseTo(want[i]![k]!, 6));
    }
    tf.dispose([r.param, r.m, r.v]);
  });

  it('the cpu backend has no fused kernels; bad inputs are named', () => {
    tf.setBackend('cpu');
    expect(hasFusedKernel(FUSED_KERNELS.layerNorm)).toBe(false);
    expect(() => layerNorm(tf.zeros([2, 3]), tf.ones([4]), tf.zeros([3]))).toThrow(/gamma must have shape \[3\]/);
    expect(() => layerNorm(tf.scalar(1), tf.ones([1]), tf.zeros([1]))).toThrow(/scalar/);
    const z = tf.zeros([2]);
    expect(() => adamwUpdate(z, tf.zeros([3]), z, z, { lr: 1, beta1: 0.9, beta2: 0.9, eps: 0, weightDecay: 0, step: 1 })).toThrow(/grad must have the shape/);
    expect(() => adamwUpdate(z, z, z, z, { lr: 1, beta1: 0.9, beta2: 0.9, eps: 0, weightDecay: 0, step: 0 })).toThrow(/step must be/);
  });
});

describe('fused kernels (native backend) against the composite (cpu backend)', () => {
  // Each fused op's kernels; the attention ones are checked in their own block below.
  const ATTENTION_KERNELS: string[] = [FUSED_KERNELS.attention, FUSED_KERNELS.attentionGrad, FUSED_KERNELS.selfAttention, FUSED_KERNELS.selfAttentionGrad];
  const NATIVE_FUSED = Object.values(FUSED_KERNELS).filter((k) => !ATTENTION_KERNELS.includes(k));

  it('the native backend registers every fused kernel under these names', () => {
    expect(nativeOk).toBe(true);
    for (const name of Object.values(FUSED_KERNELS)) expect(tf.getKernel(name, 'native')).toBeDefined();
  });

  it('layerNorm: forward and gradients (dx, dgamma, dbeta)', () => {
    for (const [i, shape] of SHAPES.entries()) {
      const c = shape[shape.length - 1]!;
      const args = () => [rand(shape, 70 + i, 3), tf.add(rand([c], 80 + i), 1), rand([c], 90 + i)] as const;
      expectClose(on('native', () => layerNorm(...args(), 1e-6)), on('cpu', () => layerNorm(...args(), 1e-6)), 1e-5, 1e-5);
      expectClose(on('native', lnGrads(layerNorm, shape, 100 + i)), on('cpu', lnGrads(layerNorm, shape, 100 + i)), 1e-4, 1e-5);
    }
  });

  it('batchNormTrain: forward (y, mean, variance) and gradients (dx, dgamma, dbeta)', () => {
    for (const [i, shape] of BN_SHAPES.entries()) {
      const args = bnArgs(shape, 500 + 10 * i);
      expectClose(on('native', () => batchNormFused(...args(), 1e-5)), on('cpu', () => batchNormPlain(...args(), 1e-5)), 1e-5, 1e-5);
      expectClose(on('native', bnGrads(batchNormFused, shape, 600 + 10 * i)), on('cpu', bnGrads(batchNormPlain, shape, 600 + 10 * i)), 1e-5, 1e-5);
    }
  });

  it('gelu: forward and gradient', () => {
    for (const [i, shape] of [[3, 50], [1], [0, 4], [40000]].entries()) {
      const x = () => rand(shape, 110 + i, 3);
      expectClose(on('native', () => gelu(x())), on('cpu', () => gelu(x())), 1e-5, 1e-6);
      const dy = () => rand(shape, 120 + i);
      const grad = () => tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(gelu(xs), dy())))(x());
      expectClose(on('native', grad), on('cpu', grad), 1e-5, 1e-6);
    }
  });

  it('adamwUpdate: the same float32 bits', () => {
    const s: AdamWStep = { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.04, step: 3 };
    for (const [i, shape] of [[3, 50], [1], [0], [40000]].entries()) {
      const f = () => {
        const r = adamwUpdate(rand(shape, 130 + i), rand(shape, 140 + i), rand(shape, 150 + i, 0.1), tf.abs(rand(shape, 160 + i, 0.01)), s);
        return [r.param, r.m, r.v];
      };
      expectClose(on('native', f), on('cpu', f), 0, 0);
    }
  });

  it('on native each op is one kernel, forward and backward; on cpu the composite', async () => {
    const names = async (backend: string) => {
      tf.setBackend(backend);
      const x = rand([4, 16], 180);
      const info = await tf.profile(() =>
        tf.tidy(() => {
          const [dx] = tf.grads((a: tf.Tensor) => {
            const h = gelu(layerNorm(a, tf.ones([16]), tf.zeros([16])));
            return tf.sum(batchNormTrain(h, tf.ones([16]), tf.zeros([16])).y);
          })([x]);
          adamwUpdate(x, dx!, x, x, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 });
        }),
      );
      x.dispose();
      return new Set(info.kernels.map((k) => k.name));
    };
    const native = await names('native');
    for (const k of NATIVE_FUSED) expect(native.has(k)).toBe(true);
    expect(native.has('Erf') || native.has('Mean') || native.has('Sqrt')).toBe(false);
    const cpu = await names('cpu');
    expect([...cpu].some((k) => k.startsWith('Ssl'))).toBe(false);
    expect(cpu.has('Erf') && cpu.has('Mean') && cpu.has('Sqrt')).toBe(true);
  });

  it('the ops keep the tensor count flat on native', () => {
    tf.setBackend('native');
    const x = rand([4, 16], 170);
    const g = tf.ones([16]);
    const b = tf.zeros([16]);
    const once = () =>
      tf.tidy(() => {
        const [dx] = tf.grads((a: tf.Tensor) => tf.sum(gelu(layerNorm(a, g, b))))([x]);
        const bn = tf.grads((a: tf.Tensor) => tf.sum(tf.square(batchNormTrain(a, g, b).y)))([x]);
        bn[0]!.dataSync();
        const r = adamwUpdate(x, dx!, x, tf.abs(x), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 });
        return r.param.dataSync();
      });
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) once();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g, b]);
  });
});

describe('attention and selfAttention', () => {
  // The ops the ViT ran before the fused ones existed: where no kernel is registered (cpu) the ops
  // must be exactly these, so numerics do not move; native runs its kernels, equal within float32
  // summation order (and in bf16 under autocast, checked against a rounded reference in
  // @ssl/backend-native's attention tests).
  const attentionPlain = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, s: number) => tf.matMul(tf.softmax(tf.matMul(tf.mul(q, s), k, false, true)), v);
  const selfAttentionPlain = (qkv: tf.Tensor, heads: number, s: number) => {
    const [b, n, c] = qkv.shape as [number, number, number];
    const d = c / (3 * heads);
    const [q, k, v] = tf.unstack(tf.transpose(tf.reshape(qkv, [b, n, 3, heads, d]), [2, 0, 3, 1, 4])) as [tf.Tensor, tf.Tensor, tf.Tensor];
    return tf.reshape(tf.transpose(attentionPlain(q, k, v, s), [0, 2, 1, 3]), [b, n, c / 3]);
  };
  const qkv = (seed: number) => [rand([2, 3, 50, 16], seed), rand([2, 3, 50, 16], seed + 1), rand([2, 3, 50, 16], seed + 2)] as const;
  const withGrads = (f: typeof attentionPlain, seed: number) => () => {
    const w = rand([2, 3, 50, 16], seed + 3);
    const [q, k, v] = qkv(seed);
    return [f(q, k, v, 0.25), ...tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, b, c, 0.25), w)))([q, k, v])];
  };
  const packedWithGrads = (f: typeof selfAttentionPlain, seed: number) => () => {
    const x = rand([2, 50, 144], seed);
    const w = rand([2, 50, 48], seed + 1);
    return [f(x, 3, 0.25), ...tf.grads((a: tf.Tensor) => tf.sum(tf.mul(f(a, 3, 0.25), w)))([x])];
  };

  it('on cpu (no kernels) are the same float32 bits as the plain ops, forward and gradients', () => {
    tf.setBackend('cpu');
    expect(hasFusedKernel(FUSED_KERNELS.attention)).toBe(false);
    expectClose(on('cpu', withGrads(attention, 500)), on('cpu', withGrads(attentionPlain, 500)), 0, 0);
    expectClose(on('cpu', packedWithGrads(selfAttention, 505)), on('cpu', packedWithGrads(selfAttentionPlain, 505)), 0, 0);
  });

  it('on native run one kernel each way and equal the plain ops on cpu', async () => {
    if (!nativeOk) return;
    expectClose(on('native', withGrads(attention, 510)), on('cpu', withGrads(attentionPlain, 510)), 1e-4, 1e-5);
    expectClose(on('native', packedWithGrads(selfAttention, 515)), on('cpu', packedWithGrads(selfAttentionPlain, 515)), 1e-4, 1e-5);
    tf.setBackend('native');
    const x = rand([2, 50, 144], 520);
    const info = await tf.profile(() => tf.tidy(() => tf.grads((a: tf.Tensor) => tf.sum(selfAttention(a, 3, 0.25)))([x])));
    const names = info.kernels.map((k) => k.name);
    expect(names.filter((n) => n.startsWith('SslSelfAttention'))).toEqual([FUSED_KERNELS.selfAttention, FUSED_KERNELS.selfAttentionGrad]);
    expect(names.some((n) => n === 'Transpose' || n === 'BatchMatMul' || n === 'Softmax')).toBe(false);
    x.dispose();
  });

  it('under bf16 autocast native passes the precision to its kernels (bf16 products, not the float32 result)', () => {
    if (!nativeOk || !bf16Support({}).bf16) return;
    tf.setBackend('native');
    const inScope = autocast('bf16', () => on('native', packedWithGrads(selfAttention, 530)));
    const x = () => rand([2, 50, 144], 530);
    const asked = on('native', () => tf.engine().runKernel(FUSED_KERNELS.selfAttention, { qkv: x() }, { heads: 3, scale: 0.25, precision: 'bf16' }) as tf.Tensor);
    expectClose([inScope[0]!], asked, 0, 0);
    expect(() => expectClose([inScope[0]!], on('native', () => selfAttention(x(), 3, 0.25)), 1e-4, 1e-5)).toThrow();
  });

  it('bad inputs are named', () => {
    tf.setBackend('cpu');
    const q = tf.zeros([2, 4, 8]);
    expect(() => attention(q, tf.zeros([2, 4, 7]), q, 1)).toThrow(/attention: k must have the shape of q \[2,4,8\], got \[2,4,7\]/);
    expect(() => attention(q, q, tf.zeros([2, 5, 8]), 1)).toThrow(/attention: v must have the shape of q/);
    expect(() => attention(tf.zeros([3]), tf.zeros([3]), tf.zeros([3]), 1)).toThrow(/attention: q must be \[\.\.\., N, d\]/);
    expect(() => attention(q, q, q, Number.NaN)).toThrow(/attention: scale must be a finite number/);
  });
});
