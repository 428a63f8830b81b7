import { join, resolve } from 'node:path';
import { buildTransform, pawsSpec } from '@ssl/augment';
import type { TransformSpec } from '@ssl/augment';
import { ClassStratifiedSampler, DataLoader, Subset, coinFlipSubset, perClassSubset, readLabelSubset } from '@ssl/data';
import type { Dataset } from '@ssl/data';
import { SupportBatches, trainPaws } from '@ssl/engine';
import type { PawsConfig as EnginePawsConfig, PawsStepEvent } from '@ssl/engine';
import { knnClassifier, snnClassifier } from '@ssl/eval';
import { PAWSModel, createModel, listModels } from '@ssl/models';
import { pixelFeatures } from '../commands/knn.js';
import { writeResolvedConfig } from '../config/load.js';
import type { PawsConfig } from '../config/paws.js';
import { imageFeatures, knnEvaluate, withEvalBatchNormStats } from './evaluate.js';
import type { EvalImages, KnnEval } from './evaluate.js';
import {
  Progress,
  Throughput,
  checkpointPosition,
  evaluateEveryEpochs,
  announceStop,
  finishReport,
  formatDuration,
  loadEvalImages,
  memoryFacts,
  openDatasets,
  openRun,
} from './run.js';
import type { RunDatasets, StopReason } from './run.js';

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

export function enginePawsConfig(config: PawsConfig, outputDir: string): EnginePawsConfig {
  const { criterion: c, data: d, optimization: o } = config;
  return {
    meMax: c.me_max,
    supervisedViews: c.supervised_views,
    classesPerBatch: c.classes_per_batch,
    supervisedImgsPerClass: c.supervised_imgs_per_class,
    unsupervisedBatchSize: c.unsupervised_batch_size,
    temperature: c.temperature,
    sharpen: c.sharpen,
    multicrop: d.multicrop,
    labelSmoothing: d.label_smoothing,
    optimizer: o.optimizer,
    weightDecay: o.weight_decay,
    epochs: o.epochs,
    warmup: o.warmup,
    startLr: o.start_lr,
    lr: o.lr,
    finalLr: o.final_lr,
    momentum: o.momentum,
    nesterov: o.nesterov,
    trustCoefficient: 0.001,
    saveckpFreq: config.logging.saveckp_freq,
    outputDir,
    seed: config.runtime.seed,
  };
}

export interface PawsRunSummary {
  stopReason: StopReason;
  steps: number;
  seconds: number;
  imagesPerSec: number;
  labelled: number;
  knn: KnnEval | null;
  /** Soft nearest neighbours of the encoder output, the labelled images as support (official snn_eval, T 0.1). */
  snn: { top1: number; top5: number } | null;
  baseline: { top1: number; top5: number };
  /** For the CLI: 0, or 130 / 143 when Ctrl-C / SIGTERM stopped the run. */
  exitCode: number;
}

/** The PAWS encoder of `config`: registry backbone + projection head (+ prediction head). */
export function buildPawsEncoder(config: PawsConfig, inChans: number): PAWSModel {
  const m = config.meta;
  if (!listModels().includes(m.model_name)) throw new Error(`unknown model_name '${m.model_name}'; known: ${listModels().join(', ')}`);
  const isVit = m.model_name.startsWith('vit');
  if (m.base_width !== null && !m.model_name.startsWith('resnet')) {
    throw new Error(`base_width applies to the resnet* models, not '${m.model_name}'`);
  }
  const backbone = createModel(m.model_name, {
    ...(isVit
      ? {
          patchSize: m.patch_size,
          imgSize: config.data.crop_size,
          ...(m.embed_dim !== null ? { embedDim: m.embed_dim } : {}),
          ...(m.depth !== null ? { depth: m.depth } : {}),
          ...(m.num_heads !== null ? { numHeads: m.num_heads } : {}),
        }
      : m.base_width !== null
        ? { baseWidth: m.base_width }
        : {}),
    inChans,
    seed: config.runtime.seed,
  });
  return new PAWSModel(backbone, {
    ...(m.hidden_dim !== null ? { hiddenDim: m.hidden_dim } : {}),
    outputDim: m.output_dim,
    usePred: m.use_pred_head,
    seed: config.runtime.seed + 1,
  });
}

/** Rows of `imgs` at `indices`. */
export function pickImages(imgs: EvalImages, indices: Int32Array): EvalImages {
  const px = imgs.height * imgs.width * imgs.channels;
  const data = new Float32Array(indices.length * px);
  const labels = new Int32Array(indices.length);
  indices.forEach((i, r) => {
    data.set(imgs.data.subarray(i * px, (i + 1) * px), r * px);
    labels[r] = imgs.labels[i] as number;
  });
  return { ...imgs, data, labels, count: indices.length };
}

/** `ssl-train paws`: semi-supervised pretraining, then k-NN with the labelled images as memory. */
export async function runPaws(config: PawsConfig): Promise<PawsRunSummary> {
  const { criterion: c, data: d, meta: m, optimization: o } = config;
  const ctx = await openRun({
    outputDir: config.logging.output_dir,
    threads: config.runtime.threads,
    backend: config.runtime.backend,
    dataset: d.dataset,
    dataPath: d.data_path,
    timeBudget: o.time_budget,
  });
  try {
    const sets = await openDatasets(ctx, d.dataset, d.val_data_path, d.train_images);
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
    });
    const ipe = loader.length(0);
    if (ipe === 0) throw new Error(`${sets.train.length} images give no full batch of ${c.unsupervised_batch_size}; lower --unsupervised-batch-size`);
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
    const backbone = encoder.backbone;
    ctx.facts.set('model', `${m.model_name} (${backbone.numFeatures}-d features), projection ${m.output_dim}${m.use_pred_head ? ' + prediction head' : ''}`);
    ctx.facts.set('labels', `${labelled.length} labelled of ${sets.train.length} training images`);

    // k-NN memory = the labelled images only; the pixel baseline uses the same labelled images.
    const allTrain = await loadEvalImages(sets.train, d.crop_size, sets);
    const labelledImgs = pickImages(allTrain, labelled);
    const testImgs = await loadEvalImages(sets.test, d.crop_size, sets);
    const baseline = knnClassifier(pixelFeatures(labelledImgs), labelledImgs.labels, pixelFeatures(testImgs), testImgs.labels, {
      k: config.logging.knn_k,
      T: config.logging.knn_temperature,
      numClasses,
    });
    ctx.print(`pixels k-NN baseline with the ${labelled.length} labels: top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}%`);

    if (ctx.stop.reason === 'interrupted') {
      ctx.print('interrupted before training started: nothing to save');
      return { stopReason: 'interrupted', steps: 0, seconds: 0, imagesPerSec: 0, labelled: labelled.length, knn: null, snn: null, baseline, exitCode: ctx.stop.exitCode };
    }
    const resume = config.runtime.resume || m.load_checkpoint;
    // The engine says "resumed from ..." when it loads a checkpoint; log.jsonl records it too.
    const start = resume ? await checkpointPosition(ctx.outputDir) : null;
    if (start) ctx.log.write({ type: 'resume', checkpoint: start.dir, epoch: start.epoch, iteration: start.iteration, step: start.step });
    const total = o.epochs * ipe;
    const progress = new Progress({ total, start: start?.step ?? 0, mode: config.logging.progress, every: config.logging.log_every });
    let step = start?.step ?? 0;
    const meter = new Throughput(c.unsupervised_batch_size);
    const onStep = (e: PawsStepEvent) => {
      step = e.step + 1;
      const windowIps = meter.step();
      progress.update({ step, epoch: e.epoch, loss: e.loss, lr: e.lr, imagesPerSec: windowIps });
      if (step % config.logging.log_every === 0 || e.iteration === ipe - 1) {
        // PAWS keeps its weight decay constant (official: no schedule); logged for the report's curve
        ctx.log.write({ type: 'step', epoch: e.epoch, step, loss: e.loss, ploss: e.ploss, rloss: e.rloss, lr: e.lr, wd: o.weight_decay, images_per_sec: windowIps, ...memoryFacts() });
        meter.newWindow();
      }
    };
    // Running BatchNorm statistics blend the large and small crops (each resolution is its own batch):
    // evaluate with statistics re-estimated on full-size training images, then put the training ones back.
    const evaluate = (epoch: number, atStep: number) =>
      withEvalBatchNormStats(encoder, allTrain, async () => {
        const r = await knnEvaluate(encoder.backbone as never, labelledImgs, testImgs, config.logging.knn_k, config.logging.knn_temperature);
        // official PAWS evaluation (snn_eval.py): soft nearest neighbours of the encoder output, T 0.1
        const [a, b] = [await imageFeatures(encoder as never, labelledImgs), await imageFeatures(encoder as never, testImgs)];
        const snn = snnClassifier(a, labelledImgs.labels, b, testImgs.labels, { T: 0.1, numClasses });
        ctx.log.write({
          type: 'eval', epoch, step: atStep, knn_top1: r.top1, knn_top5: r.top5, k: r.k, baseline_top1: baseline.top1, baseline_top5: baseline.top5,
          snn_top1: snn.top1, snn_top5: snn.top5, train_images: r.trainImages, test_images: r.testImages,
        });
        return { ...r, snn };
      });
    // One engine call for the whole run: Ctrl-C, SIGTERM and the time budget stop it after a step
    // (with a checkpoint there), evaluations run between epochs.
    const r = await trainPaws({
      encoder,
      loader,
      support,
      config: enginePawsConfig(config, ctx.outputDir),
      resume,
      logEvery: 0,
      onStep,
      onEpoch: (s) => ctx.log.write({ type: 'epoch', ...s }),
      onEpochEnd: evaluateEveryEpochs(config.logging.eval_freq, evaluate, (line) => progress.log(line)),
      shouldStop: () => ctx.stop.check(),
      checkpointEveryMinutes: config.logging.checkpoint_minutes,
      log: (line) => progress.log(line),
    });
    step = r.step;
    const epoch = r.endEpoch;
    const { stopReason, where } = announceStop(ctx, r, ipe, o.time_budget, (line) => progress.log(line));
    progress.done();
    const seconds = meter.seconds;
    const ips = meter.overall;
    if (stopReason === 'interrupted') {
      ctx.facts.set('training', `interrupted at ${where}; ${formatDuration(seconds)}, ${ips.toFixed(1)} unlabelled images/s`);
      finishReport(ctx);
      return { stopReason, steps: step, seconds, imagesPerSec: ips, labelled: labelled.length, knn: null, snn: null, baseline, exitCode: ctx.stop.exitCode };
    }
    const { snn, ...knn } = await evaluate(epoch, step);
    ctx.facts.set('training', `${step} steps, ${formatDuration(seconds)}, ${ips.toFixed(1)} unlabelled images/s (stopped: ${stopReason})`);
    ctx.facts.set('k-NN (labelled memory)', `top-1 ${knn.top1.toFixed(2)}%, top-5 ${knn.top5.toFixed(2)}%`);
    ctx.facts.set('soft-NN of the encoder output (official PAWS eval)', `top-1 ${snn.top1.toFixed(2)}%, top-5 ${snn.top5.toFixed(2)}%`);
    ctx.facts.set('pixels k-NN (same labels)', `top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}%`);
    const report = finishReport(ctx);
    console.log(`k-NN (k=${knn.k}) with the ${labelled.length} labelled images, on ${knn.testImages} test images: top-1 ${knn.top1.toFixed(2)}%, top-5 ${knn.top5.toFixed(2)}%`);
    console.log(`soft-NN (T=0.1) of the encoder output, same memory: top-1 ${snn.top1.toFixed(2)}%, top-5 ${snn.top5.toFixed(2)}%`);
    console.log(`pixels k-NN, same labelled images:  top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}%`);
    console.log(`training: ${step} steps in ${formatDuration(seconds)}; report: ${report}`);
    return { stopReason, steps: step, seconds, imagesPerSec: ips, labelled: labelled.length, knn, snn, baseline, exitCode: 0 };
  } finally {
    ctx.stop.dispose();
  }
}
