import { readFileSync } from 'node:fs';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { labelPropagation, oneHot, resizeLabelsNearest, segmentationLabels, videoSegmenter, type FrameFeatures } from './video-segmentation.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/video_seg.json', import.meta.url), 'utf8')) as {
  H: number; W: number; dim: number; C: number; patch: number; oriH: number; oriW: number;
  sizeMaskNeighborhood: number; topk: number; nLastFrames: number;
  features: number[][]; firstLabels: number[]; segs: number[][]; propagated: number[]; labels: number[][];
};
const { H, W, C } = ref;
const frame = (k: number): FrameFeatures => ({ data: Float32Array.from(ref.features[k]!), h: H, w: W, dim: ref.dim });
const opts = { topk: ref.topk, sizeMaskNeighborhood: ref.sizeMaskNeighborhood };

describe('video object segmentation (official eval_video_segmentation.py)', () => {
  it('labelPropagation equals the official label_propagation on fixed features', () => {
    const segs = ref.segs.map((s) => ({ data: Float32Array.from(s), C, h: H, w: W }));
    const before = tf.memory().numTensors;
    const got = labelPropagation(frame(3), [frame(0), frame(1), frame(2)], segs, opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(got.C).toBe(C);
    ref.propagated.forEach((v, i) => expect(Math.abs((got.data[i] as number) - v)).toBeLessThan(1e-5));
    // columns are convex combinations: the one-hot first frame alone gives label sums of 1
    const alone = labelPropagation(frame(3), [frame(0)], [segs[0]!], opts);
    for (let t = 0; t < H * W; t++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += alone.data[c * H * W + t] as number;
      expect(s).toBeCloseTo(1, 5);
    }
  });

  it('the whole tracking loop gives the official label maps frame by frame', () => {
    const first = oneHot(Uint8Array.from(ref.firstLabels), H, W, C);
    const step = videoSegmenter(frame(0), first, { ...opts, nLastFrames: ref.nLastFrames });
    for (let k = 1; k < ref.features.length; k++) {
      const up = segmentationLabels(step(frame(k)), ref.patch);
      expect([up.h, up.w]).toEqual([H * ref.patch, W * ref.patch]);
      const labels = resizeLabelsNearest(up.labels, up.h, up.w, ref.oriH, ref.oriW);
      const want = ref.labels[k - 1]!;
      let diff = 0;
      want.forEach((v, i) => {
        if (labels[i] !== v) diff++;
      });
      expect(diff).toBe(0);
    }
  });

  it('rejects mismatched context', () => {
    const seg = oneHot(new Uint8Array(H * W), H, W, 2);
    expect(() => labelPropagation(frame(1), [], [], opts)).toThrow(/at least one/);
    expect(() => labelPropagation(frame(1), [{ ...frame(0), dim: 4, data: new Float32Array(H * W * 4) }], [seg], opts)).toThrow(/context frame 0/);
    expect(() => labelPropagation(frame(1), [frame(0)], [seg], { topk: H * W + 1 })).toThrow(/topk must be an integer/);
  });
});
