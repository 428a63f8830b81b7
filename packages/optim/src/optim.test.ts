import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';
import { AdamW } from './adamw.js';
import { DinoLARS, LARS } from './lars.js';
import type { Optimizer } from './optimizer.js';
import { getParamsGroups, pawsParamGroups } from './params.js';
import type { NamedParameters } from './params.js';
import { PawsSGD, SGD } from './sgd.js';

interface OptCase {
  params: Array<{ name: string; shape: number[]; values: number[] }>;
  steps: Array<{ lr: number; wd: number }>;
  grads: Array<Record<string, number[] | null>>;
  after: Array<Record<string, number[]>>;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')).optimizers as Record<string, OptCase>;

function makeParams(c: OptCase): NamedParameters {
  return c.params.map((p) => [p.name, tf.variable(tf.tensor(p.values, p.shape), true)] as [string, Variable]);
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return err / Math.max(scale, 1e-12);
}

function run(
  c: OptCase,
  make: (named: NamedParameters) => Optimizer,
  sched: (opt: Optimizer, lr: number, wd: number) => void,
  tol: number,
): void {
  const named = makeParams(c);
  const opt = make(named);
  const before = tf.memory().numTensors;
  c.steps.forEach((s, k) => {
    sched(opt, s.lr, s.wd);
    const grads: Record<string, Tensor> = {};
    for (const [name, v] of named) {
      const g = (c.grads[k] as Record<string, number[] | null>)[name];
      if (g) grads[name] = tf.tensor(g, v.shape);
    }
    opt.step(grads);
    tf.dispose(Object.values(grads));
    for (const [name, v] of named) {
      const want = (c.after[k] as Record<string, number[]>)[name] as number[];
      const err = maxRelErr(v.dataSync(), want);
      if (err > tol) throw new Error(`step ${k} ${name}: max rel err ${err}`);
    }
    if (k === 0) expect(tf.memory().numTensors).toBeGreaterThan(before); // state allocated once
  });
  const settled = tf.memory().numTensors;
  // state round trip: a fresh optimizer with restored state continues identically
  const state = opt.getState();
  const opt2 = make(named);
  opt2.setState(state);
  const state2 = opt2.getState();
  expect(state2.scalars).toEqual(state.scalars);
  for (const [k, t] of Object.entries(state.tensors)) {
    expect(Array.from((state2.tensors[k] as Tensor).dataSync())).toEqual(Array.from(t.dataSync()));
  }
  tf.dispose(Object.values(state2.tensors));
  tf.dispose(Object.values(state.tensors));
  opt2.dispose();
  expect(tf.memory().numTensors).toBe(settled);
  opt.dispose();
  tf.dispose(named.map(([, v]) => v));
}

const dinoSched = (opt: Optimizer, lr: number, wd: number) => opt.setSchedule(lr, wd);
const pawsSched = (opt: Optimizer, lr: number) => opt.setSchedule(lr);

describe('optimizers against PyTorch (4 steps, a missing and a zero gradient)', () => {
  it('AdamW with DINO param groups (wd on group 0 only, per-parameter step count)', () => {
    run(fx.adamw as OptCase, (n) => new AdamW(getParamsGroups(n)), dinoSched, 2e-6);
  });
  it('AdamW on the native backend (one fused kernel per parameter) gives the same numbers', async () => {
    const before = tf.getBackend();
    expect((await initBackend({ backend: 'native', env: {} })).name).toBe('native');
    try {
      run(fx.adamw as OptCase, (n) => new AdamW(getParamsGroups(n)), dinoSched, 2e-6);
    } finally {
      await tf.setBackend(before);
    }
  });
  it('torch.optim.SGD with momentum 0.9', () => {
    run(fx.sgd as OptCase, (n) => new SGD(getParamsGroups(n), { momentum: 0.9 }), dinoSched, 2e-6);
  });
  it("DINO's LARS", () => {
    run(fx.dinoLars as OptCase, (n) => new DinoLARS(getParamsGroups(n)), dinoSched, 2e-6);
  });
  it("PAWS's LARS around PAWS's SGD (trust 0.001)", () => {
    run(fx.pawsLars as OptCase, (n) => new LARS(pawsParamGroups(n), { weightDecay: 1e-6, momentum: 0.9, trustCoefficient: 0.001 }), pawsSched, 2e-6);
  });
  it("PAWS's LARS, nesterov, wd 1e-2", () => {
    run(fx.pawsLarsNesterov as OptCase, (n) => new LARS(pawsParamGroups(n), { weightDecay: 1e-2, momentum: 0.9, nesterov: true, trustCoefficient: 0.02 }), pawsSched, 2e-6);
  });
  it("PAWS's SGD (lr before momentum)", () => {
    run(fx.pawsSgd as OptCase, (n) => new PawsSGD(pawsParamGroups(n), { weightDecay: 1e-2, momentum: 0.9 }), pawsSched, 2e-6);
  });
});

describe('param groups', () => {
  it('get_params_groups: no decay for *.bias and 1-D; cls_token/pos_embed/weight_v decayed; frozen left out', () => {
    const mk = (shape: number[], trainable = true) => tf.variable(tf.zeros(shape), trainable);
    const named: NamedParameters = [
      ['cls_token', mk([1, 1, 4])],
      ['pos_embed', mk([1, 5, 4])],
      ['blocks.0.norm1.weight', mk([4])],
      ['blocks.0.attn.qkv.bias', mk([12])],
      ['head.last_layer.weight_v', mk([8, 4])],
      ['head.last_layer.weight_g', mk([8, 1], false)],
    ];
    const [a, b] = getParamsGroups(named);
    expect(a.params.map(([n]) => n)).toEqual(['cls_token', 'pos_embed', 'head.last_layer.weight_v']);
    expect(b.params.map(([n]) => n)).toEqual(['blocks.0.norm1.weight', 'blocks.0.attn.qkv.bias']);
    expect(b.weightDecay).toBe(0);
    const [p, q] = pawsParamGroups(named);
    expect(q.params.map(([n]) => n)).toEqual(['blocks.0.attn.qkv.bias']);
    expect(q.larsExclude).toBe(true);
    expect(p.params.length).toBe(4);
    tf.dispose(named.map(([, v]) => v));
  });

  it('rejects bad groups and mismatched state', () => {
    const v = tf.variable(tf.zeros([2]));
    expect(() => new AdamW([])).toThrow(/at least one parameter group/);
    expect(() => new AdamW([{ params: [['a', v], ['a', v]] }])).toThrow(/'a' appears twice/);
    const sgd = new SGD([{ params: [['a', v]] }], { momentum: 0.9 });
    expect(() => new AdamW([{ params: [['a', v]] }]).setState(sgd.getState())).toThrow(/state is for optimizer 'sgd'/);
    expect(() => new SGD([{ params: [['a', v]] }], { nesterov: true })).toThrow(/nesterov needs momentum/);
    v.dispose();
  });
});
