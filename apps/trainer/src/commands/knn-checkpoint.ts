import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadCheckpoint, resolveCheckpoint, section } from '@ssl/engine';
import { knnClassifier } from '@ssl/eval';
import { tf } from '@ssl/tensor';
import { resolveConfig } from '../config/load.js';
import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';
import { buildDinoNetworks } from '../train/dino.js';
import { knnEvaluate, recomputeBatchNormStats } from '../train/evaluate.js';
import type { FeatureModel, KnnEval } from '../train/evaluate.js';
import { buildPawsEncoder, labelledIndices, pickImages } from '../train/paws.js';
import { loadEvalImages, openDatasets } from '../train/run.js';
import type { RunContext } from '../train/run.js';
import { resolveDataLocation } from '../data.js';
import { pixelFeatures } from './knn.js';

export interface CheckpointKnn {
  method: 'dino' | 'paws';
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
  const method = raw.method === 'paws' ? 'paws' : 'dino';
  const config = resolveConfig(method, { file: raw as Record<string, unknown> }) as DinoConfig | PawsConfig;
  const dataset = config.data.dataset;
  const ctx = { data: resolveDataLocation(dataset, config.data.data_path) } as RunContext;
  const sets = await openDatasets(ctx, dataset, config.data.val_data_path, config.data.train_images);
  const size = config.method === 'dino' ? config.data.global_crops_size : config.data.crop_size;
  const k = options.k ?? config.logging.knn_k;
  const T = options.T ?? config.logging.knn_temperature;
  const ck = await loadCheckpoint(found);
  try {
    let model: FeatureModel;
    let train;
    if (config.method === 'dino') {
      const nets = buildDinoNetworks(config, sets.channels);
      nets.teacher.loadStateDict(section(ck.tensors, 'teacher'), { strict: true });
      model = nets.teacher.backbone as unknown as FeatureModel;
      const n = options.trainImages || config.logging.knn_train_images || sets.train.length;
      train = await loadEvalImages(sets.train, size, sets, n);
    } else {
      const encoder = buildPawsEncoder(config, sets.channels);
      encoder.loadStateDict(section(ck.tensors, 'encoder'), { strict: true });
      model = encoder.backbone as unknown as FeatureModel;
      const all = await loadEvalImages(sets.train, size, sets);
      recomputeBatchNormStats(encoder, all); // as at the end of the run, so the numbers agree
      train = pickImages(all, await labelledIndices(config, sets.train));
    }
    const test = await loadEvalImages(sets.test, size, sets, options.testImages ?? 0);
    const result = await knnEvaluate(model, train, test, k, T);
    const pixels = knnClassifier(pixelFeatures(train), train.labels, pixelFeatures(test), test.labels, { k, T, numClasses: sets.numClasses });
    return { method, epoch: ck.state.epoch, model: result, pixels };
  } catch (err) {
    const msg = (err as Error).message;
    if (/loadStateDict|missing|unexpected|shape/i.test(msg)) {
      throw new Error(`${found} does not fit the architecture in ${cfgPath}: ${msg}`);
    }
    throw err;
  } finally {
    tf.dispose(Object.values(ck.tensors));
  }
}
