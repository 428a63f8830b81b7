import { clsAttentionMaps, knnClassifier, writeAttentionPngs } from '@ssl/eval';
import type { Matrix } from '@ssl/eval';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';

/** What evaluation needs of a backbone: CLS features `[B, D]` from NHWC images. */
export interface FeatureModel {
  forward(x: Tensor): Tensor;
  eval(): unknown;
  train(mode?: boolean): unknown;
  training: boolean;
}

/** Labelled float images, already normalised like the training crops: `[n, h, w, c]`. */
export interface EvalImages {
  data: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  labels: Int32Array;
}

/**
 * L2-normalised CLS features of `images` (official `extract_features`: eval mode, CLS after the final
 * norm, `nn.functional.normalize`). Batched; every batch's tensors are freed before the next.
 */
export function extractFeatures(model: FeatureModel, images: EvalImages, batchSize = 256): Matrix {
  const wasTraining = model.training;
  model.eval();
  const px = images.height * images.width * images.channels;
  let out: Float32Array | null = null;
  let cols = 0;
  try {
    for (let start = 0; start < images.count; start += batchSize) {
      const n = Math.min(batchSize, images.count - start);
      const feats = tf.tidy(() => {
        const x = tf.tensor4d(images.data.subarray(start * px, (start + n) * px), [n, images.height, images.width, images.channels]);
        const f = model.forward(x); // [n, D]
        return tf.div(f, tf.maximum(tf.norm(f, 2, 1, true), 1e-12));
      });
      const values = feats.dataSync() as Float32Array;
      cols = feats.shape[1] as number;
      feats.dispose();
      out ??= new Float32Array(images.count * cols);
      out.set(values, start * cols);
    }
  } finally {
    model.train(wasTraining);
  }
  return { data: out ?? new Float32Array(0), rows: images.count, cols };
}

export interface KnnEval {
  top1: number;
  top5: number;
  k: number;
  trainImages: number;
  testImages: number;
  seconds: number;
}

/** Weighted k-NN (official protocol, @ssl/eval) of the model's features: train images as memory, test images as queries. */
export function knnEvaluate(model: FeatureModel, train: EvalImages, test: EvalImages, k = 20, T = 0.07): KnnEval {
  const t0 = performance.now();
  const a = extractFeatures(model, train);
  const b = extractFeatures(model, test);
  const numClasses = Math.max(...train.labels, ...test.labels) + 1;
  const { top1, top5 } = knnClassifier(a, train.labels, b, test.labels, { k, T, numClasses });
  return { top1, top5, k, trainImages: train.count, testImages: test.count, seconds: (performance.now() - t0) / 1000 };
}

/** Attention PNGs (image, heads, mean, threshold masks) of the first `count` test images into `dir`. */
export async function writeAttentionMaps(
  model: { getLastSelfAttention(x: Tensor): Tensor; eval(): unknown; train(mode?: boolean): unknown; training: boolean },
  images: EvalImages,
  patchSize: number,
  dir: string,
  count: number,
): Promise<string[]> {
  const n = Math.min(count, images.count);
  if (n === 0) return [];
  const wasTraining = model.training;
  model.eval();
  const px = images.height * images.width * images.channels;
  const batch = tf.tensor4d(images.data.subarray(0, n * px), [n, images.height, images.width, images.channels]);
  const written: string[] = [];
  try {
    const maps = clsAttentionMaps(model as unknown as Parameters<typeof clsAttentionMaps>[0], batch, patchSize);
    for (let i = 0; i < n; i++) {
      const image = tf.tidy(() => tf.squeeze(tf.slice(batch, [i, 0, 0, 0], [1, -1, -1, -1]), [0]) as tf.Tensor3D);
      try {
        written.push(...(await writeAttentionPngs(dir, image, maps[i] as (typeof maps)[number], { patchSize, enlarge: 6, prefix: `img${i}-` })));
      } finally {
        image.dispose();
      }
    }
  } finally {
    batch.dispose();
    model.train(wasTraining);
  }
  return written;
}
