import { join } from 'node:path';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { FIXTURES, formulaStateDict, get, maxAbsDiff } from './fixtures.test-helpers.js';
import { PAWSModel } from './paws.js';
import { ResNet } from './resnet.js';
import { readSafetensorsWithMetadata } from './safetensors.js';
import { WideResNet } from './wide_resnet.js';

describe('PAWS model vs the official suncet code', () => {
  it('WRN-28-2 + projection + prediction heads: keys, h and z per resolution group in train and eval mode', async () => {
    const { tensors: io, metadata } = await readSafetensorsWithMetadata(join(FIXTURES, 'paws_wrn_io.safetensors'));
    const keys = JSON.parse(metadata.keys!) as Array<[string, number[], string]>;
    const model = new PAWSModel(new WideResNet(), { outputDim: 16 });
    expect(Object.entries(model.stateDictShapes())).toEqual(keys.map(([k, s]) => [k, s]));
    const sd = formulaStateDict(keys);
    model.loadStateDict(sd, { strict: true });
    tf.dispose(Object.values(sd));
    const crops = [0, 1, 2].map((i) => get(io, `crop${i}`));

    model.train();
    const { h, z } = model.forward(crops, { returnBeforeHead: true });
    expect(h.shape).toEqual([10, 16]);
    expect(maxAbsDiff(h, get(io, 'h_train'))).toBeLessThan(1e-4);
    expect(maxAbsDiff(z, get(io, 'z_train'))).toBeLessThan(1e-4);
    const buffers = Object.fromEntries(model.namedBuffers());
    for (const k of Object.keys(io).filter((k) => k.startsWith('after.'))) {
      // the final WRN BatchNorm uses momentum 0.99, as the official code
      expect(maxAbsDiff(buffers[k.slice('after.'.length)]!, get(io, k))).toBeLessThan(1e-4);
    }

    model.eval();
    const ze = model.forward(crops);
    const both = model.forward(crops, { returnBeforeHead: true });
    expect(maxAbsDiff(ze, get(io, 'z_eval'))).toBeLessThan(1e-4);
    expect(maxAbsDiff(both.h, get(io, 'h_eval'))).toBeLessThan(1e-4);
    tf.dispose([h, z, ze, both.h, both.z, ...Object.values(io)]);
    model.dispose();
  });

  it('keeps backbone keys at the top level, heads under fc.* and pred.*; no pred head when usePred is false', () => {
    const m = new PAWSModel(new ResNet({ block: 'basic', layers: [1, 1, 1, 1], baseWidth: 4, cifarStem: true }), { outputDim: 8, usePred: false });
    const names = Object.keys(m.stateDictShapes());
    expect(names[0]).toBe('conv1.weight');
    expect(names.filter((n) => n.startsWith('fc.'))).toEqual([
      'fc.fc1.weight', 'fc.fc1.bias', 'fc.bn1.weight', 'fc.bn1.bias', 'fc.bn1.running_mean', 'fc.bn1.running_var',
      'fc.bn1.num_batches_tracked', 'fc.fc2.weight', 'fc.fc2.bias', 'fc.bn2.weight', 'fc.bn2.bias', 'fc.bn2.running_mean',
      'fc.bn2.running_var', 'fc.bn2.num_batches_tracked', 'fc.fc3.weight', 'fc.fc3.bias',
    ]);
    expect(names.some((n) => n.startsWith('pred.'))).toBe(false);
    const x = tf.randomNormal([3, 8, 8, 3]);
    const { h, z } = m.forward(x, { returnBeforeHead: true });
    expect(z).toBe(h);
    expect(h.shape).toEqual([3, 8]);
    tf.dispose([x, h]);
    m.dispose();
  });
});
