import { initBackend, tf } from '@ssl/tensor';
import type { Tensor2D } from '@ssl/tensor';
import { readFashionMnist, resolveDataLocation } from '../data.js';
import { knnClassifier, l2Normalize } from '../knn.js';
import type { PixelSplit } from '../data.js';

export interface KnnResult {
  top1: number;
  top5: number;
  trainImages: number;
  testImages: number;
  k: number;
  seconds: number;
}

/** Pixels in [0, 1], one row per image, L2-normalised: the raw-pixel k-NN features. */
export function pixelFeatures(split: PixelSplit): Tensor2D {
  const dim = split.height * split.width;
  return tf.tidy(() => l2Normalize(tf.div(tf.tensor2d(Float32Array.from(split.images), [split.count, dim]), 255) as Tensor2D));
}

/** Raw-pixel k-NN baseline on Fashion-MNIST, with exactly the k-NN code used for the model. */
export function pixelKnn(train: PixelSplit, test: PixelSplit, k = 20, T = 0.07): KnnResult {
  const t0 = performance.now();
  const a = pixelFeatures(train);
  const b = pixelFeatures(test);
  try {
    const { top1, top5 } = knnClassifier(a, train.labels, b, test.labels, { k, T, numClasses: 10 });
    return { top1, top5, trainImages: train.count, testImages: test.count, k, seconds: (performance.now() - t0) / 1000 };
  } finally {
    tf.dispose([a, b]);
  }
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
  if (flags.dataset !== 'fashion-mnist') throw new Error('ssl-train knn --pixels supports --dataset fashion-mnist; folder datasets need a checkpoint');
  const loc = resolveDataLocation('fashion-mnist', flags.dataPath ?? null);
  const train = await readFashionMnist(loc.dir, 'train', int(flags.trainImages, 'train-images'));
  const test = await readFashionMnist(loc.dir, 'test', int(flags.testImages, 'test-images'));
  const k = int(flags.k, 'k');
  const T = Number(flags.temperature);
  if (flags.checkpoint && !flags.pixels) {
    throw new Error('ssl-train knn --checkpoint needs @ssl/models; not wired in this build');
  }
  const r = pixelKnn(train, test, k, T);
  console.log(
    `raw pixels k-NN (k=${k}, T=${T}) on ${loc.dir} [${loc.origin}]: top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% ` +
      `(${r.trainImages} train, ${r.testImages} test images, ${r.seconds.toFixed(1)} s)`,
  );
}
