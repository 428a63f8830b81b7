import { initBackend } from '@ssl/tensor';
import { readFashionMnist, resolveDataLocation } from '../data.js';
import { FASHION_MNIST_NORMALIZE, pixelKnn } from '../pixel-knn.js';
import { checkpointKnn, weightsKnn } from '../train/checkpoint-knn.js';
import type { CheckpointKnn } from '../train/checkpoint-knn.js';

interface KnnFlags {
  checkpoint?: string;
  weights?: string;
  pretrainedWeights?: string;
  checkpointKey?: string;
  numHeads?: string;
  imageSize?: string;
  pixels?: boolean;
  dataset: 'fashion-mnist' | 'folder';
  dataPath?: string;
  valDataPath?: string;
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
  const weights = flags.weights ?? flags.pretrainedWeights;
  if (weights && flags.checkpoint) throw new Error('give --checkpoint (a run of ssl-train) or --weights (any weights file), not both');
  if ((weights || flags.checkpoint) && !flags.pixels) {
    const common = {
      trainImages: int(flags.trainImages, 'train-images'),
      testImages: int(flags.testImages, 'test-images'),
      k: int(flags.k, 'k'),
      T: Number(flags.temperature),
    };
    // A run directory names its data (config.json) and model (model.json); other weights take the data flags.
    const r = weights
      ? await weightsKnn(weights, {
          ...common,
          ...(flags.checkpointKey !== undefined ? { key: flags.checkpointKey } : {}),
          ...(flags.numHeads !== undefined ? { numHeads: int(flags.numHeads, 'num-heads') } : {}),
          ...(flags.imageSize !== undefined ? { imageSize: int(flags.imageSize, 'image-size') } : {}),
          dataset: flags.dataset,
          dataPath: flags.dataPath ?? null,
          valDataPath: flags.valDataPath ?? null,
        })
      : await checkpointKnn(flags.checkpoint as string, common);
    for (const line of knnLines(r)) console.log(line);
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

/** What `ssl-train knn` prints for a model: where its weights came from, its k-NN and the pixels'. */
export function knnLines(r: CheckpointKnn): string[] {
  const w = r.weights;
  const what = r.method ? `${r.method} checkpoint${r.epoch !== null ? ` (epoch ${r.epoch})` : ''}` : `${w.spec.arch} weights`;
  const m = r.model;
  return [
    `weights: ${w.source} (${w.layout}${w.key ? `, '${w.key}'` : ''}): ${JSON.stringify(w.spec)}`,
    ...w.notes.map((n) => `  ${n}`),
    `${what}: k-NN (k=${m.k}) top-1 ${m.top1.toFixed(2)}%, top-5 ${m.top5.toFixed(2)}% (${m.trainImages} train, ${m.testImages} test images)`,
    `pixels, same code and images: top-1 ${r.pixels.top1.toFixed(2)}%, top-5 ${r.pixels.top5.toFixed(2)}%`,
  ];
}
