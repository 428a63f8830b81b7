import { initBackend } from '@ssl/tensor';
import { readFashionMnist, resolveDataLocation } from '../data.js';
import { FASHION_MNIST_NORMALIZE, pixelKnn } from '../pixel-knn.js';
import { checkpointKnn } from '../train/checkpoint-knn.js';

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
    const r = await pixelKnn(train, test, k, T, fn);
    console.log(
      `${name}: k-NN (k=${k}, T=${T}) top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}% ` +
        `(${r.trainImages} train, ${r.testImages} test images from ${loc.dir} [${loc.origin}], ${r.seconds.toFixed(1)} s)`,
    );
  }
}
