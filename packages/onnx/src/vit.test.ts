import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, readFixture } from './fixtures.test-helpers.js';
import { readModelMetadata } from './graph.js';
import { exportViT } from './vit.js';

// Reference: fixtures/make_fixtures.py (PyTorch, official DINO ViT structure).
const sd = readFixture('vit_tiny.safetensors');
const io = readFixture('vit_tiny_io.safetensors');

describe('exportViT', () => {
  it('reads the architecture from the official names (the model spec of @ssl/models) into the metadata', () => {
    expect(readModelMetadata(exportViT(sd, { numHeads: 4 }))).toMatchObject({
      'ssl.arch': 'vit', 'ssl.embed_dim': '32', 'ssl.depth': '2', 'ssl.num_heads': '4', 'ssl.patch_size': '4', 'ssl.in_chans': '3', 'ssl.img_size': '16',
    });
  });

  it('matches PyTorch for every batch and image size, with one dynamic model', async () => {
    const session = await ort.InferenceSession.create(exportViT(sd, { numHeads: 4 }), { graphOptimizationLevel: 'all' });
    expect(session.outputNames).toEqual(['cls', 'tokens', 'attention']);
    // 16x16: pos_embed as is; 24x24, 28x20: bicubic interpolation; 18x18: same grid, no resize.
    for (const key of ['b1_16x16', 'b3_16x16', 'b1_24x24', 'b3_24x24', 'b2_28x20', 'b2_18x18']) {
      const x = io[`${key}.input`]!;
      const out = await session.run({ input: new ort.Tensor('float32', x.data, x.shape) });
      for (const name of ['cls', 'tokens', 'attention']) {
        const want = io[`${key}.${name}`]!;
        expect(out[name]!.dims, `${key} ${name}`).toEqual(want.shape);
        expect(maxAbsDiff(out[name]!.data as Float32Array, want.data), `${key} ${name}`).toBeLessThan(1e-4);
      }
    }
  });

  it('rejects heads that do not divide the width, and foreign state dicts', () => {
    expect(() => exportViT(sd, { numHeads: 5 })).toThrow(/5 heads do not divide the width 32/);
    expect(() => exportViT({ 'conv1.weight': sd['pos_embed']! }, { numHeads: 4 })).toThrow(/no ViT \(patch_embed.proj.weight, cls_token\)/);
  });
});
