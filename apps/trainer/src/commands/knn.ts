import { knnClassifier } from '@ssl/eval';
import type { Matrix } from '@ssl/eval';
import { initBackend } from '@ssl/tensor';
import { readFashionMnist, resolveDataLocation } from '../data.js';
import { checkpointKnn } from './knn-checkpoint.js';
import type { PixelSplit } from '../data.js';

export interface KnnResult {
  top1: number;
  top5: number;
  trainImages: number;
  testImages: number;
  k: number;
  seconds: number;
}

/** Rows of pixel values scaled to unit L2 norm (`F.normalize`, eps 1e-12): pixels as k-NN features. */
export function pixelFeatures(images: { data: ArrayLike<number>; count: number }, transform: (v: number) => number = (v) => v): Matrix {
  const cols = images.data.length / images.count;
  if (!Number.isInteger(cols)) throw new Error(`pixelFeatures: ${images.data.length} values do not split into ${images.count} rows`);
  const data = new Float32Array(images.count * cols);
  for (let r = 0; r < images.count; r++) {
    let sq = 0;
    for (let j = 0; j < cols; j++) {
      const v = transform(images.data[r * cols + j] as number);
      data[r * cols + j] = v;
      sq += v * v;
    }
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let j = 0; j < cols; j++) data[r * cols + j] = (data[r * cols + j] as number) * inv;
  }
  return { data, rows: images.count, cols };
}

/** Fashion-MNIST normalisation of the training crops: (x / 255 - 0.286) / 0.353. */
export const FASHION_MNIST_NORMALIZE = (v: number): number => (v / 255 - 0.286) / 0.353;

/**
 * Pixel k-NN baseline on Fashion-MNIST, with exactly the k-NN code used for the model. `transform`
 * maps a uint8 pixel to its feature value: the training normalisation by default (what the model
 * sees), `v => v / 255` for raw pixels.
 */
export function pixelKnn(train: PixelSplit, test: PixelSplit, k = 20, T = 0.07, transform: (v: number) => number = FASHION_MNIST_NORMALIZE): KnnResult {
  const t0 = performance.now();
  const a = pixelFeatures({ data: train.images, count: train.count }, transform);
  const b = pixelFeatures({ data: test.images, count: test.count }, transform);
  const { top1, top5 } = knnClassifier(a, train.labels, b, test.labels, { k, T, numClasses: 10 });
  return { top1, top5, trainImages: train.count, testImages: test.count, k, seconds: (performance.now() - t0) / 1000 };
}

interface KnnFlags {
  checkpoint?: string;
  pixels?: boolean;
  dataset: 'fashion-mnist' | 'folder';
  dataPath?: string;
  trainImages: string;
  testImages: string;
  k: string;
  temperature: string;
  threads?: string;
}

const int = (v: string, name: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got '${v}'`);
  return n;
};

export async function runKnnCommand(flags: KnnFlags): Promise<void> {
  const backend = await initBackend(flags.threads ? { threads: int(flags.threads, 'threads') } : {});
  console.log(`backend: ${backend.name} (${backend.threads} threads)`);
  if (flags.checkpoint && !flags.pixels) {
    // The run's config.json names its data and architecture.
    const r = await checkpointKnn(flags.checkpoint, {
      trainImages: int(flags.trainImages, 'train-images'),
      testImages: int(flags.testImages, 'test-images'),
      k: int(flags.k, 'k'),
      T: Number(flags.temperature),
    });
    const m = r.model;
    console.log(`${r.method} checkpoint (epoch ${r.epoch}): k-NN (k=${m.k}) top-1 ${m.top1.toFixed(2)}%, top-5 ${m.top5.toFixed(2)}% (${m.trainImages} train, ${m.testImages} test images)`);
    console.log(`pixels, same code and images:      top-1 ${r.pixels.top1.toFixed(2)}%, top-5 ${r.pixels.top5.toFixed(2)}%`);
    return;
  }
  if (flags.dataset !== 'fashion-mnist') throw new Error('ssl-train knn --pixels supports --dataset fashion-mnist; folder datasets need a checkpoint');
  const loc = resolveDataLocation('fashion-mnist', flags.dataPath ?? null);
  const train = await readFashionMnist(loc.dir, 'train', int(flags.trainImages, 'train-images'));
  const test = await readFashionMnist(loc.dir, 'test', int(flags.testImages, 'test-images'));
  const k = int(flags.k, 'k');
  const T = Number(flags.temperature);
  for (const [name, fn] of [
    ['pixels, normalised as the training input', FASHION_MNIST_NORMALIZE],
    ['raw pixels / 255', (v: number) => v / 255],
  ] as const) {
    const r = pixelKnn(train, test, k, T, fn);
    console.log(
      `${name}: k-NN (k=${k}, T=${T}) top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% ` +
        `(${r.trainImages} train, ${r.testImages} test images from ${loc.dir} [${loc.origin}], ${r.seconds.toFixed(1)} s)`,
    );
  }
}
