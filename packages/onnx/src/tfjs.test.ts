import { VisionTransformer } from '@ssl/models';
import { Rng, tf } from '@ssl/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from './fixtures.test-helpers.js';
import { exportModule } from './load.js';

// ORT against our own tfjs forward (@ssl/models VisionTransformer): two batch sizes, two image
// sizes (pretraining size, and a larger one that goes through the bicubic pos-embed resize).
describe('ONNX export vs @ssl/models tfjs forward', () => {
  it('matches cls, tokens and last attention within 1e-4', async () => {
    const model = new VisionTransformer({ imgSize: 32, patchSize: 8, inChans: 3, embedDim: 48, depth: 2, numHeads: 4, seed: 7 });
    // Perturb every parameter (norm weights start at 1 / biases at 0, which would hide mistakes).
    const rng = new Rng(11);
    const sd = model.stateDict();
    const noisy: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(sd)) {
      const noise = Float32Array.from({ length: t.size }, () => (rng.random() * 2 - 1) * 0.2);
      noisy[k] = tf.tidy(() => tf.add(t, tf.tensor(noise, t.shape)));
    }
    model.loadStateDict(noisy);
    tf.dispose([...Object.values(sd), ...Object.values(noisy)]);

    const start = tf.memory().numTensors;
    const { bytes } = exportModule(model, { numHeads: 4 });
    expect(tf.memory().numTensors).toBe(start);
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
    for (const [B, H, W] of [
      [1, 32, 32],
      [3, 32, 32],
      [1, 48, 48],
      [3, 48, 40],
    ] as const) {
      const nhwc = tf.tidy(() => tf.randomNormal([B, H, W, 3], 0, 1, 'float32', B * 1000 + H * 10 + W)) as tf.Tensor4D;
      const nchw = tf.tidy(() => tf.transpose(nhwc, [0, 3, 1, 2]));
      const out = await session.run({ input: new ort.Tensor('float32', nchw.dataSync() as Float32Array, [B, 3, H, W]) });
      const want = {
        cls: model.forward(nhwc),
        tokens: model.forwardTokens(nhwc),
        attention: model.getLastSelfAttention(nhwc),
      };
      for (const [name, t] of Object.entries(want)) {
        expect(out[name]!.dims, `${B}x${H}x${W} ${name}`).toEqual(t.shape);
        expect(maxAbsDiff(out[name]!.data as Float32Array, t.dataSync()), `${B}x${H}x${W} ${name}`).toBeLessThan(1e-4);
      }
      tf.dispose([nhwc, nchw, ...Object.values(want)]);
    }
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });
});
