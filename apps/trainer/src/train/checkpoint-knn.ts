import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadCheckpoint, resolveCheckpoint } from '@ssl/engine';
import { knnClassifier, knnEvaluate, pixelFeatures, recomputeBatchNormStats } from '@ssl/eval';
import type { KnnEval } from '@ssl/eval';
import { tf } from '@ssl/tensor';
import { resolveConfig } from '../config/load.js';
import type { Method } from '../config/load.js';
import { resolveDataLocation } from '../data.js';
import { DINO } from './dino.js';
import { PAWS } from './paws.js';
import { NO_LABELS, openDatasets } from './run.js';
import type { RunContext } from './run.js';
import { folderOptions } from './runner.js';
import type { EvalSet, TrainConfig, TrainMethod } from './runner.js';

export interface CheckpointKnn {
  method: Method;
  epoch: number;
  model: KnnEval;
  pixels: { top1: number; top5: number };
}

/**
 * k-NN of a run's checkpoint: the teacher backbone (DINO) or the encoder backbone (PAWS), rebuilt
 * from the run's config.json, against pixels on the same images. `dir` is a run directory or a
 * checkpoint directory inside one. `trainImages` overrides the k-NN memory size (0 = as trained).
 */
export async function checkpointKnn(dir: string, options: { trainImages?: number; testImages?: number; k?: number; T?: number } = {}): Promise<CheckpointKnn> {
  const abs = resolve(dir);
  const runDir = existsSync(join(abs, 'checkpoint')) ? abs : dirname(abs);
  const ckptDir = existsSync(join(abs, 'checkpoint')) ? join(abs, 'checkpoint') : abs;
  const found = await resolveCheckpoint(ckptDir);
  if (!found) throw new Error(`${abs}: no checkpoint (expected a run directory with checkpoint/, or a checkpoint directory with state.json)`);
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`${runDir}: no config.json, so the architecture of ${found} is unknown`);
  const raw = JSON.parse(readFileSync(cfgPath, 'utf8')) as { method?: string };
  const config = resolveConfig(raw.method === 'paws' ? 'paws' : 'dino', { file: raw as Record<string, unknown> }) as TrainConfig;
  const method = (config.method === 'dino' ? DINO : PAWS) as unknown as TrainMethod<TrainConfig, never>;
  const ctx = { data: resolveDataLocation(config.data.dataset, config.data.data_path) } as RunContext;
  const sets = await openDatasets(ctx, config.data.dataset, config.data.val_data_path, config.data.train_images, folderOptions(config));
  if (!sets.test) throw new Error(`${dir}: ${NO_LABELS}`);
  const k = options.k ?? config.logging.knn_k;
  const T = options.T ?? config.logging.knn_temperature;
  const ck = await loadCheckpoint(found);
  try {
    let net;
    try {
      net = method.fromCheckpoint(config, sets.channels, ck.tensors);
    } catch (err) {
      throw new Error(`${found} does not fit the architecture in ${cfgPath}: ${(err as Error).message}`);
    }
    try {
      const { memory, test, batchNormImages }: EvalSet = await method.evalImages(config, sets, {
        ...(options.trainImages ? { memoryImages: options.trainImages } : {}),
        ...(options.testImages ? { testImages: options.testImages } : {}),
      });
      // as at the end of the run, so the numbers agree
      if (batchNormImages) recomputeBatchNormStats(net.network as never, batchNormImages);
      if (!test) throw new Error(`${dir}: ${NO_LABELS}`);
      const model = await knnEvaluate(net.features, memory, test, k, T);
      const pixels = await knnClassifier(pixelFeatures(memory), memory.labels, pixelFeatures(test), test.labels, { k, T, numClasses: sets.numClasses });
      return { method: config.method, epoch: ck.state.epoch, model, pixels };
    } finally {
      net.network.dispose();
    }
  } finally {
    tf.dispose(Object.values(ck.tensors));
  }
}
