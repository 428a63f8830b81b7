import { describe, expect, it } from 'vitest';
import { OnnxFeatureExtractor } from './extractor.js';
import { maxAbsDiff, readFixture } from './fixtures.test-helpers.js';
import { DType, encodeModel, GraphBuilder } from './graph.js';
import { exportViT } from './vit.js';

const sd = readFixture('vit_tiny.safetensors');
const io = readFixture('vit_tiny_io.safetensors');

/**
 * A model that keeps ORT busy: a chain of [n, n] matmuls. Each maps a row to its mean, so the values
 * stay where they start: weights that shrink them reach denormals after some dozens of layers,
 * which some CPUs run ~50x slower (the run then outlasts the test's timeout).
 */
function heavyModel(n: number, steps: number): Uint8Array {
  const g = new GraphBuilder();
  let x = g.input('input', DType.float, [n, n]);
  const w = g.floatInit('w', new Float32Array(n * n).fill(1 / n), [n, n]);
  for (let i = 0; i < steps; i++) x = g.op('MatMul', [x, w]);
  g.op('Identity', [x], {}, 'out');
  g.output('out', DType.float, [n, n]);
  return encodeModel(g.toGraph('heavy'));
}

describe('OnnxFeatureExtractor', () => {
  it('runs sessions in workers and matches PyTorch for concurrent requests', async () => {
    const fx = await OnnxFeatureExtractor.create({ model: exportViT(sd, { numHeads: 4 }), workers: 2, intraOpThreads: 1 });
    try {
      expect(fx.inputNames).toEqual(['input']);
      expect(fx.workers).toBe(2);
      const keys = ['b1_16x16', 'b3_16x16', 'b1_24x24', 'b2_28x20'];
      const results = await Promise.all(
        keys.map((k) => fx.run({ input: { data: io[`${k}.input`]!.data, dims: io[`${k}.input`]!.shape } }, ['cls', 'attention'])),
      );
      results.forEach((r, i) => {
        const k = keys[i]!;
        expect(Object.keys(r).sort()).toEqual(['attention', 'cls']);
        expect(r['cls']!.dims).toEqual(io[`${k}.cls`]!.shape);
        expect(maxAbsDiff(r['cls']!.data, io[`${k}.cls`]!.data)).toBeLessThan(1e-4);
        expect(maxAbsDiff(r['attention']!.data, io[`${k}.attention`]!.data)).toBeLessThan(1e-4);
      });
      await expect(fx.run({ input: { data: new Float32Array(5), dims: [1, 3, 16, 16] } })).rejects.toThrow(/has 5 values for dims/);
      await expect(fx.run({ input: { data: new Float32Array(3 * 16 * 16), dims: [1, 3, 16, 16] } }, ['logits'])).rejects.toThrow(/no output "logits"/);
      await expect(fx.run({ input: { data: new Float32Array(2 * 16 * 16), dims: [1, 2, 16, 16] } })).rejects.toThrow(/onnxruntime/);
    } finally {
      await fx.close();
    }
    await expect(fx.run({ input: { data: new Float32Array(1), dims: [1] } })).rejects.toThrow(/closed/);
  });

  it('keeps the event loop free while a model runs', async () => {
    const fx = await OnnxFeatureExtractor.create({ model: heavyModel(512, 120), intraOpThreads: 1 });
    try {
      const t0 = performance.now();
      const ticks: number[] = [];
      const timer = setInterval(() => ticks.push(performance.now()), 2);
      await fx.run({ input: { data: new Float32Array(512 * 512).fill(0.01), dims: [512, 512] } });
      const t1 = performance.now();
      clearInterval(timer);
      // The main thread kept ticking through the run: a run() that blocked it would leave no tick
      // inside [t0, t1], one gap as long as the run. Gaps, not a tick rate, so a busy machine
      // (timers late, the run itself slower) does not fail it.
      expect(t1 - t0).toBeGreaterThan(20);
      const edges = [t0, ...ticks, t1];
      const longestGap = Math.max(...edges.slice(1).map((t, i) => t - edges[i]!));
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      expect(longestGap).toBeLessThan((t1 - t0) / 2);
    } finally {
      await fx.close();
    }
  }, 30_000); // generous: the check is on gaps, not on time

  it('reports a model it cannot load', async () => {
    await expect(OnnxFeatureExtractor.create({ model: new Uint8Array([1, 2, 3]) })).rejects.toThrow(/cannot load model bytes/);
  });
});
