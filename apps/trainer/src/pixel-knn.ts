import { knnClassifier, pixelFeatures } from '@ssl/eval';
import type { PixelSplit } from './data.js';

export interface KnnResult {
  top1: number;
  top5: number;
  trainImages: number;
  testImages: number;
  k: number;
  seconds: number;
}

/** Fashion-MNIST normalisation of the training crops: (x / 255 - 0.286) / 0.353. */
export const FASHION_MNIST_NORMALIZE = (v: number): number => (v / 255 - 0.286) / 0.353;

/**
 * Pixel k-NN baseline on Fashion-MNIST, with exactly the k-NN code used for the model. `transform`
 * maps a uint8 pixel to its feature value: the training normalisation by default (what the model
 * sees), `v => v / 255` for raw pixels.
 */
export async function pixelKnn(train: PixelSplit, test: PixelSplit, k = 20, T = 0.07, transform: (v: number) => number = FASHION_MNIST_NORMALIZE): Promise<KnnResult> {
  const t0 = performance.now();
  const a = pixelFeatures({ data: train.images, count: train.count }, transform);
  const b = pixelFeatures({ data: test.images, count: test.count }, transform);
  const { top1, top5 } = await knnClassifier(a, train.labels, b, test.labels, { k, T, numClasses: 10 });
  return { top1, top5, trainImages: train.count, testImages: test.count, k, seconds: (performance.now() - t0) / 1000 };
}
