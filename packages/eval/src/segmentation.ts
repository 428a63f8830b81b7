import { tf } from '@ssl/tensor';
import {
  clsAttentionMaps,
  meanHeadMap,
  thresholdMask,
  upsampleNearest,
  type SelfAttentionModel,
} from './attention.js';

/**
 * Jaccard index (intersection over union) of two binary masks of equal length (values > 0 are
 * "in"). Two empty masks are identical: 1.
 */
export function jaccard(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`jaccard: masks have ${a.length} and ${b.length} pixels`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] as number) > 0;
    const y = (b[i] as number) > 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * Foreground mask of a grey image: pixel > `level`. For Fashion-MNIST the background is exactly 0
 * (the articles are centred on black), so `pixel > 0` is the object's silhouette.
 */
export function foregroundMask(pixels: ArrayLike<number>, level = 0): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] as number) > level ? 1 : 0;
  return out;
}

/**
 * Baseline mask that knows nothing about the image: a disc centred in the `h x w` frame, radius
 * `radiusFraction * min(h, w) / 2` (default 1: the inscribed disc). Pixel centres inside count.
 */
export function centredDiscMask(h: number, w: number, radiusFraction = 1): Uint8Array {
  const r = (radiusFraction * Math.min(h, w)) / 2;
  const cy = h / 2;
  const cx = w / 2;
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dy = y + 0.5 - cy;
      const dx = x + 0.5 - cx;
      out[y * w + x] = dy * dy + dx * dx <= r * r ? 1 : 0;
    }
  }
  return out;
}

/** Crop a row-major `[H, W]` mask to its top-left `[h, w]`. */
function cropMask(mask: ArrayLike<number>, H: number, W: number, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = (mask[y * W + x] as number) > 0 ? 1 : 0;
  return out;
}

export interface SegmentationScore {
  /** Mean over images of the Jaccard of each head's threshold mask. */
  perHead: number[];
  /** Mean over heads of `perHead`. */
  meanOverHeads: number;
  /** Largest entry of `perHead` (the head that segments best). */
  bestHead: number;
  /** Mean Jaccard of the mask of the head-averaged attention map. */
  headMeanMap: number;
  /** Mean Jaccard of the centred-disc baseline on the same images and crops. */
  disc: number;
  images: number;
}

export interface SegmentationOptions {
  patchSize: number;
  /** Mass kept by the masks; DINO default 0.6. */
  threshold?: number;
  /** Images per forward pass. */
  batchSize?: number;
  /** Disc baseline radius as a fraction of half the short side (default 1). */
  discRadiusFraction?: number;
}

/**
 * Unsupervised segmentation score of a model: threshold masks of the last block's CLS attention
 * (per head, and of the head-averaged map), upsampled nearest by the patch size, compared by
 * Jaccard with ground-truth foreground masks; the centred disc is scored on the same crops.
 * `images` is NHWC as the model expects; `masks` are row-major `[H * W]` per image. Images whose
 * size is not a multiple of the patch size are cropped top-left, masks with them, as officially.
 */
export async function segmentationScore(
  model: SelfAttentionModel,
  images: tf.Tensor4D,
  masks: ArrayLike<number>[],
  options: SegmentationOptions,
): Promise<SegmentationScore> {
  const { patchSize } = options;
  const threshold = options.threshold ?? 0.6;
  const batchSize = options.batchSize ?? 64;
  const [B, H, W, C] = images.shape;
  if (masks.length !== B) throw new Error(`masks: ${masks.length} masks for ${B} images`);
  masks.forEach((m, i) => {
    if (m.length !== H * W) throw new Error(`masks[${i}] has ${m.length} pixels, expected ${H}x${W}`);
  });
  const h = H - (H % patchSize);
  const w = W - (W % patchSize);
  if (h === 0 || w === 0) throw new Error(`images: ${H}x${W} is smaller than one ${patchSize}x${patchSize} patch`);
  const disc = centredDiscMask(h, w, options.discRadiusFraction);
  let perHead: number[] = [];
  let headMean = 0;
  let discSum = 0;
  for (let b0 = 0; b0 < B; b0 += batchSize) {
    const b1 = Math.min(B, b0 + batchSize);
    const batch = tf.slice(images, [b0, 0, 0, 0], [b1 - b0, h, w, C]);
    let maps;
    try {
      maps = await clsAttentionMaps(model, batch, patchSize);
    } finally {
      batch.dispose();
    }
    maps.forEach((m, i) => {
      if (perHead.length === 0) perHead = new Array<number>(m.heads).fill(0);
      const gt = cropMask(masks[b0 + i] as ArrayLike<number>, H, W, h, w);
      const n = m.gridH * m.gridW;
      for (let j = 0; j < m.heads; j++) {
        const mask = upsampleNearest(thresholdMask(m.maps.subarray(j * n, (j + 1) * n), threshold), m.gridH, m.gridW, patchSize);
        perHead[j] = (perHead[j] as number) + jaccard(mask, gt);
      }
      headMean += jaccard(upsampleNearest(thresholdMask(meanHeadMap(m), threshold), m.gridH, m.gridW, patchSize), gt);
      discSum += jaccard(disc, gt);
    });
  }
  perHead = perHead.map((s) => s / B);
  return {
    perHead,
    meanOverHeads: perHead.reduce((a, b) => a + b, 0) / perHead.length,
    bestHead: Math.max(...perHead),
    headMeanMap: headMean / B,
    disc: discSum / B,
    images: B,
  };
}
