import { Rng, initBackend, tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DINOHead, MultiCropWrapper } from './dino_head.js';
import { fixture, get, maxAbsDiff } from './fixtures.test-helpers.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';
import { VisionTransformer, bicubicMatrix } from './vision_transformer.js';

const TOL = 1e-4;
let weights: Record<string, Tensor>;
let io: Record<string, Tensor>;
let vit: VisionTransformer;

beforeAll(async () => {
  weights = await fixture('vit_weights.safetensors');
  io = await fixture('vit_io.safetensors');
  vit = new VisionTransformer({ embedDim: 48, depth: 2, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28 });
  vit.loadStateDict(weights, { strict: true });
  vit.eval();
});
afterAll(() => {
  tf.dispose([...Object.values(weights), ...Object.values(io)]);
  vit.dispose();
});

describe('VisionTransformer vs PyTorch (DINO vision_transformer.py)', () => {
  it('has the official state-dict keys in order', () => {
    expect(Object.keys(vit.stateDictShapes())).toEqual(Object.keys(weights));
  });

  for (const tag of ['native', 'square36', 'rect20x32']) {
    it(`CLS, all tokens, last attention and intermediate layers at ${tag}`, () => {
      const x = get(io, `${tag}.x`);
      const cls = vit.forward(x);
      const tokens = vit.forwardTokens(x);
      const attn = vit.getLastSelfAttention(x);
      const inter = vit.getIntermediateLayers(x, 2);
      expect(maxAbsDiff(cls, get(io, `${tag}.cls`))).toBeLessThan(TOL);
      expect(maxAbsDiff(tokens, get(io, `${tag}.tokens`))).toBeLessThan(TOL);
      expect(maxAbsDiff(attn, get(io, `${tag}.attn`))).toBeLessThan(TOL);
      expect(inter).toHaveLength(2);
      expect(maxAbsDiff(inter[0]!, get(io, `${tag}.inter0`))).toBeLessThan(TOL);
      expect(maxAbsDiff(inter[1]!, get(io, `${tag}.inter1`))).toBeLessThan(TOL);
      tf.dispose([cls, tokens, attn, ...inter]);
    });
  }

  it('matches PyTorch on the native backend too (fused LayerNorm and GELU kernels)', async () => {
    const before = tf.getBackend();
    expect((await initBackend({ backend: 'native', env: {} })).name).toBe('native');
    try {
      const x = get(io, 'square36.x');
      const tokens = vit.forwardTokens(x);
      expect(maxAbsDiff(tokens, get(io, 'square36.tokens'))).toBeLessThan(TOL);
      tokens.dispose();
    } finally {
      await tf.setBackend(before);
    }
  });

  it('our safetensors round trip gives identical outputs', () => {
    const sd = vit.stateDict();
    const bytes = serializeSafetensors(sd);
    const other = new VisionTransformer({ embedDim: 48, depth: 2, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28, seed: 99 });
    const back = parseSafetensors(bytes);
    other.loadStateDict(back);
    other.eval();
    const x = get(io, 'rect20x32.x');
    const a = vit.forward(x);
    const b = other.forward(x);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, ...Object.values(sd), ...Object.values(back)]);
    other.dispose();
  });

  it('MultiCropWrapper groups crops by resolution and runs the head once, as the official wrapper', async () => {
    const head = new DINOHead({ inDim: 48, outDim: 64, hiddenDim: 32, bottleneckDim: 16 });
    const hw = await fixture('multicrop_weights_head.safetensors');
    const mc = new MultiCropWrapper(new VisionTransformer({ embedDim: 48, depth: 2, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28 }), head);
    // the wrapper's keys are backbone.* and head.*
    const sd: Record<string, Tensor> = { ...hw };
    for (const [k, v] of Object.entries(weights)) sd[`backbone.${k}`] = v;
    const res = mc.loadStateDict(sd, { strict: true });
    expect(res.stripped).toEqual([]);
    mc.eval();
    const mio = await fixture('multicrop_io.safetensors');
    const crops = [0, 1, 2, 3].map((i) => get(mio, `crop${i}`));
    const y = mc.forward(crops);
    expect(y.shape).toEqual([8, 64]);
    expect(maxAbsDiff(y, get(mio, 'out'))).toBeLessThan(TOL);
    tf.dispose([y, ...Object.values(hw), ...Object.values(mio)]);
    mc.dispose();
  });
});

describe('VisionTransformer behaviour', () => {
  it('bicubic matrix rows sum to 1 and reproduce a hand-computed PyTorch weight', () => {
    const m = bicubicMatrix(7, 9, 9.1 / 7);
    for (let o = 0; o < 9; o++) {
      let s = 0;
      for (let i = 0; i < 7; i++) s += m[o * 7 + i]!;
      expect(s).toBeCloseTo(1, 12);
    }
    // o = 0: src = 0.5 * 7 / 9.1 - 0.5 = -0.11538..., floor -1, t = 0.88461...; the taps at -2, -1
    // clamp to index 0, tap at 0 has weight near(1 - t) with A = -0.75.
    const t = 0.5 * (7 / 9.1) - 0.5 + 1;
    const A = -0.75;
    const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
    const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    expect(m[0]).toBeCloseTo(far(t + 1) + near(t) + near(1 - t), 12);
    expect(m[1]).toBeCloseTo(far(2 - t), 12);
  });

  it('rejects bad input with a message naming what was expected', () => {
    expect(() => vit.forward(tf.zeros([1, 28, 28, 3]))).toThrow(/NHWC \[B, H, W, 1\], got \[1,28,28,3\]/);
    expect(() => vit.forward(tf.zeros([1, 2, 28, 1]))).toThrow(/smaller than one 4px patch/);
    expect(() => new VisionTransformer({ embedDim: 50, numHeads: 3, depth: 1 })).toThrow(/divisible by numHeads/);
  });

  it('stochastic depth is seeded: the same Rng state gives the same output; eval ignores it', () => {
    const m = new VisionTransformer({ embedDim: 24, depth: 4, numHeads: 2, patchSize: 4, inChans: 1, imgSize: 16, dropPathRate: 0.5 });
    const x = tf.randomNormal([8, 16, 16, 1], 0, 1, 'float32', 3);
    const a = m.forward(x, { rng: new Rng(5) });
    const b = m.forward(x, { rng: new Rng(5) });
    const c = m.forward(x, { rng: new Rng(6) });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
    // the model's own generator advances between calls and can be saved/restored
    const state = m.rng.getState();
    const d = m.forward(x);
    m.rng.setState(state);
    const e = m.forward(x);
    expect(Array.from(e.dataSync())).toEqual(Array.from(d.dataSync()));
    m.eval();
    const f = m.forward(x, { rng: new Rng(5) });
    const g = m.forward(x, { rng: new Rng(6) });
    expect(Array.from(g.dataSync())).toEqual(Array.from(f.dataSync()));
    tf.dispose([x, a, b, c, d, e, f, g]);
    m.dispose();
  });

  it('does not leak tensors over repeated forward + gradient steps', () => {
    const m = new VisionTransformer({ embedDim: 24, depth: 2, numHeads: 2, patchSize: 4, inChans: 1, imgSize: 16, dropPathRate: 0.1 });
    const head = new DINOHead({ inDim: 24, outDim: 10, hiddenDim: 16, bottleneckDim: 8 });
    const mc = new MultiCropWrapper(m, head);
    const crops = [tf.randomNormal([2, 16, 16, 1]), tf.randomNormal([2, 8, 8, 1])];
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(mc.forward(crops))) as tf.Scalar, mc.trainableParameters());
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(crops);
    mc.dispose();
  });
});
