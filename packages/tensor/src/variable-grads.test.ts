import { beforeAll, describe, expect, it } from 'vitest';
// Through the index, which registers tfjs's gradients.
import { gelu, initBackend, layerNorm, selfAttention, tf, variableGrads } from './index.js';

/** Deterministic values in [-1, 1) (an LCG), so failures reproduce. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

let nativeOk = false;
beforeAll(async () => {
  nativeOk = (await initBackend({ backend: 'native', env: {} })).name === 'native';
});

/**
 * A ViT block and a head: fused ops (customGrad), broadcasting adds, a weight used twice, a
 * gradient that accumulates from several consumers, a non-trainable variable, a dead branch.
 */
function model() {
  const v = (shape: number[], seed: number, trainable = true) => tf.variable(tf.tensor(values(shape.reduce((a, d) => a * d, 1), seed), shape), trainable);
  const p = {
    qkv: v([16, 48], 1),
    proj: v([16, 16], 2),
    fc1: v([16, 32], 3),
    fc2: v([32, 16], 4),
    gamma: v([16], 5),
    beta: v([16], 6),
    head: v([16, 8], 7),
    frozen: v([8], 8, false),
  };
  const x = tf.tensor(values(2 * 5 * 16, 9), [2, 5, 16]);
  const loss = () => {
    const ln = (t: tf.Tensor) => layerNorm(t, p.gamma, p.beta, 1e-6);
    const mm = (t: tf.Tensor, w: tf.Tensor) => tf.reshape(tf.matMul(tf.reshape(t, [-1, t.shape[2]!]), w), [...t.shape.slice(0, 2), w.shape[1]!]);
    let h = tf.add(x, mm(selfAttention(mm(ln(x), p.qkv), 2, 0.35), p.proj));
    h = tf.add(h, mm(gelu(mm(ln(h), p.fc1)), p.fc2)); // gamma and beta used twice
    tf.sum(tf.exp(h)); // a dead branch
    const logits = tf.add(tf.matMul(tf.mean(h, 1), p.head), p.frozen);
    return tf.mean(tf.square(tf.sub(tf.logSoftmax(logits), tf.softmax(tf.mul(logits, 2)))));
  };
  return { p, x, loss, dispose: () => tf.dispose([x, ...Object.values(p)]) };
}

describe('variableGrads', () => {
  for (const backend of ['cpu', 'native']) {
    it(`${backend}: the same value and gradients, bit for bit, as tf.variableGrads; frozen variables get null`, () => {
      if (backend === 'native' && !nativeOk) return;
      tf.setBackend(backend);
      const m = model();
      const vars = Object.values(m.p);
      const theirs = tf.variableGrads(m.loss as () => tf.Scalar, vars);
      const ours = variableGrads(m.loss as () => tf.Scalar, vars);
      expect(ours.value.dataSync()).toEqual(theirs.value.dataSync());
      expect(Object.keys(ours.grads).sort()).toEqual(Object.keys(theirs.grads).sort());
      for (const [name, g] of Object.entries(theirs.grads)) {
        if (g === null) expect(ours.grads[name]).toBeNull();
        else expect(Array.from(ours.grads[name]!.dataSync())).toEqual(Array.from(g.dataSync()));
      }
      expect(ours.grads[m.p.frozen.name]).toBeNull();
      tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)].filter((t): t is tf.Tensor => t !== null));
      m.dispose();
    });
  }

  it('a node that returns its input, or a gradient kept from before the pass: the same as tfjs, nothing of the caller disposed', () => {
    tf.setBackend('cpu');
    const x = tf.variable(tf.tensor([1, 2, 3]));
    // Output = input: the input's gradient also flows straight from the consumers of the output.
    // tf.customGrad's typings want every argument typed as a tensor or a saver.
    const customGrad = (f: (t: tf.Tensor) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor[] }) =>
      tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (t: tf.Tensor) => tf.Tensor;
    const passOn = customGrad((t) => ({ value: t, gradFunc: (dy) => [tf.zerosLike(dy)] }));
    const f1 = () => tf.sum(tf.mul(passOn(tf.mul(x, 2)), 3)) as tf.Scalar;
    // A gradient made and kept before the backward pass: still the caller's afterwards.
    let kept: tf.Tensor | undefined;
    const keptGrad = customGrad((t) => {
      kept = tf.keep(tf.mul(tf.onesLike(t), 5));
      return { value: tf.mul(t, 1), gradFunc: () => [kept!] };
    });
    const f2 = () => tf.sum(tf.mul(keptGrad(x), x)) as tf.Scalar;
    for (const f of [f1, f2]) {
      const theirs = tf.variableGrads(f, [x]);
      const ours = variableGrads(f, [x]);
      expect(Array.from(ours.grads[x.name]!.dataSync())).toEqual(Array.from(theirs.grads[x.name]!.dataSync()));
      tf.dispose([ours.value, theirs.value, ours.grads[x.name]!, theirs.grads[x.name]!]);
    }
    expect(kept!.isDisposed).toBe(false);
    tf.dispose([x, kept!]);
  });

  it('leaves only the value and the gradients behind, and holds fewer bytes at once than tfjs', () => {
    tf.setBackend('cpu');
    const m = model();
    const vars = Object.values(m.p).filter((v) => v.trainable);
    const before = tf.memory().numTensors;
    let peak = 0;
    // Peak bytes during the backward pass, sampled after every kernel.
    const run = (grads: typeof variableGrads) => {
      peak = 0;
      const engine = tf.engine() as unknown as { state: { numBytes: number } };
      const original = tf.engine().runKernel.bind(tf.engine());
      (tf.engine() as unknown as { runKernel: unknown }).runKernel = (...args: Parameters<typeof original>) => {
        const out = original(...args);
        peak = Math.max(peak, engine.state.numBytes);
        return out;
      };
      try {
        const r = grads(m.loss as () => tf.Scalar, vars);
        tf.dispose([r.value, ...Object.values(r.grads)].filter((t): t is tf.Tensor => t !== null));
      } finally {
        (tf.engine() as unknown as { runKernel: unknown }).runKernel = original;
      }
      return peak;
    };
    const theirs = run(tf.variableGrads);
    const ours = run(variableGrads);
    expect(tf.memory().numTensors).toBe(before);
    expect(ours).toBeLessThan(theirs);
    m.dispose();
  });

  it('a loss that is not a scalar, or no trainable variable, is a clear error', () => {
    tf.setBackend('cpu');
    const w = tf.variable(tf.ones([2]));
    expect(() => variableGrads(() => tf.mul(w, 2) as unknown as tf.Scalar, [w])).toThrow(/variableGrads: f must return a scalar, got a rank-1 tensor/);
    const frozen = tf.variable(tf.ones([2]), false);
    expect(() => variableGrads(() => tf.sum(frozen), [frozen])).toThrow(/none of the 1 variables is trainable/);
    tf.dispose([w, frozen]);
  });
});
