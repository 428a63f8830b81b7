import { resolve } from 'node:path';
import { buildTransform, pawsSpec } from '@ssl/augment';
import type { TransformSpec } from '@ssl/augment';
import { ClassStratifiedSampler, DataLoader, Subset, SupportBatches, coinFlipSubset, perClassSubset, readLabelSubset } from '@ssl/data';
import type { Dataset } from '@ssl/data';
import { trainPaws } from '@ssl/engine';
import type { PawsStepEvent } from '@ssl/engine';
import { imageFeatures, knnEvaluate, pickImages, snnClassifier, withEvalBatchNormStats } from '@ssl/eval';
import type { FeatureModel } from '@ssl/eval';
import { PAWSModel, createModel, listModels, modelFamily } from '@ssl/models';
import type { ModelOptions } from '@ssl/models';
import { writeResolvedConfig } from '../config/load.js';
import type { PawsConfig } from '../config/paws.js';
import { loadEvalImages } from './run.js';

const NO_LABELS_PAWS = 'give a folder of class sub-folders (its held-out split is the test set) or --val-data-path';
import type { RunDatasets } from './run.js';
import { loadPretrainedBackbones, writeModelSpec } from './pretrained.js';
import { runTraining } from './runner.js';
import type { RunSummary, TrainMethod } from './runner.js';

/** Indices of the labelled images: a per-class count, a subset file, or 1 - unlabeled_frac by coin flips (official). */
export async function labelledIndices(config: PawsConfig, train: Dataset): Promise<Int32Array> {
  const d = config.data;
  const seed = d.data_seed ?? config.runtime.seed;
  if (typeof d.labels === 'number') {
    if (!train.targets) throw new Error('--labels N needs a dataset with known labels');
    return perClassSubset(train.targets, d.labels, seed);
  }
  if (typeof d.labels === 'string') return readLabelSubset(resolve(d.labels), train);
  return coinFlipSubset(train.length, d.unlabeled_frac, seed);
}

/** The PAWS views (`views` large + `multicrop` small), as the official CIFAR-10/ImageNet pipelines, at our sizes and normalisation. */
function pawsTransform(config: PawsConfig, sets: RunDatasets, views: number, multicrop: number): TransformSpec {
  const d = config.data;
  const spec = pawsSpec({
    dataset: d.crop_size <= 64 ? 'cifar10' : 'imagenet',
    cropScale: d.crop_scale,
    colorDistortion: d.color_jitter_strength,
    normalize: d.normalize,
    multicrop,
    multicropSize: d.mc_size,
    multicropScale: d.mc_scale,
    size: d.crop_size,
    views,
  });
  return { kind: 'multicrop', ...spec, channels: sets.channels, mean: d.normalize ? sets.mean : sets.mean.map(() => 0), std: d.normalize ? sets.std : sets.std.map(() => 1) };
}

/** The PAWS encoder of `config`: registry backbone + projection head (+ prediction head). */
export function buildPawsEncoder(config: PawsConfig, inChans: number): PAWSModel {
  const m = config.meta;
  if (!listModels().includes(m.model_name)) throw new Error(`unknown model_name '${m.model_name}'; known: ${listModels().join(', ')}`);
  const family = modelFamily(m.model_name);
  if (m.base_width !== null && family !== 'resnet') {
    throw new Error(`base_width applies to the resnet* models, not '${m.model_name}'`);
  }
  // The patch and ViT dimensions of the config apply to ViTs, base_width to ResNets.
  const seed = config.runtime.seed;
  const options: ModelOptions =
    family === 'vit'
      ? {
          patchSize: m.patch_size,
          imgSize: config.data.crop_size,
          ...(m.embed_dim !== null ? { embedDim: m.embed_dim } : {}),
          ...(m.depth !== null ? { depth: m.depth } : {}),
          ...(m.num_heads !== null ? { numHeads: m.num_heads } : {}),
          inChans,
          seed,
        }
      : { ...(m.base_width !== null ? { baseWidth: m.base_width } : {}), inChans, seed };
  const backbone = createModel(m.model_name, options);
  return new PAWSModel(backbone, {
    ...(m.hidden_dim !== null ? { hiddenDim: m.hidden_dim } : {}),
    outputDim: m.output_dim,
    usePred: m.use_pred_head,
    seed: config.runtime.seed + 1,
  });
}

/** PAWS for the runner: unlabelled multi-crop loader and labelled support batches; k-NN and soft-NN with the labelled images as memory. */
export const PAWS: TrainMethod<PawsConfig, PawsStepEvent> = {
  imagesName: 'unlabelled images',
  async evalImages(config, sets, options = {}) {
    const size = config.data.crop_size;
    // k-NN memory = the labelled images only; BatchNorm statistics come from all training images
    if (!sets.test) throw new Error(`PAWS needs labelled images: ${NO_LABELS_PAWS}`);
    const all = await loadEvalImages(sets.train, size, sets, 0, options.skips);
    let labelled = await labelledIndices(config, sets.train);
    if (options.memoryImages) labelled = labelled.subarray(0, options.memoryImages);
    // rows of the images that could be read (a skipped file has no row)
    const rowOf = new Map(Array.from(all.indices, (index, row) => [index, row]));
    const rows = Int32Array.from(Array.from(labelled, (i) => rowOf.get(i) ?? -1).filter((r) => r >= 0));
    return { memory: pickImages(all, rows), test: await loadEvalImages(sets.test, size, sets, options.testImages ?? 0, options.skips), batchNormImages: all };
  },
  minEpochs: (config) => Math.floor(config.optimization.warmup) + 1,
  baselineWhat: (run) => `with the ${run.memory.count} labels`,
  async prepare(ctx, config, sets) {
    const { criterion: c, data: d, meta: m, optimization: o } = config;
    const labelled = await labelledIndices(config, sets.train);
    const labelledSet = new Subset(sets.train, labelled);
    const numClasses = sets.numClasses;
    if (c.classes_per_batch > numClasses) throw new Error(`classes_per_batch ${c.classes_per_batch} exceeds the ${numClasses} classes of the data`);
    writeResolvedConfig(ctx.outputDir, config);
    const loader = new DataLoader({
      dataset: sets.train,
      transform: pawsTransform(config, sets, 2, d.multicrop),
      batchSize: c.unsupervised_batch_size,
      seed: config.runtime.seed,
      maxSkipRatio: d.max_skip_ratio,
      onSkip: (f) => ctx.skips.note(f, 'training batches'),
    });
    if (loader.length(0) === 0) throw new Error(`${sets.train.length} images give no full batch of ${c.unsupervised_batch_size}; lower --unsupervised-batch-size`);
    const sampler = new ClassStratifiedSampler({
      targets: labelledSet.targets as Int32Array,
      numClasses,
      batchSize: c.supervised_imgs_per_class,
      classesPerBatch: c.classes_per_batch,
      seed: d.data_seed ?? config.runtime.seed,
    });
    const support = new SupportBatches({
      dataset: labelledSet,
      transform: pawsTransform(config, sets, c.supervised_views, 0),
      sampler,
      seed: config.runtime.seed,
    });
    const encoder = buildPawsEncoder(config, sets.channels);
    if (m.pretrained_weights !== null) {
      ctx.facts.set('pretrained weights', await loadPretrainedBackbones([encoder.backbone], m.pretrained_weights, m.checkpoint_key));
    }
    writeModelSpec(ctx.outputDir, encoder.backbone);
    ctx.facts.set('model', `${m.model_name} (${encoder.backbone.numFeatures}-d features), projection ${m.output_dim}${m.use_pred_head ? ' + prediction head' : ''}`);
    ctx.facts.set('labels', `${labelled.length} labelled of ${sets.train.length} training images`);
    // the pixel baseline uses the same labelled images
    const { memory, test, batchNormImages: allTrain = memory } = await PAWS.evalImages(config, sets, { skips: ctx.skips });
    if (!test) throw new Error('PAWS needs labelled test images');
    const backbone = encoder.backbone as unknown as FeatureModel;
    return {
      loader,
      imagesPerStep: c.unsupervised_batch_size,
      resume: config.runtime.resume || m.load_checkpoint,
      labelled: labelled.length,
      memory,
      test,
      // PAWS keeps its weight decay constant (official: no schedule); logged for the report's curve
      stepRecord: (e) => ({ ploss: e.ploss, rloss: e.rloss, wd: o.weight_decay }),
      // Running BatchNorm statistics blend the large and small crops (each resolution is its own batch):
      // evaluate with statistics re-estimated on full-size training images, then put the training ones back.
      evaluate: () =>
        withEvalBatchNormStats(encoder, allTrain, async () => {
          const knn = await knnEvaluate(backbone, memory, test, config.logging.knn_k, config.logging.knn_temperature);
          // official PAWS evaluation (snn_eval.py): soft nearest neighbours of the encoder output, T 0.1
          const [a, b] = [await imageFeatures(encoder as never, memory), await imageFeatures(encoder as never, test)];
          return { knn, snn: await snnClassifier(a, memory.labels, b, test.labels, { T: 0.1, numClasses }) };
        }),
      mapFeatures: (images) => withEvalBatchNormStats(encoder, allTrain, () => imageFeatures(backbone, images)),
      train: (options) => trainPaws({ ...options, encoder, loader, support, config, outputDir: ctx.outputDir }),
    };
  },
};

/** `ssl-train paws`: semi-supervised pretraining, then k-NN with the labelled images as memory. */
export const runPaws = (config: PawsConfig): Promise<RunSummary> => runTraining(config, PAWS);
