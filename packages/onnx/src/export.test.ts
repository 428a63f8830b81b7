import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FIXTURES, maxAbsDiff, readFixture } from './fixtures.test-helpers.js';
import { readModelMetadata } from './graph.js';
import { exportStateDict } from './export.js';
import { serializeSafetensors } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { exportWeights } from './load.js';

describe('exportWeights / exportStateDict', () => {
  it('finds the teacher backbone in a DINO checkpoint (through @ssl/models loadWeights) and exports it', async () => {
    const vit = readFixture('vit_tiny.safetensors');
    const io = readFixture('vit_tiny_io.safetensors');
    const ckpt: Record<string, tf.Tensor> = {};
    // The student is perturbed: exporting it instead of the teacher would fail the comparison.
    for (const [k, v] of Object.entries(vit)) {
      ckpt[`teacher.backbone.${k}`] = tf.tensor(v.data, v.shape);
      ckpt[`student.backbone.${k}`] = tf.tensor(v.data.map((x) => x + 0.5), v.shape);
    }
    ckpt['teacher.head.last_layer.weight_v'] = tf.zeros([2, 2]);
    const res = await exportWeights(serializeSafetensors(ckpt), { numHeads: 4 });
    tf.dispose(Object.values(ckpt));
    expect(res).toMatchObject({ arch: 'vit', weights: { key: 'teacher' } });
    expect(res.weights.notes.join('; ')).toMatch(/took 'teacher' \(\d+ of \d+ tensors\); stripped 'backbone.' from \d+ keys/);
    expect(readModelMetadata(res.bytes)).toMatchObject({ 'ssl.arch': 'vit', 'ssl.num_heads': '4', 'ssl.img_size': '16' });
    const session = await ort.InferenceSession.create(res.bytes);
    const x = io['b1_16x16.input']!;
    const out = await session.run({ input: new ort.Tensor('float32', x.data, x.shape) });
    expect(maxAbsDiff(out['cls']!.data as Float32Array, io['b1_16x16.cls']!.data)).toBeLessThan(1e-4);
  });

  it('exports the WRN encoder of a PAWS checkpoint (.pth) and matches PyTorch within 1e-4', async () => {
    // Reference: packages/models/fixtures/make_torch_checkpoints.py (WRN-10-1, eval mode).
    const models = join(FIXTURES, '..', '..', 'models', 'fixtures');
    const io = readFixture(join('..', '..', 'models', 'fixtures', 'torch_checkpoints_io.safetensors'));
    const res = await exportWeights(join(models, 'paws_checkpoint.pth'));
    expect(res).toMatchObject({ arch: 'wide_resnet', spec: { arch: 'wide_resnet', options: { depth: 10, widenFactor: 1, inChans: 3 } }, weights: { key: 'encoder' } });
    expect(readModelMetadata(res.bytes)).toMatchObject({ 'ssl.arch': 'wide_resnet', 'ssl.depth': '10', 'ssl.widen_factor': '1', 'ssl.num_features': '64' });
    const session = await ort.InferenceSession.create(res.bytes, { graphOptimizationLevel: 'all' });
    const nhwc = io['paws.x']!;
    const x = tf.tidy(() => tf.transpose(tf.tensor(nhwc.data, nhwc.shape), [0, 3, 1, 2]));
    const out = await session.run({ input: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) });
    x.dispose();
    expect(out['features']!.dims).toEqual(io['paws.features']!.shape);
    const diff = maxAbsDiff(out['features']!.data as Float32Array, io['paws.features']!.data);
    console.log(`PAWS .pth WRN-10-1 ONNX vs PyTorch: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  });

  it('asks for the head count when the width is no DINO preset', () => {
    expect(() => exportStateDict(readFixture('vit_tiny.safetensors'))).toThrow(/a ViT of width 32, which is no official preset .*\(--num-heads\)/);
  });

  it('detects a ResNet and names what it found when nothing matches', () => {
    expect(exportStateDict(readFixture('resnet_basic.safetensors')).arch).toBe('resnet');
    expect(() => exportStateDict({ 'foo.weight': { data: new Float32Array(1), shape: [1] } })).toThrow(/neither a ViT/);
  });
});
