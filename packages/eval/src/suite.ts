import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, resize, type ImageU8 } from '@ssl/augment';
import type { Dataset } from '@ssl/data';
import { tf } from '@ssl/tensor';
import type { Precision } from '@ssl/tensor';
import { clsAttentionMaps, type SelfAttentionModel } from './attention.js';
import { makeCopy } from './copies.js';
import { copyDetection, copyDetectionDescriptor, learnWhitening, type RetrievalScore } from './copy-detection.js';
import { datasetBatchSource, extractFeatures, tensorBatchSource, type ImageBatchSource } from './features.js';
import { writeAttentionPngs } from './heatmap.js';
import { knnClassifierSweep, type KnnResult } from './knn.js';
import { evaluateLinearProbe, trainLinearProbe } from './linear-probe.js';
import { normalizeRows } from './matrix.js';
import { snnClassifier } from './snn.js';
import { foregroundMask, segmentationScore, type SegmentationScore } from './segmentation.js';

/** What the suite needs of a ViT (`@ssl/models` VisionTransformer fits). */
export interface EvalViT extends SelfAttentionModel {
  readonly patchSize: number;
  forward(x: tf.Tensor): tf.Tensor;
  getIntermediateLayers(x: tf.Tensor, n: number): tf.Tensor[];
}

/** The photographs committed with this package (twelve mate-backgrounds nature photos). */
export function bundledPhotosDir(): string {
  return fileURLToPath(new URL('../fixtures/photos/', import.meta.url));
}

export interface EvalSuiteOptions {
  model: EvalViT;
  /** Labelled train split (k-NN memory) and test split (queries, segmentation); equal-size images. */
  train: Dataset;
  test: Dataset;
  /** Per-channel normalisation the model was trained with. */
  mean: readonly number[];
  std: readonly number[];
  /** First N train / test images (default: all). */
  trainLimit?: number;
  testLimit?: number;
  ks?: number[];
  T?: number;
  /** Labelled images per class for the PAWS soft-NN support set (default 10). */
  snnPerClass?: number;
  /**
   * Epochs of a linear probe on the frozen, precomputed CLS features (default 0: skipped). Unlike
   * eval_linear it does not re-augment images each epoch (cheap on CPU); `trainLinearProbe` does.
   */
  linearEpochs?: number;
  linearLr?: number;
  batchSize?: number;
  /** Feature extraction precision (`extractFeatures`); default fp32. */
  precision?: Precision;
  /** Test images scored for segmentation (default 500); foreground = pixel > 0. */
  segImages?: number;
  threshold?: number;
  /** Copy detection: photos directory (default bundled), copies per photo, seed, image size. */
  photosDir?: string;
  copiesPerPhoto?: number;
  seed?: number;
  /** Also score copy detection after PCA whitening learnt on this many copies from a disjoint seed (0: skip). */
  whiteningCopies?: number;
  /** Write attention PNGs of the first `pngImages` test images (and one photo) here. */
  outDir?: string;
  /** Test images to visualise (default 4); 0 writes no PNGs at all. */
  pngImages?: number;
  /** PNG enlargement factor (28-px images are small). */
  enlarge?: number;
  log?: (line: string) => void;
}

export interface EvalSuiteResult {
  knn: Record<string, KnnResult>;
  /** PAWS soft-NN accuracy with `support` labelled train images (snnPerClass per class). */
  snn: KnnResult & { support: number };
  /** Linear probe on frozen CLS features (only when linearEpochs > 0). */
  linear?: KnnResult & { epochs: number };
  trainImages: number;
  testImages: number;
  segmentation: SegmentationScore;
  copyDetection: RetrievalScore & { queries: number; database: number; whitened?: RetrievalScore };
  pngs: string[];
  seconds: Record<string, number>;
}

function firstN(n: number | undefined, length: number): number[] {
  return Array.from({ length: Math.min(n ?? length, length) }, (_, i) => i);
}

/** Images (decoded bytes) as a normalised batch source, resized to `size` x `size` (bicubic, as Resize((s, s))). */
function imageListSource(images: ImageU8[], size: number, mean: readonly number[], std: readonly number[]): ImageBatchSource {
  const C = mean.length;
  return {
    size: images.length,
    batch(start, end) {
      const out = new Float32Array((end - start) * size * size * C);
      for (let b = start; b < end; b++) {
        const img = resize(images[b] as ImageU8, size, size, 'bicubic');
        const base = (b - start) * size * size * C;
        for (let p = 0; p < size * size * C; p++) {
          out[base + p] = ((img.data[p] as number) / 255 - (mean[p % C] as number)) / (std[p % C] as number);
        }
      }
      return tf.tensor4d(out, [end - start, size, size, C]);
    },
  };
}

/**
 * The evaluation suite of a ViT on a labelled image dataset: weighted k-NN (top-1/top-5 per k),
 * unsupervised segmentation Jaccard on foreground masks (with the centred-disc baseline), copy
 * detection on seeded strong-edit copies of real photos, and attention PNGs.
 */
export async function runEvalSuite(o: EvalSuiteOptions): Promise<EvalSuiteResult> {
  const log = o.log ?? (() => {});
  const batchSize = o.batchSize ?? 128;
  const precision = o.precision ?? 'fp32';
  const seconds: Record<string, number> = {};
  const tick = (name: string, t0: number): void => {
    seconds[name] = (performance.now() - t0) / 1000;
  };
  const embed = (x: tf.Tensor4D): tf.Tensor => o.model.forward(x);
  const C = o.mean.length;
  const probe = await o.test.get(0);
  const size = probe.image.height;

  // 1. k-NN
  let t0 = performance.now();
  const trainSrc = datasetBatchSource(o.train, { mean: o.mean, std: o.std, indices: firstN(o.trainLimit, o.train.length) });
  const testSrc = datasetBatchSource(o.test, { mean: o.mean, std: o.std, indices: firstN(o.testLimit, o.test.length) });
  const progress = (what: string) => (done: number, total: number) => {
    if (done === total || done % (batchSize * 20) < batchSize) log(`  ${what} features ${done}/${total}`);
  };
  // raw CLS features; k-NN and soft-NN use them L2-normalised, the linear probe as they are
  const trainRaw = await extractFeatures(embed, trainSrc, { batchSize, normalize: false, precision, onBatch: progress('train') });
  const testRaw = await extractFeatures(embed, testSrc, { batchSize, normalize: false, precision, onBatch: progress('test') });
  const trainF = normalizeRows(trainRaw);
  const testF = normalizeRows(testRaw);
  const numClasses = o.train.classes?.length ?? Math.max(...trainSrc.labels()) + 1;
  const ks = o.ks ?? [10, 20, 100, 200];
  const sweep = await knnClassifierSweep(trainF, trainSrc.labels(), testF, testSrc.labels(), { ks, T: o.T ?? 0.07, numClasses });
  const knn: Record<string, KnnResult> = {};
  for (const [k, r] of sweep) knn[String(k)] = r;
  tick('knn', t0);

  // PAWS soft-NN with a small labelled support set: the first `snnPerClass` train images of each class
  t0 = performance.now();
  const perClass = o.snnPerClass ?? 10;
  const trainY = trainSrc.labels();
  const counts = new Array<number>(numClasses).fill(0);
  const supportRows: number[] = [];
  trainY.forEach((y, i) => {
    if ((counts[y] as number) < perClass) {
      counts[y] = (counts[y] as number) + 1;
      supportRows.push(i);
    }
  });
  const support = {
    data: Float32Array.from(supportRows.flatMap((i) => Array.from(trainF.data.subarray(i * trainF.cols, (i + 1) * trainF.cols)))),
    rows: supportRows.length,
    cols: trainF.cols,
  };
  const snn = { ...(await snnClassifier(support, supportRows.map((i) => trainY[i] as number), testF, testSrc.labels(), { T: 0.1, numClasses })), support: support.rows };
  tick('snn', t0);

  // linear probe on the frozen (precomputed, unaugmented) CLS features, when asked
  let linear: EvalSuiteResult['linear'];
  if ((o.linearEpochs ?? 0) > 0) {
    t0 = performance.now();
    const asImages = (m: typeof trainRaw) => tf.tensor4d(m.data, [m.rows, 1, 1, m.cols]);
    const trX = asImages(trainRaw);
    const teX = asImages(testRaw);
    try {
      const flat = (x: tf.Tensor4D): tf.Tensor => tf.reshape(x, [x.shape[0], -1]);
      const probe = await trainLinearProbe({
        embed: flat, train: tensorBatchSource(trX), trainLabels: trainY, numClasses,
        epochs: o.linearEpochs as number, augment: null, seed: o.seed ?? 0,
        ...(o.linearLr !== undefined ? { lr: o.linearLr } : {}),
      });
      linear = { ...(await evaluateLinearProbe(probe, tensorBatchSource(teX), testSrc.labels())), epochs: o.linearEpochs as number };
      probe.dispose();
    } finally {
      tf.dispose([trX, teX]);
    }
    tick('linear', t0);
  }

  // 2. segmentation on the first test images
  t0 = performance.now();
  const segIdx = firstN(o.segImages ?? 500, o.test.length);
  const segSrc = datasetBatchSource(o.test, { mean: o.mean, std: o.std, indices: segIdx });
  const masks = await Promise.all(segIdx.map(async (i) => foregroundMask((await o.test.get(i)).image.data)));
  const segImages = await segSrc.batch(0, segSrc.size);
  let segmentation: SegmentationScore;
  try {
    segmentation = await segmentationScore(o.model, segImages, masks, { patchSize: o.model.patchSize, threshold: o.threshold ?? 0.6, batchSize });
  } finally {
    segImages.dispose();
  }
  tick('segmentation', t0);

  // 3. copy detection: originals are the database, seeded copies the queries
  t0 = performance.now();
  const dir = o.photosDir ?? bundledPhotosDir();
  const files = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  if (files.length < 2) throw new Error(`photosDir: ${dir} holds ${files.length} photos, need at least 2`);
  const originals = files.map((f) => readFileSync(join(dir, f)));
  const copiesPer = o.copiesPerPhoto ?? 4;
  const seed = o.seed ?? 0;
  const channels = C === 1 ? 1 : 3;
  const dbImages = await Promise.all(originals.map((b) => decodeImage(b, { channels })));
  const qImages: ImageU8[] = [];
  const positives: number[][] = [];
  for (let p = 0; p < originals.length; p++) {
    for (let c = 0; c < copiesPer; c++) {
      const copy = await makeCopy(originals[p] as Buffer, seed, p * copiesPer + c);
      qImages.push(await decodeImage(copy.data, { channels }));
      positives.push([p]);
    }
  }
  const descriptor = (x: tf.Tensor4D): tf.Tensor =>
    tf.tidy(() => copyDetectionDescriptor(o.model.getIntermediateLayers(x, 1)[0] as tf.Tensor3D));
  const dbF = await extractFeatures(descriptor, imageListSource(dbImages, size, o.mean, o.std), { batchSize, normalize: false });
  const qF = await extractFeatures(descriptor, imageListSource(qImages, size, o.mean, o.std), { batchSize, normalize: false });
  const cd = await copyDetection(qF, dbF, positives);
  let whitened: RetrievalScore | undefined;
  if ((o.whiteningCopies ?? 0) > 0) {
    const wImages: ImageU8[] = [];
    for (let i = 0; i < (o.whiteningCopies as number); i++) {
      const copy = await makeCopy(originals[i % originals.length] as Buffer, `${seed}-whitening`, i);
      wImages.push(await decodeImage(copy.data, { channels }));
    }
    const wF = await extractFeatures(descriptor, imageListSource(wImages, size, o.mean, o.std), { batchSize, normalize: false });
    const { ranking: _r, ...score } = await copyDetection(qF, dbF, positives, { whitening: learnWhitening(wF) });
    whitened = score;
  }
  const { ranking: _ranking, ...cdScore } = cd;
  tick('copyDetection', t0);

  // 4. attention PNGs
  t0 = performance.now();
  const pngs: string[] = [];
  const n = Math.min(o.pngImages ?? 4, o.test.length);
  if (o.outDir && n > 0) {
    const pngSrc = datasetBatchSource(o.test, { mean: o.mean, std: o.std, indices: firstN(n, o.test.length) });
    const imgs = await pngSrc.batch(0, n);
    const photo = await imageListSource(dbImages.slice(0, 1), size, o.mean, o.std).batch(0, 1);
    try {
      const all = tf.concat([imgs, photo], 0) as tf.Tensor4D;
      const maps = await clsAttentionMaps(o.model, all, o.model.patchSize);
      for (let i = 0; i < maps.length; i++) {
        const img = tf.tidy(() => tf.reshape(tf.slice(all, [i, 0, 0, 0], [1, size, size, C]), [size, size, C]) as tf.Tensor3D);
        const prefix = i < n ? `test${i}-` : 'photo0-';
        pngs.push(...(await writeAttentionPngs(o.outDir, img, maps[i]!, { patchSize: o.model.patchSize, threshold: o.threshold ?? 0.6, enlarge: o.enlarge ?? 8, prefix })));
        img.dispose();
      }
      all.dispose();
    } finally {
      tf.dispose([imgs, photo]);
    }
  }
  tick('pngs', t0);

  return {
    knn,
    snn,
    ...(linear ? { linear } : {}),
    trainImages: trainSrc.size,
    testImages: testSrc.size,
    segmentation,
    copyDetection: { ...cdScore, queries: qImages.length, database: dbImages.length, ...(whitened ? { whitened } : {}) },
    pngs,
    seconds,
  };
}
