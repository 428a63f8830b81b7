import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DINOHead } from './dino_head.js';
import { fixture, get, maxAbsDiff, section } from './fixtures.test-helpers.js';

let fx: Record<string, Tensor>;
beforeAll(async () => {
  fx = await fixture('dino_head.safetensors');
});
afterAll(() => tf.dispose(Object.values(fx)));

const CONFIGS = {
  plain: { inDim: 24, outDim: 40, hiddenDim: 32, bottleneckDim: 16 },
  bn: { inDim: 24, outDim: 40, hiddenDim: 32, bottleneckDim: 16, useBn: true, normLastLayer: false, nlayers: 4 },
  one: { inDim: 24, outDim: 40, hiddenDim: 32, bottleneckDim: 16, nlayers: 1 },
};

describe('DINOHead vs PyTorch', () => {
  for (const [tag, cfg] of Object.entries(CONFIGS)) {
    it(`${tag}: official keys, train-mode output within 1e-4`, () => {
      const head = new DINOHead(cfg);
      const sd = section(fx, tag);
      const weights = Object.fromEntries(Object.entries(sd).filter(([k]) => !/^(x|y|y_eval|running_.*_after)$/.test(k)));
      expect(Object.keys(head.stateDictShapes())).toEqual(Object.keys(weights));
      head.loadStateDict(weights, { strict: true });
      const y = head.forward(get(sd, 'x'));
      expect(maxAbsDiff(y, get(sd, 'y'))).toBeLessThan(1e-4);
      if (tag === 'bn') {
        const bn = head.namedModules().find(([n]) => n === 'mlp.1')![1] as unknown as { runningMean: Tensor; runningVar: Tensor };
        expect(maxAbsDiff(bn.runningMean, get(sd, 'running_mean_after'))).toBeLessThan(1e-6);
        expect(maxAbsDiff(bn.runningVar, get(sd, 'running_var_after'))).toBeLessThan(1e-5);
        head.eval();
        const ye = head.forward(get(sd, 'x'));
        expect(maxAbsDiff(ye, get(sd, 'y_eval'))).toBeLessThan(1e-4);
        ye.dispose();
      }
      y.dispose();
      head.dispose();
    });
  }

  it('weight_g is frozen (not trainable) when normLastLayer, trainable otherwise', () => {
    const frozen = new DINOHead({ inDim: 8, outDim: 5, hiddenDim: 8, bottleneckDim: 4 });
    const free = new DINOHead({ inDim: 8, outDim: 5, hiddenDim: 8, bottleneckDim: 4, normLastLayer: false });
    expect(frozen.namedParameters().map(([n]) => n)).toContain('last_layer.weight_g');
    expect(frozen.namedTrainableParameters().map(([n]) => n)).not.toContain('last_layer.weight_g');
    expect(free.namedTrainableParameters().map(([n]) => n)).toContain('last_layer.weight_g');
    expect(Array.from(frozen.lastLayer.weightG.dataSync())).toEqual([1, 1, 1, 1, 1]);
    expect(() => frozen.forward(tf.zeros([2, 7]))).toThrow(/DINOHead: input must be \[B, 8\], got \[2,7\]/);
    frozen.dispose();
    free.dispose();
  });
});
