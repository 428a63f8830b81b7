import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tf } from '@ssl/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clsAttentionMaps,
  cropToPatchMultiple,
  meanHeadMap,
  thresholdMask,
  thresholdMasks,
  upsampleNearest,
  type SelfAttentionModel,
} from './attention.js';
import { colorize, maskOverlay, writeAttentionPngs } from './heatmap.js';
import { centredDiscMask, foregroundMask, jaccard, segmentationScore } from './segmentation.js';
import { VIRIDIS } from './viridis.js';

/** A stand-in model whose CLS row of the last attention is fixed per head: [heads][patches]. */
function fixedAttentionModel(clsRows: number[][]): SelfAttentionModel & { calls: number } {
  const m = {
    calls: 0,
    getLastSelfAttention(x: tf.Tensor4D): tf.Tensor4D {
      m.calls++;
      const B = x.shape[0];
      const heads = clsRows.length;
      const n1 = (clsRows[0] as number[]).length + 1;
      const data = new Float32Array(B * heads * n1 * n1);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < heads; h++) {
          (clsRows[h] as number[]).forEach((v, p) => {
            data[((b * heads + h) * n1 + 0) * n1 + 1 + p] = v;
          });
        }
      }
      return tf.tensor4d(data, [B, heads, n1, n1]);
    },
  };
  return m;
}

describe('threshold masks', () => {
  it('keeps the smallest set of largest values holding the mass, on a hand-made map', async () => {
    // ascending 0.1, 0.2, 0.3, 0.4 -> cumsum 0.1, 0.3, 0.6, 1.0; keep cumsum > 0.4
    expect(Array.from(thresholdMask([0.1, 0.4, 0.2, 0.3], 0.6))).toEqual([0, 1, 0, 1]);
    // keep cumsum > 0.8: only the largest
    expect(Array.from(thresholdMask([0.1, 0.4, 0.2, 0.3], 0.2))).toEqual([0, 1, 0, 0]);
    // unnormalised input is normalised first: same answer at 10x
    expect(Array.from(thresholdMask([1, 4, 2, 3], 0.6))).toEqual([0, 1, 0, 1]);
    expect(Array.from(thresholdMask([0.1, 0.4, 0.2, 0.3], 1))).toEqual([1, 1, 1, 1]);
    expect(Array.from(thresholdMask([0.1, 0.4, 0.2, 0.3], 0))).toEqual([0, 0, 0, 0]);
    expect(() => thresholdMask([1], 1.5)).toThrow(/threshold must be in \[0, 1\]/);
  });

  it('matches visualize_attention.py on a PyTorch fixture, upsampling included', async () => {
    const ref = JSON.parse(readFileSync(new URL('../fixtures/attention_masks.json', import.meta.url), 'utf8')) as {
      heads: number; gridH: number; gridW: number; patch: number; attentions: number[];
      masks: Record<string, { grid: number[]; upsampled: number[] }>;
    };
    const maps = { heads: ref.heads, gridH: ref.gridH, gridW: ref.gridW, maps: Float32Array.from(ref.attentions) };
    const n = ref.gridH * ref.gridW;
    for (const [t, want] of Object.entries(ref.masks)) {
      const got = thresholdMasks(maps, Number(t));
      expect(Array.from(got)).toEqual(want.grid);
      const up: number[] = [];
      for (let h = 0; h < ref.heads; h++) {
        up.push(...upsampleNearest(got.subarray(h * n, (h + 1) * n), ref.gridH, ref.gridW, ref.patch));
      }
      expect(up).toEqual(want.upsampled);
    }
  });

  it('upsamples nearest by whole blocks', async () => {
    expect(Array.from(upsampleNearest(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3, 2))).toEqual([
      1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6,
    ]);
    expect(() => upsampleNearest(new Uint8Array(5), 2, 3, 2)).toThrow(/5 values, expected 2x3/);
  });

  it('reads the CLS row of the last attention per image and head', async () => {
    const model = fixedAttentionModel([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]]);
    const images = tf.zeros([3, 8, 8, 1]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const maps = await clsAttentionMaps(model, images, 4);
    expect(tf.memory().numTensors).toBe(before);
    expect(maps).toHaveLength(3);
    expect(maps[2]!.gridH).toBe(2);
    expect(Array.from(maps[1]!.maps)).toEqual([0.7, 0.1, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25].map(Math.fround));
    expect(Array.from(meanHeadMap(maps[0]!))).toEqual([0.475, 0.175, 0.175, 0.175].map(Math.fround));
    await expect(clsAttentionMaps(model, tf.zeros([1, 9, 8, 1]) as tf.Tensor4D, 4)).rejects.toThrow(/multiples of patchSize 4/);
    const cropped = cropToPatchMultiple(tf.zeros([1, 9, 10, 1]) as tf.Tensor4D, 4);
    expect(cropped.shape).toEqual([1, 8, 8, 1]);
    tf.dispose([images, cropped]);
  });
});

describe('segmentation', () => {
  it('computes Jaccard on shapes', async () => {
    expect(jaccard([1, 1, 0, 0], [0, 1, 1, 0])).toBeCloseTo(1 / 3, 12);
    expect(jaccard([0, 0], [0, 0])).toBe(1);
    expect(jaccard([1, 0], [0, 1])).toBe(0);
    // a 4x4 square inside an 8x8 frame against the left half: 16 / 32
    const square = new Uint8Array(64);
    const half = new Uint8Array(64);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      square[y * 8 + x] = y >= 2 && y < 6 && x < 4 ? 1 : 0;
      half[y * 8 + x] = x < 4 ? 1 : 0;
    }
    expect(jaccard(square, half)).toBe(0.5);
    expect(() => jaccard([1], [1, 0])).toThrow(/1 and 2 pixels/);
  });

  it('builds foreground and disc masks', async () => {
    expect(Array.from(foregroundMask([0, 3, 0, 255]))).toEqual([0, 1, 0, 1]);
    // 4x4, radius 2: the four corner pixel centres lie at distance sqrt(4.5) > 2
    expect(Array.from(centredDiscMask(4, 4))).toEqual([0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0]);
  });

  it('scores a model against foreground masks, per head, mean map and disc', async () => {
    // 8x8 images, patch 4: a 2x2 grid. Foreground = the top half (patches 0 and 1).
    const model = fixedAttentionModel([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]]);
    const gt = new Uint8Array(64);
    for (let i = 0; i < 32; i++) gt[i] = 1;
    const images = tf.zeros([5, 8, 8, 1]) as tf.Tensor4D;
    const s = await segmentationScore(model, images, Array(5).fill(gt), { patchSize: 4, batchSize: 2 });
    expect(model.calls).toBe(3);
    // head 0 keeps patch 0 only: 16 / 32
    expect(s.perHead[0]).toBeCloseTo(0.5, 12);
    // head 1 (all equal, ties by position) keeps patches 1, 2, 3: 16 / 64
    expect(s.perHead[1]).toBeCloseTo(0.25, 12);
    expect(s.bestHead).toBeCloseTo(0.5, 12);
    expect(s.meanOverHeads).toBeCloseTo(0.375, 12);
    // mean map 0.475, 0.175 x3 -> cumsum .175 .35 .525 1: keeps patch 3 and patch 0 -> 16 / 48
    expect(s.headMeanMap).toBeCloseTo(1 / 3, 6);
    expect(s.disc).toBeCloseTo(jaccard(centredDiscMask(8, 8), gt), 12);
    expect(s.images).toBe(5);
    await expect(segmentationScore(model, images, [gt], { patchSize: 4 })).rejects.toThrow(/1 masks for 5 images/);
    images.dispose();
  });
});

describe('attention PNGs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssl-eval-attn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('colours with viridis after min-max normalisation, as plt.imsave', async () => {
    const rgb = colorize([2, 4, 3]);
    expect(Array.from(rgb.subarray(0, 3))).toEqual(Array.from(VIRIDIS.subarray(0, 3)));
    expect(Array.from(rgb.subarray(3, 6))).toEqual(Array.from(VIRIDIS.subarray(765, 768)));
    expect(Array.from(rgb.subarray(6, 9))).toEqual(Array.from(VIRIDIS.subarray(128 * 3, 128 * 3 + 3)));
    expect(Array.from(VIRIDIS.subarray(0, 3))).toEqual([68, 1, 84]);
  });

  it('paints mask overlays as apply_mask', async () => {
    const rgb = new Uint8Array(9 * 3).fill(100);
    const mask = [0, 0, 0, 0, 1, 0, 0, 0, 0];
    const noContour = maskOverlay(rgb, 3, 3, mask, { contour: false });
    expect(Array.from(noContour.subarray(12, 15))).toEqual([177, 50, 50]); // 100*.5 + .5*255 = 177.5
    expect(Array.from(noContour.subarray(0, 3))).toEqual([100, 100, 100]);
    expect(Array.from(maskOverlay(rgb, 3, 3, mask).subarray(12, 15))).toEqual([255, 0, 0]);
  });

  it('writes heat maps and overlays per head and for the mean', async () => {
    const model = fixedAttentionModel([[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4]]);
    const image = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const [maps] = await clsAttentionMaps(model, image, 4);
    const img3 = tf.squeeze(image, [0]) as tf.Tensor3D;
    const files = await writeAttentionPngs(dir, img3, maps!, { patchSize: 4, enlarge: 2, prefix: 'x-' });
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual([
      'x-img.png', 'x-attn-head0.png', 'x-mask_th0.6_head0.png', 'x-attn-head1.png', 'x-mask_th0.6_head1.png',
      'x-attn-mean.png', 'x-mask_th0.6_mean.png',
    ]);
    const { data, info } = await sharp(files[1]!).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([16, 16, 3]);
    // head 0: patch 0 (top-left 8x8 after enlarging) is the maximum: viridis yellow
    expect(Array.from(data.subarray(0, 3))).toEqual(Array.from(VIRIDIS.subarray(765, 768)));
    expect(Array.from(data.subarray((15 * 16 + 15) * 3, (15 * 16 + 15) * 3 + 3))).toEqual([68, 1, 84]);
    tf.dispose([image, img3]);
  });
});
