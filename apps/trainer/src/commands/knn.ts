import { knnClassifier } from '@ssl/eval';
import type { Matrix } from '@ssl/eval';
import { initBackend } from '@ssl/tensor';
import { readFashionMnist, resolveDataLocation } from '../data.js';
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
export function pixelFeatures(split: PixelSplit): Matrix {
  const cols = split.height * split.width;
  const data = new Float32Array(split.count * cols);
  for (let r = 0; r < split.count; r++) {
    let sq = 0;
    for (let j = 0; j < cols; j++) {
      const v = (split.images[r * cols + j] as number) / 255;
      data[r * cols + j] = v;
      sq += v * v;
    }
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12); // F.normalize's eps
    for (let j = 0; j < cols; j++) data[r * cols + j] = (data[r * cols + j] as number) * inv;
  }
  return { data, rows: split.count, cols };
}

/** Raw-pixel k-NN baseline on Fashion-MNIST, with exactly the k-NN code used for the model. */
export function pixelKnn(train: PixelSplit, test: PixelSplit, k = 20, T = 0.07): KnnResult {
  const t0 = performance.now();
  const { top1, top5 } = knnClassifier(pixelFeatures(train), train.labels, pixelFeatures(test), test.labels, { k, T, numClasses: 10 });
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
