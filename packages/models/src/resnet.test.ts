import { join } from 'node:path';
import { initBackend, tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { FIXTURES, formulaStateDict, get, maxAbsDiff } from './fixtures.test-helpers.js';
import { ResNet } from './resnet.js';
import type { ResNetOptions } from './resnet.js';
import { readSafetensorsWithMetadata } from './safetensors.js';

const CASES: Record<string, ResNetOptions> = {
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet18_cifar: { block: 'basic', layers: [2, 2, 2, 2], cifarStem: true },
};

describe('ResNet vs torchvision', () => {
  // cpu runs the tfjs composites; native the fused BatchNorm, MaxPool and Tile kernels.
  for (const [name, options] of Object.entries(CASES)) for (const backend of ['cpu', 'native']) {
    it(`${name} on ${backend}: torchvision keys load strictly; train- and eval-mode features and running stats within 1e-4`, async () => {
      if (backend === 'native') expect((await initBackend({ backend: 'native', env: {} })).name).toBe('native');
      else await tf.setBackend('cpu');
      const { tensors: io, metadata } = await readSafetensorsWithMetadata(join(FIXTURES, `${name}_io.safetensors`));
      const keys = JSON.parse(metadata.keys!) as Array<[string, number[], string]>;
      const model = new ResNet(options);
      // same keys, order and shapes as torchvision's state dict
      expect(Object.entries(model.stateDictShapes())).toEqual(keys.map(([k, s]) => [k, s]));
      const sd = formulaStateDict(keys);
      model.loadStateDict(sd, { strict: true });
      tf.dispose(Object.values(sd));

      model.train();
      const yt = model.forward(get(io, 'x_train'));
      expect(maxAbsDiff(yt, get(io, 'y_train'))).toBeLessThan(1e-4);
      const buffers = Object.fromEntries(model.namedBuffers());
      for (const k of Object.keys(io).filter((k) => k.startsWith('after.'))) {
        expect(maxAbsDiff(buffers[k.slice('after.'.length)]!, get(io, k))).toBeLessThan(1e-4);
      }
      expect(buffers['bn1.num_batches_tracked']!.dataSync()[0]).toBe(1);

      model.eval();
      const ye = model.forward(get(io, 'x_eval'));
      expect(maxAbsDiff(ye, get(io, 'y_eval'))).toBeLessThan(1e-4);
      tf.dispose([yt, ye, ...Object.values(io)]);
      model.dispose();
      await tf.setBackend('cpu');
    });
  }

  it('rejects bad input and options clearly', () => {
    const m = new ResNet({ block: 'basic', layers: [1, 1, 1, 1], baseWidth: 4 });
    expect(() => m.forward(tf.zeros([1, 8, 8, 1]))).toThrow(/ResNet: input must be NHWC \[B, H, W, 3\], got \[1,8,8,1\]/);
    expect(() => new ResNet({ layers: [1, 1, 1] as unknown as [number, number, number, number] })).toThrow(/layers must be 4 positive integers/);
    m.dispose();
  });

  it('state dict holds num_batches_tracked as an integer and does not leak over train steps', () => {
    const m = new ResNet({ block: 'bottleneck', layers: [1, 1, 1, 1], baseWidth: 4, cifarStem: true });
    const sd = m.stateDict();
    expect(sd['layer1.0.bn3.num_batches_tracked']!.dtype).toBe('int32');
    tf.dispose(Object.values(sd));
    const x = tf.randomNormal([2, 8, 8, 3]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(m.forward(x)) as tf.Scalar, m.trainableParameters());
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(m.bn1.numBatchesTracked.dataSync()[0]).toBe(4);
    x.dispose();
    m.dispose();
  });
});
