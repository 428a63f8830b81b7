import { interpolateBilinearArray } from '@ssl/eval';
import { OnnxFeatureExtractor } from '@ssl/onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { testImage, tinyVitOnnx } from './fixtures.test-helpers.js';
import { multiScaleEmbedding, scalePrepared } from './multiscale.js';
import { prepareImage, resolvePreprocess, stack } from './preprocess.js';
import { startServer, type InferServer } from './server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const model = tinyVitOnnx();
const dir = mkdtempSync(join(tmpdir(), 'ssl-ms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('multi-scale embeddings', () => {
  it('rescales each channel plane as the NHWC bilinear helper does', async () => {
    const p = await prepareImage(await testImage(1, 40, 36), resolvePreprocess({ crop: 32, resize: 36 }));
    const s = scalePrepared(p, 0.5);
    expect([s.channels, s.height, s.width]).toEqual([3, 16, 16]);
    const plane1 = interpolateBilinearArray(p.chw.subarray(32 * 32, 2 * 32 * 32), [1, 32, 32, 1], 0.5).data;
    expect(Array.from(s.chw.subarray(16 * 16, 2 * 16 * 16))).toEqual(Array.from(plane1));
    expect(scalePrepared(p, 1)).toBe(p);
  });

  it('is the normalised mean of the three scales, and the server indexes with it', async () => {
    const pre = resolvePreprocess({ crop: 32, resize: 36 });
    const img = await testImage(2, 44, 36);
    const p = await prepareImage(img, pre);
    const fx = await OnnxFeatureExtractor.create({ model, intraOpThreads: 1 });
    let want: Float32Array;
    try {
      const run = async (q: typeof p): Promise<Float32Array> => (await fx.run({ input: stack([q]) }, ['cls']))['cls']!.data;
      const parts = [await run(p), await run(scalePrepared(p, Math.SQRT1_2)), await run(scalePrepared(p, 0.5))];
      const mean = parts[0]!.map((_, i) => (parts[0]![i]! + parts[1]![i]! + parts[2]![i]!) / 3);
      const n = Math.hypot(...mean);
      want = mean.map((v) => v / n);
      const got = await multiScaleEmbedding(p, run);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
      expect(Math.abs(got[0]! - parts[0]![0]! / Math.hypot(...parts[0]!))).toBeGreaterThan(1e-4); // not the scale-1 embedding
    } finally {
      await fx.close();
    }
    const s: InferServer = await startServer({ model, port: 0, preprocess: { crop: 32, resize: 36 }, indexDir: dir, intraOpThreads: 1, multiscale: true });
    try {
      const res = await fetch(`${s.url}/v1/embeddings`, { method: 'POST', body: img, headers: { 'content-type': 'image/png' } });
      const emb = ((await res.json()) as { data: { embedding: number[] }[] }).data[0]!.embedding;
      emb.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    } finally {
      await s.close();
    }
  });
});
