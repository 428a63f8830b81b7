import { clsAttentionMaps, extractFeatures, knnClassifier, writeAttentionPngs } from '@ssl/eval';
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

/** CLS features of `images` through @ssl/eval's `extractFeatures` (eval mode, L2-normalised as official). */
export async function imageFeatures(model: FeatureModel, images: EvalImages, batchSize = 256): Promise<Matrix> {
  const wasTraining = model.training;
  model.eval();
  const px = images.height * images.width * images.channels;
  try {
    return await extractFeatures((x) => model.forward(x) as tf.Tensor2D, {
      size: images.count,
      batch: (s, e) => tf.tensor4d(images.data.subarray(s * px, e * px), [e - s, images.height, images.width, images.channels]),
    }, { batchSize });
  } finally {
    model.train(wasTraining);
  }
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
export async function knnEvaluate(model: FeatureModel, train: EvalImages, test: EvalImages, k = 20, T = 0.07): Promise<KnnEval> {
  const t0 = performance.now();
  const a = await imageFeatures(model, train);
  const b = await imageFeatures(model, test);
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
