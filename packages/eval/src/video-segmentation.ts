import { tf } from '@ssl/tensor';

/** Patch features of one frame: `[h * w, dim]` row-major (row = patch, raster order). */
export interface FrameFeatures {
  data: Float32Array;
  h: number;
  w: number;
  dim: number;
}

/** A soft segmentation: `[C, h, w]` row-major, one plane per label (label 0 = background). */
export interface SoftSegmentation {
  data: Float32Array;
  C: number;
  h: number;
  w: number;
}

export interface LabelPropagationOptions {
  /** Source patches kept per target patch, over all context frames (official `--topk` 5). */
  topk?: number;
  /** Only sources within this many patches (Chebyshev) of the target count (official `--size_mask_neighborhood` 12; 0 = all). */
  sizeMaskNeighborhood?: number;
  /** Affinity temperature: exp(cos / 0.1) as the official code. */
  temperature?: number;
}

/**
 * One step of DINO's video object segmentation (`label_propagation` of
 * eval_video_segmentation.py, after UVC): the target frame's labels as an affinity-weighted
 * mix of the context frames' labels.
 * 1. Affinity of every (context patch, target patch) pair: exp(cos(features) / 0.1).
 * 2. Pairs farther apart than the neighbourhood (in patch rows or columns) get 0.
 * 3. Per target patch, all but its `topk` largest affinities over every context frame are zeroed
 *    (values equal to the k-th largest are kept, as the official `aff < min(topk)` test).
 * 4. Each target column is normalised to sum 1, and the labels are mixed with it.
 */
export function labelPropagation(
  target: FrameFeatures,
  context: readonly FrameFeatures[],
  contextSegs: readonly SoftSegmentation[],
  options: LabelPropagationOptions = {},
): SoftSegmentation {
  const topk = options.topk ?? 5;
  const size = options.sizeMaskNeighborhood ?? 12;
  const temperature = options.temperature ?? 0.1;
  const { h, w, dim } = target;
  const hw = h * w;
  if (context.length === 0 || context.length !== contextSegs.length) {
    throw new Error(`labelPropagation: ${context.length} context frames for ${contextSegs.length} segmentations (need at least one)`);
  }
  const C = (contextSegs[0] as SoftSegmentation).C;
  context.forEach((f, i) => {
    if (f.h !== h || f.w !== w || f.dim !== dim) throw new Error(`labelPropagation: context frame ${i} is ${f.h}x${f.w}x${f.dim}, the target ${h}x${w}x${dim}`);
    const s = contextSegs[i] as SoftSegmentation;
    if (s.h !== h || s.w !== w || s.C !== C) throw new Error(`labelPropagation: segmentation ${i} is ${s.C}x${s.h}x${s.w}, expected ${C}x${h}x${w}`);
  });
  const n = context.length * hw;
  if (!Number.isInteger(topk) || topk < 1 || topk > n) throw new Error(`labelPropagation: topk must be an integer in [1, ${n}], got ${topk}`);

  // Step 1: cosine similarities, [ncontext * hw (source), hw (target)], by one matmul.
  const sim = tf.tidy(() => {
    const unit = (x: tf.Tensor2D): tf.Tensor2D => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12));
    const tar = unit(tf.tensor2d(target.data, [hw, dim])); // [hw, dim]
    const src = unit(tf.concat(context.map((f) => tf.tensor2d(f.data, [hw, dim])), 0) as tf.Tensor2D); // [n, dim]
    return tf.matMul(src, tar, false, true); // [n, hw]
  });
  const aff = sim.dataSync() as Float32Array;
  sim.dispose();
  for (let s = 0; s < n; s++) {
    const ps = s % hw;
    const si = Math.floor(ps / w);
    const sj = ps % w;
    for (let t = 0; t < hw; t++) {
      const far = size > 0 && (Math.abs(si - Math.floor(t / w)) > size || Math.abs(sj - (t % w)) > size);
      // Step 2: the neighbourhood mask multiplies the affinity
      aff[s * hw + t] = far ? 0 : Math.exp((aff[s * hw + t] as number) / temperature);
    }
  }
  // Step 3 and 4 per target column.
  const out = new Float32Array(C * hw);
  const best = new Float64Array(topk);
  for (let t = 0; t < hw; t++) {
    best.fill(-Infinity);
    for (let s = 0; s < n; s++) {
      const v = aff[s * hw + t] as number;
      if (v > (best[topk - 1] as number)) {
        let i = topk - 1;
        while (i > 0 && v > (best[i - 1] as number)) {
          best[i] = best[i - 1] as number;
          i--;
        }
        best[i] = v;
      }
    }
    const kth = best[topk - 1] as number;
    let sum = 0;
    for (let s = 0; s < n; s++) {
      const v = aff[s * hw + t] as number;
      if (v >= kth) sum += v;
    }
    for (let s = 0; s < n; s++) {
      const v = aff[s * hw + t] as number;
      if (v < kth || v === 0) continue;
      const weight = v / sum;
      const seg = (contextSegs[Math.floor(s / hw)] as SoftSegmentation).data;
      const ps = s % hw;
      for (let c = 0; c < C; c++) out[c * hw + t] = (out[c * hw + t] as number) + weight * (seg[c * hw + ps] as number);
    }
  }
  return { data: out, C, h, w };
}

/** Integer labels `[h, w]` as the one-hot soft segmentation the first frame starts from (`to_one_hot`). */
export function oneHot(labels: Uint8Array, h: number, w: number, C?: number): SoftSegmentation {
  let max = 0;
  for (const v of labels) max = Math.max(max, v);
  const n = C ?? max + 1;
  if (max >= n) throw new Error(`oneHot: label ${max} needs more than ${n} classes`);
  const data = new Float32Array(n * h * w);
  labels.forEach((v, i) => {
    data[v * h * w + i] = 1;
  });
  return { data, C: n, h, w };
}

/**
 * The hard labels of a propagated segmentation at `outH x outW`, as the official loop: bilinear
 * upsampling by the patch size (align_corners=False), each label plane min-max normalised when
 * its maximum is positive (`norm_mask`), then the arg-max label per pixel (first on ties).
 */
export function segmentationLabels(seg: SoftSegmentation, patchSize: number): { labels: Uint8Array; h: number; w: number } {
  const { C, h, w } = seg;
  const H = h * patchSize;
  const W = w * patchSize;
  const up = tf.tidy(() => {
    const x = tf.transpose(tf.tensor3d(seg.data, [C, h, w]), [1, 2, 0]); // [h, w, C]
    return tf.image.resizeBilinear(x as tf.Tensor3D, [H, W], false, true); // [H, W, C]
  });
  const d = up.dataSync() as Float32Array;
  up.dispose();
  const lo = new Float64Array(C).fill(Infinity);
  const hi = new Float64Array(C).fill(-Infinity);
  for (let p = 0; p < H * W; p++) {
    for (let c = 0; c < C; c++) {
      const v = d[p * C + c] as number;
      if (v < (lo[c] as number)) lo[c] = v;
      if (v > (hi[c] as number)) hi[c] = v;
    }
  }
  const labels = new Uint8Array(H * W);
  for (let p = 0; p < H * W; p++) {
    let arg = 0;
    let bestV = -Infinity;
    for (let c = 0; c < C; c++) {
      let v = d[p * C + c] as number;
      if ((hi[c] as number) > 0) v = (v - (lo[c] as number)) / ((hi[c] as number) - (lo[c] as number) || 1);
      if (v > bestV) {
        bestV = v;
        arg = c;
      }
    }
    labels[p] = arg;
  }
  return { labels, h: H, w: W };
}

/** Nearest-neighbour resize of a label map, as PIL's `resize(size, NEAREST)` (pixel centres). */
export function resizeLabelsNearest(labels: Uint8Array, h: number, w: number, outH: number, outW: number): Uint8Array {
  const out = new Uint8Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / outH));
    for (let x = 0; x < outW; x++) out[y * outW + x] = labels[sy * w + Math.min(w - 1, Math.floor(((x + 0.5) * w) / outW))] as number;
  }
  return out;
}

export interface VideoSegmentationOptions extends LabelPropagationOptions {
  /** Preceding frames kept as context besides the first (official `--n_last_frames` 7). */
  nLastFrames?: number;
}

/**
 * The official tracking loop (`eval_video_tracking_davis`) over features given one frame at a
 * time: the first frame and its labels always stay in the context, plus the soft segmentations
 * of the last `nLastFrames` frames. Returns a stepper: feed each next frame's features, get its
 * soft segmentation (the caller turns it into labels with `segmentationLabels`).
 */
export function videoSegmenter(
  first: FrameFeatures,
  firstSeg: SoftSegmentation,
  options: VideoSegmentationOptions = {},
): (frame: FrameFeatures) => SoftSegmentation {
  const nLast = options.nLastFrames ?? 7;
  const queue: { feat: FrameFeatures; seg: SoftSegmentation }[] = [];
  return (frame) => {
    const seg = labelPropagation(frame, [first, ...queue.map((q) => q.feat)], [firstSeg, ...queue.map((q) => q.seg)], options);
    if (queue.length === nLast) queue.shift();
    queue.push({ feat: frame, seg });
    return seg;
  };
}
