import { BatchNorm } from '@ssl/models';
import type { Module } from '@ssl/models';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { clsAttentionMaps } from './attention.js';
import type { SelfAttentionModel } from './attention.js';
import { extractFeatures } from './features.js';
import type { ImageBatchSource } from './features.js';
import { writeAttentionPngs } from './heatmap.js';
import { knnClassifier } from './knn.js';
import type { Matrix } from './matrix.js';

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

/** `images` in index ranges as NHWC tensors (`[e - s, h, w, c]`, the caller disposes them). */
export function evalImagesSource(images: EvalImages): ImageBatchSource {
  const px = images.height * images.width * images.channels;
  return {
    size: images.count,
    batch: (s, e) => tf.tensor4d(images.data.subarray(s * px, e * px), [e - s, images.height, images.width, images.channels]),
  };
}

/** Rows of `images` at `indices` (e.g. the labelled images of a semi-supervised run). */
export function pickImages(images: EvalImages, indices: ArrayLike<number>): EvalImages {
  const px = images.height * images.width * images.channels;
  const data = new Float32Array(indices.length * px);
  const labels = new Int32Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r] as number;
    if (!(i >= 0 && i < images.count)) throw new Error(`pickImages: index ${i} outside the ${images.count} images`);
    data.set(images.data.subarray(i * px, (i + 1) * px), r * px);
    labels[r] = images.labels[i] as number;
  }
  return { ...images, data, labels, count: indices.length };
}

/** CLS features of `images` through `extractFeatures` in batches (eval mode, L2-normalised as official). */
export async function imageFeatures(model: FeatureModel, images: EvalImages, batchSize = 256): Promise<Matrix> {
  const wasTraining = model.training;
  model.eval();
  try {
    return await extractFeatures((x) => model.forward(x) as tf.Tensor2D, evalImagesSource(images), { batchSize });
  } finally {
    model.train(wasTraining);
  }
}

/**
 * Re-estimate every BatchNorm's running mean and variance from the first `maxImages` of `images`
 * (eval-mode forward passes with only the BatchNorms in training mode; equal-weight average over
 * batches, as torch's `momentum=None`). Returns the number of BatchNorm layers. Why: PAWS sends each
 * crop resolution through the network as its own batch (official), so the running statistics blend
 * the large views with the small multi-crop views and misfit full-size evaluation images; on
 * Fashion-MNIST this cost a ResNet-18 about 10 points of k-NN accuracy after 40 steps.
 */
export function recomputeBatchNormStats(
  model: Module & { forward(x: Tensor): unknown },
  images: EvalImages,
  options: { maxImages?: number; batchSize?: number } = {},
): number {
  const bns = model.namedModules().map(([, m]) => m).filter((m): m is BatchNorm => m instanceof BatchNorm);
  const n = Math.min(images.count, options.maxImages ?? 2048);
  const batchSize = options.batchSize ?? 256;
  if (bns.length === 0 || n < 2) return bns.length;
  const wasTraining = model.training;
  const saved = bns.map((bn) => bn.options.momentum);
  const source = evalImagesSource(images);
  model.eval();
  try {
    for (const bn of bns) {
      bn.train();
      tf.tidy(() => {
        bn.runningMean.assign(tf.zerosLike(bn.runningMean));
        bn.runningVar.assign(tf.onesLike(bn.runningVar));
      });
    }
    // the last batch joins the one before when it would be a single image (BatchNorm needs 2)
    const starts: number[] = [];
    for (let s = 0; s < n; s += batchSize) starts.push(s);
    if (starts.length > 1 && n - (starts[starts.length - 1] as number) < 2) starts.pop();
    starts.forEach((s, i) => {
      const e = i + 1 < starts.length ? (starts[i + 1] as number) : n;
      for (const bn of bns) bn.options.momentum = 1 / (i + 1); // running = mean of the batches so far
      const x = source.batch(s, e) as tf.Tensor4D;
      tf.tidy(() => {
        model.forward(x);
      });
      x.dispose();
    });
  } finally {
    bns.forEach((bn, i) => {
      const m = saved[i];
      if (m === undefined) delete bn.options.momentum;
      else bn.options.momentum = m;
    });
    model.train(wasTraining);
  }
  return bns.length;
}

/**
 * Run `fn` with BatchNorm statistics re-estimated on `images` (`recomputeBatchNormStats`), then put
 * the training statistics back: checkpoints and resumed runs do not depend on when evaluations ran.
 */
export async function withEvalBatchNormStats<T>(model: Module & { forward(x: Tensor): unknown }, images: EvalImages, fn: () => Promise<T>): Promise<T> {
  const bns = model.namedModules().map(([, m]) => m).filter((m): m is BatchNorm => m instanceof BatchNorm);
  const saved = bns.map((bn) => [bn.runningMean, bn.runningVar, bn.numBatchesTracked].map((v) => tf.clone(v)));
  try {
    recomputeBatchNormStats(model, images);
    return await fn();
  } finally {
    bns.forEach((bn, i) => [bn.runningMean, bn.runningVar, bn.numBatchesTracked].forEach((v, j) => v.assign(saved[i]?.[j] as Tensor)));
    tf.dispose(saved.flat());
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
  const { top1, top5 } = await knnClassifier(a, train.labels, b, test.labels, { k, T, numClasses });
  return { top1, top5, k, trainImages: train.count, testImages: test.count, seconds: (performance.now() - t0) / 1000 };
}

/** Attention PNGs (image, heads, mean, threshold masks) of the first `count` test images into `dir`. */
export async function writeAttentionMaps(
  model: SelfAttentionModel & { eval(): unknown; train(mode?: boolean): unknown; training: boolean },
  images: EvalImages,
  patchSize: number,
  dir: string,
  count: number,
): Promise<string[]> {
  const n = Math.min(count, images.count);
  if (n === 0) return [];
  const wasTraining = model.training;
  model.eval();
  const batch = evalImagesSource(images).batch(0, n) as tf.Tensor4D;
  const written: string[] = [];
  try {
    const maps = await clsAttentionMaps(model, batch, patchSize);
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
