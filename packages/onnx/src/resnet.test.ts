import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, readFixture } from './fixtures.test-helpers.js';
import { exportResNet, inferResNetShape } from './resnet.js';

// Reference: fixtures/make_fixtures.py (torchvision BasicBlock/Bottleneck, eval mode).
describe('exportResNet', () => {
  for (const [name, block, layers] of [
    ['resnet_basic', 'basic', [2, 1, 1, 1]],
    ['resnet_bottleneck', 'bottleneck', [1, 2, 1, 1]],
  ] as const) {
    it(`matches PyTorch: ${name}`, async () => {
      const sd = readFixture(`${name}.safetensors`);
      const io = readFixture(`${name}_io.safetensors`);
      expect(inferResNetShape(sd)).toMatchObject({ block, layers, numClasses: 10, cifarStem: false });
      const session = await ort.InferenceSession.create(exportResNet(sd), { graphOptimizationLevel: 'all' });
      expect(session.outputNames).toEqual(['features', 'logits']);
      for (const key of ['b1_32', 'b3_40']) {
        const x = io[`${key}.input`]!;
        const out = await session.run({ input: new ort.Tensor('float32', x.data, x.shape) });
        for (const o of ['features', 'logits']) {
          expect(out[o]!.dims).toEqual(io[`${key}.${o}`]!.shape);
          expect(maxAbsDiff(out[o]!.data as Float32Array, io[`${key}.${o}`]!.data), `${key} ${o}`).toBeLessThan(1e-4);
        }
      }
    });
  }

  it('exports a backbone without fc as features only', async () => {
    const sd = readFixture('resnet_basic.safetensors');
    delete sd['fc.weight'];
    delete sd['fc.bias'];
    const session = await ort.InferenceSession.create(exportResNet(sd));
    expect(session.outputNames).toEqual(['features']);
  });
});
