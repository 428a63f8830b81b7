import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resolveCheckpoint, STATE_FILE } from '@ssl/engine';
import { knnClassifier, knnEvaluate, pixelFeatures, recomputeBatchNormStats } from '@ssl/eval';
import type { EvalImages, FeatureModel, KnnEval } from '@ssl/eval';
import { loadBackbone } from '@ssl/models';
import type { LoadedBackbone, ModelSpec } from '@ssl/models';
import { resolveConfig } from '../config/load.js';
import type { Method } from '../config/load.js';
import { resolveDataLocation } from '../data.js';
import { DINO } from './dino.js';
import { PAWS } from './paws.js';
import { loadEvalImages, NO_LABELS, openDatasets } from './run.js';
import type { RunContext, RunDatasets } from './run.js';
import { folderOptions } from './runner.js';
import type { EvalSet, TrainConfig, TrainMethod } from './runner.js';

export interface CheckpointKnn {
  /** The method of the run, or null for weights from elsewhere. */
  method: Method | null;
  /** The epoch the checkpoint was saved after, where the file says it. */
  epoch: number | null;
  /** Where the backbone came from, as `loadBackbone` found it (file, layout, section, notes). */
  weights: Pick<LoadedBackbone, 'source' | 'layout' | 'key' | 'notes' | 'spec'>;
  model: KnnEval;
  pixels: { top1: number; top5: number };
}

interface KnnOptions {
  /** k-NN memory size (0 or absent: as trained, or all). */
  trainImages?: number;
  testImages?: number;
  k?: number;
  T?: number;
}

/**
 * k-NN of a backbone against pixels on the same images. `batchNormImages`: re-estimate BatchNorm
 * statistics on them first (PAWS runs, so the numbers agree with the run's own evaluation).
 */
async function knnOfBackbone(loaded: LoadedBackbone, set: EvalSet, numClasses: number, k: number, T: number, where: string) {
  const { memory, test, batchNormImages } = set;
  if (!test) throw new Error(`${where}: ${NO_LABELS}`);
  const features = loaded.model as unknown as FeatureModel;
  if (batchNormImages) recomputeBatchNormStats(loaded.model as never, batchNormImages);
  loaded.model.eval();
  const model = await knnEvaluate(features, memory, test, k, T);
  const pixels = await knnClassifier(pixelFeatures(memory), memory.labels, pixelFeatures(test), test.labels, { k, T, numClasses });
  return { model, pixels };
}

const described = ({ source, layout, key, notes, spec }: LoadedBackbone): CheckpointKnn['weights'] => ({ source, layout, key, notes, spec });

/**
 * k-NN of a run's checkpoint: the teacher backbone (DINO) or the encoder backbone (PAWS), built by
 * `loadBackbone` from the model spec the run recorded (model.json), on the run's data (config.json),
 * against pixels on the same images. `dir` is a run directory or a checkpoint directory inside one.
 * `trainImages` overrides the k-NN memory size (0 = as trained).
 */
export async function checkpointKnn(dir: string, options: KnnOptions = {}): Promise<CheckpointKnn> {
  const abs = resolve(dir);
  const runDir = existsSync(join(abs, 'checkpoint')) ? abs : dirname(abs);
  const ckptDir = existsSync(join(abs, 'checkpoint')) ? join(abs, 'checkpoint') : abs;
  const found = await resolveCheckpoint(ckptDir);
  if (!found) throw new Error(`${abs}: no checkpoint (expected a run directory with checkpoint/, or a checkpoint directory with state.json)`);
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`${runDir}: no config.json, so the data of ${found} is unknown (for other weights use --weights with --dataset/--data-path)`);
  const raw = JSON.parse(readFileSync(cfgPath, 'utf8')) as { method?: string };
  const config = resolveConfig(raw.method === 'paws' ? 'paws' : 'dino', { file: raw as Record<string, unknown> }) as TrainConfig;
  const method = (config.method === 'dino' ? DINO : PAWS) as unknown as TrainMethod<TrainConfig, never>;
  const ctx = { data: resolveDataLocation(config.data.dataset, config.data.data_path) } as RunContext;
  const sets = await openDatasets(ctx, config.data.dataset, config.data.val_data_path, config.data.train_images, folderOptions(config));
  if (!sets.test) throw new Error(`${dir}: ${NO_LABELS}`);
  const set = await method.evalImages(config, sets, {
    ...(options.trainImages ? { memoryImages: options.trainImages } : {}),
    ...(options.testImages ? { testImages: options.testImages } : {}),
  });
  const state = JSON.parse(readFileSync(join(found, STATE_FILE), 'utf8')) as { epoch?: number };
  const loaded = await loadBackbone(found, { key: config.method === 'dino' ? 'teacher' : 'encoder' });
  try {
    const r = await knnOfBackbone(loaded, set, sets.numClasses, options.k ?? config.logging.knn_k, options.T ?? config.logging.knn_temperature, dir);
    return { method: config.method, epoch: state.epoch ?? null, weights: described(loaded), ...r };
  } finally {
    loaded.model.dispose();
  }
}

export interface WeightsKnnOptions extends KnnOptions {
  /** Section of a checkpoint (`teacher`, `student`, `encoder`), as the official `--checkpoint_key`. */
  key?: string;
  /** ViT heads where the file does not record them and the width is no official preset. */
  numHeads?: number;
  dataset: 'fashion-mnist' | 'folder';
  dataPath?: string | null;
  valDataPath?: string | null;
  /** Eval crop (resize to size*256/224 for RGB, centre crop); default: a ViT's training size, else the dataset's (28 / 224). */
  imageSize?: number;
}

/** The eval crop of a backbone on a dataset: a ViT's position grid, else the dataset's usual size. */
function defaultImageSize(spec: ModelSpec, sets: RunDatasets, dataset: WeightsKnnOptions['dataset']): number {
  switch (spec.arch) {
    case 'vit':
      return spec.options.imgSize;
    default:
      return dataset === 'fashion-mnist' && sets.channels === 1 ? 28 : 224;
  }
}

/**
 * k-NN of a backbone from any weights file `loadBackbone` reads (official `.pth`, safetensors,
 * Hugging Face, our checkpoints; architecture inferred from the file), on the given dataset, with
 * DINO's eval transform, against pixels on the same images. BatchNorm runs with the file's statistics,
 * as the official eval_knn.py.
 */
export async function weightsKnn(file: string, options: WeightsKnnOptions): Promise<CheckpointKnn> {
  const loaded = await loadBackbone(file, {
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.numHeads !== undefined ? { numHeads: options.numHeads } : {}),
  });
  try {
    // the split and labels ssl-train uses on this data by default
    const config = resolveConfig('dino', {
      flags: { dataset: options.dataset, data_path: options.dataPath ?? null, val_data_path: options.valDataPath ?? null },
    }) as TrainConfig;
    const ctx = { data: resolveDataLocation(options.dataset, options.dataPath ?? null) } as RunContext;
    const sets = await openDatasets(ctx, options.dataset, config.data.val_data_path, 0, folderOptions(config));
    if (!sets.test) throw new Error(`${ctx.data.dir}: ${NO_LABELS}`);
    const inChans = loaded.spec.options.inChans;
    if (inChans !== sets.channels) {
      throw new Error(`${loaded.source}: the ${loaded.spec.arch} takes ${inChans}-channel images; ${ctx.data.dir} has ${sets.channels}-channel images`);
    }
    const size = options.imageSize ?? defaultImageSize(loaded.spec, sets, options.dataset);
    const memory: EvalImages = await loadEvalImages(sets.train, size, sets, options.trainImages ?? 0);
    const test = await loadEvalImages(sets.test, size, sets, options.testImages ?? 0);
    const k = options.k ?? config.logging.knn_k;
    const T = options.T ?? config.logging.knn_temperature;
    const r = await knnOfBackbone(loaded, { memory, test }, sets.numClasses, k, T, file);
    return { method: null, epoch: null, weights: described(loaded), ...r };
  } finally {
    loaded.model.dispose();
  }
}
