import { ResNet, VisionTransformer, WideResNet, type Module } from '@ssl/models';
import { Rng, tf } from '@ssl/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from './fixtures.test-helpers.js';
import { exportModule } from './load.js';

/** Adds uniform noise to every parameter and buffer (norm gains start at 1, biases and BN statistics at 0/1, which would hide mistakes). */
function perturb(model: Module, seed: number, scale: number): void {
  const rng = new Rng(seed);
  const sd = model.stateDict();
  const noisy: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(sd)) {
    if (t.dtype !== 'float32') continue;
    const noise = Float32Array.from({ length: t.size }, () => (rng.random() * 2 - 1) * scale);
    // Keep BN variances positive.
    noisy[k] = tf.tidy(() => (k.endsWith('running_var') ? tf.add(tf.abs(t), tf.abs(tf.tensor(noise, t.shape))) : tf.add(t, tf.tensor(noise, t.shape))));
  }
  model.loadStateDict(noisy, { strict: false });
  tf.dispose([...Object.values(sd), ...Object.values(noisy)]);
}

// ORT against our own tfjs forward (@ssl/models VisionTransformer): two batch sizes, two image
// sizes (pretraining size, and a larger one that goes through the bicubic pos-embed resize).
describe('ONNX export vs @ssl/models tfjs forward', () => {
  it('matches cls, tokens and last attention within 1e-4', async () => {
    const model = new VisionTransformer({ imgSize: 32, patchSize: 8, inChans: 3, embedDim: 48, depth: 2, numHeads: 4, seed: 7 });
    perturb(model, 11, 0.2);

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

describe('ONNX export vs @ssl/models tfjs ResNet (eval mode)', () => {
  for (const [name, opts] of [
    ['basic blocks, torchvision stem', { block: 'basic', layers: [2, 1, 1, 1], baseWidth: 8 }],
    ['bottlenecks, CIFAR stem', { block: 'bottleneck', layers: [1, 1, 1, 1], baseWidth: 4, cifarStem: true }],
  ] as const) {
    it(`matches the pooled features within 1e-4: ${name}`, async () => {
      const model = new ResNet({ ...opts, layers: [...opts.layers], seed: 3 });
      perturb(model, 5, 0.1);
      model.eval();
      const start = tf.memory().numTensors;
      const { bytes, arch } = exportModule(model);
      expect(arch).toBe('resnet');
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
      for (const [B, S] of [
        [1, 32],
        [3, 40],
      ] as const) {
        const nhwc = tf.tidy(() => tf.randomNormal([B, S, S, 3], 0, 1, 'float32', B * 100 + S)) as tf.Tensor4D;
        const nchw = tf.tidy(() => tf.transpose(nhwc, [0, 3, 1, 2]));
        const out = await session.run({ input: new ort.Tensor('float32', nchw.dataSync() as Float32Array, [B, 3, S, S]) });
        const want = model.forward(nhwc);
        expect(out['features']!.dims).toEqual(want.shape);
        expect(maxAbsDiff(out['features']!.data as Float32Array, want.dataSync()), `${B}x${S}`).toBeLessThan(1e-4);
        tf.dispose([nhwc, nchw, want]);
      }
      expect(tf.memory().numTensors).toBe(start);
      model.dispose();
    });
  }
});

describe('ONNX export vs @ssl/models tfjs WideResNet (PAWS, eval mode)', () => {
  for (const [depth, widenFactor] of [
    [10, 1],
    [16, 2],
  ] as const) {
    it(`matches the pooled features within 1e-4: WRN-${depth}-${widenFactor}`, async () => {
      const model = new WideResNet({ depth, widenFactor, seed: 4 });
      perturb(model, 6, 0.1);
      model.eval();
      const start = tf.memory().numTensors;
      const { bytes, arch, spec } = exportModule(model);
      expect(arch).toBe('wide_resnet');
      expect(spec).toEqual({ arch: 'wide_resnet', options: { depth, widenFactor, inChans: 3 } });
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
      expect(session.outputNames).toEqual(['features']);
      for (const [B, S] of [
        [1, 32],
        [3, 20],
      ] as const) {
        const nhwc = tf.tidy(() => tf.randomNormal([B, S, S, 3], 0, 1, 'float32', B * 100 + S)) as tf.Tensor4D;
        const nchw = tf.tidy(() => tf.transpose(nhwc, [0, 3, 1, 2]));
        const out = await session.run({ input: new ort.Tensor('float32', nchw.dataSync() as Float32Array, [B, 3, S, S]) });
        const want = model.forward(nhwc);
        expect(out['features']!.dims).toEqual([B, 64 * widenFactor]);
        expect(maxAbsDiff(out['features']!.data as Float32Array, want.dataSync()), `${B}x${S}`).toBeLessThan(1e-4);
        tf.dispose([nhwc, nchw, want]);
      }
      expect(tf.memory().numTensors).toBe(start);
      model.dispose();
    });
  }
});
