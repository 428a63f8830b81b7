import type { ImageU8 } from '@ssl/augment';
import type { Dataset } from '@ssl/data';
import { autocast, tf } from '@ssl/tensor';
import type { Precision } from '@ssl/tensor';
import type { Matrix } from './matrix.js';

/** Images handed out in index ranges, NHWC float, ready for the model (caller disposes). */
export interface ImageBatchSource {
  size: number;
  batch(start: number, end: number): tf.Tensor4D | Promise<tf.Tensor4D>;
}

/** A frozen embedding: NHWC images in, `[B, D]` features out. */
export type Embed = (images: tf.Tensor4D) => tf.Tensor;

/** A ViT-like model with the intermediate-layer access `eval_linear` uses. */
export interface IntermediateLayersModel {
  /** Outputs of the last `n` blocks, each after the final norm: `n` x `[B, N+1, D]`, CLS first. */
  getIntermediateLayers(x: tf.Tensor4D, n: number): tf.Tensor[];
}

/** An in-memory NHWC tensor as a batch source (slices are copies the caller disposes). */
export function tensorBatchSource(images: tf.Tensor4D): ImageBatchSource {
  const [N, H, W, C] = images.shape;
  return { size: N, batch: (s, e) => tf.slice(images, [s, 0, 0, 0], [e - s, H, W, C]) };
}

/**
 * Features of a whole image source, batch by batch, as `eval_knn.extract_features` followed by
 * `nn.functional.normalize(dim=1, p=2)` when `normalize` (default true). Every batch's tensors are
 * released before the next one, so tf.memory stays flat. Returns a row-major Matrix.
 * `precision` 'bf16' runs `embed` under `autocast` (matmuls and convolutions in bf16, float32
 * where the CPU cannot); default float32, so embeddings compare across machines.
 */
export async function extractFeatures(
  embed: Embed,
  source: ImageBatchSource,
  options: { batchSize?: number; normalize?: boolean; precision?: Precision; onBatch?: (done: number, total: number) => void } = {},
): Promise<Matrix> {
  const batchSize = options.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  let data: Float32Array | undefined;
  let cols = 0;
  for (let s = 0; s < source.size; s += batchSize) {
    const e = Math.min(source.size, s + batchSize);
    const images = await source.batch(s, e);
    let feats: tf.Tensor;
    try {
      feats = tf.tidy(() => {
        const f = autocast(options.precision ?? 'fp32', () => embed(images));
        if (f.rank !== 2 || f.shape[0] !== e - s) {
          throw new Error(`embed returned shape [${f.shape.join(', ')}], expected [${e - s}, D]`);
        }
        // as nn.functional.normalize: x / max(||x||, 1e-12)
        return options.normalize === false ? f : tf.div(f, tf.maximum(tf.norm(f, 'euclidean', 1, true), 1e-12));
      });
    } finally {
      images.dispose();
    }
    if (!data) {
      cols = feats.shape[1] as number;
      data = new Float32Array(source.size * cols);
    }
    data.set(await feats.data(), s * cols); // awaited: a webgpu tensor has no dataSync in Node
    feats.dispose();
    options.onBatch?.(e, source.size);
  }
  return { data: data ?? new Float32Array(0), rows: source.size, cols };
}

/**
 * `eval_linear` features of a ViT: the CLS tokens of the last `nLastBlocks` blocks concatenated
 * (`[B, n*D]`); with `avgPool`, the mean of the last block's patch tokens is added. For n = 1 the
 * official code interleaves them (`cat((cls[..., None], mean[..., None]), -1).reshape(B, -1)`:
 * cls_0, mean_0, cls_1, mean_1, ...), kept here so official linear weights apply; for n > 1 the
 * official code cannot combine them (shape error), here the mean is appended after the CLS tokens.
 */
export function linearProbeFeatures(
  model: IntermediateLayersModel,
  images: tf.Tensor4D,
  options: { nLastBlocks?: number; avgPool?: boolean } = {},
): tf.Tensor2D {
  const n = options.nLastBlocks ?? 4;
  if (!Number.isInteger(n) || n < 1) throw new Error(`nLastBlocks must be a positive integer, got ${n}`);
  return tf.tidy(() => {
    const outs = model.getIntermediateLayers(images, n) as tf.Tensor3D[];
    if (outs.length !== n) throw new Error(`getIntermediateLayers returned ${outs.length} outputs, expected ${n}`);
    const [B, N1, D] = (outs[0] as tf.Tensor3D).shape;
    const cls = outs.map((o) => tf.reshape(tf.slice(o, [0, 0, 0], [B, 1, D]), [B, D])); // n x [B, D]
    const catCls = tf.concat(cls, 1) as tf.Tensor2D; // [B, n*D]
    if (!options.avgPool) return catCls;
    const last = outs[n - 1] as tf.Tensor3D;
    const mean = tf.mean(tf.slice(last, [0, 1, 0], [B, N1 - 1, D]), 1) as tf.Tensor2D; // [B, D]
    if (n === 1) return tf.reshape(tf.stack([catCls, mean], 2), [B, 2 * D]) as tf.Tensor2D; // interleaved
    return tf.concat([catCls, mean], 1) as tf.Tensor2D;
  });
}

/**
 * A dataset of equal-size images as a batch source: bytes / 255, then (x - mean) / std per channel
 * (torchvision ToTensor + Normalize), NHWC. No resizing: use it where the model takes the stored
 * size (Fashion-MNIST 28x28). `indices` picks a subset in order.
 */
export function datasetBatchSource(
  dataset: Dataset,
  options: { mean: readonly number[]; std: readonly number[]; indices?: ArrayLike<number> },
): ImageBatchSource & { labels(): Int32Array } {
  const indices = options.indices ? Array.from(options.indices) : Array.from({ length: dataset.length }, (_, i) => i);
  const load = async (i: number): Promise<{ image: ImageU8; label: number }> => dataset.get(indices[i] as number);
  return {
    size: indices.length,
    async batch(start, end) {
      const samples = await Promise.all(Array.from({ length: end - start }, (_, j) => load(start + j)));
      const first = samples[0]?.image;
      if (!first) throw new Error(`datasetBatchSource: empty batch [${start}, ${end})`);
      const { height: H, width: W, channels: C } = first;
      if (options.mean.length !== C || options.std.length !== C) {
        throw new Error(`datasetBatchSource: mean/std have ${options.mean.length}/${options.std.length} values for ${C} channels`);
      }
      const out = new Float32Array(samples.length * H * W * C);
      samples.forEach(({ image }, b) => {
        if (image.height !== H || image.width !== W || image.channels !== C) {
          throw new Error(`datasetBatchSource: image ${indices[start + b]} is ${image.height}x${image.width}x${image.channels}, expected ${H}x${W}x${C}`);
        }
        const base = b * H * W * C;
        for (let p = 0; p < H * W * C; p++) {
          const c = p % C;
          out[base + p] = ((image.data[p] as number) / 255 - (options.mean[c] as number)) / (options.std[c] as number);
        }
      });
      return tf.tensor4d(out, [samples.length, H, W, C]);
    },
    labels() {
      const t = dataset.targets;
      if (!t) throw new Error('datasetBatchSource: the dataset has no targets');
      return Int32Array.from(indices, (i) => t[i] as number);
    },
  };
}
