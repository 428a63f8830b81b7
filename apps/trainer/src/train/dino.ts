import { join } from 'node:path';
import { buildTransform } from '@ssl/augment';
import { DataLoader } from '@ssl/data';
import {
  AdamW,
  DinoLARS,
  SGD,
  cancelGradientsLastLayer,
  clipGradients,
  copyStudentToTeacher,
  cosineScheduler,
  emaUpdate,
  getParamsGroups,
  gradsByParamName,
} from '@ssl/engine';
import type { Optimizer } from '@ssl/engine';
import { DINOLoss } from '@ssl/losses';
import { DINOHead, MultiCropWrapper, createModel, listModels } from '@ssl/models';
import type { Backbone } from '@ssl/models';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { writeResolvedConfig } from '../config/load.js';
import type { DinoConfig } from '../config/dino.js';
import { pixelFeatures } from '../commands/knn.js';
import { knnEvaluate, writeAttentionMaps } from './evaluate.js';
import type { EvalImages, KnnEval } from './evaluate.js';
import { Progress, dinoTransformSpec, finishReport, formatDuration, loadEvalImages, memoryFacts, openDatasets, openRun } from './run.js';
import type { RunContext, RunDatasets, StopReason } from './run.js';
import { knnClassifier } from '@ssl/eval';

export interface DinoNetworks {
  student: MultiCropWrapper;
  teacher: MultiCropWrapper;
  embedDim: number;
}

/** Student and teacher as main_dino.py: same arch, the teacher without stochastic depth, started as a copy. */
export function buildDinoNetworks(config: DinoConfig, inChans: number): DinoNetworks {
  const m = config.model;
  if (!listModels().includes(m.arch)) {
    throw new Error(`unknown arch '${m.arch}'; known: ${listModels().join(', ')}`);
  }
  const isVit = m.arch.startsWith('vit');
  const backboneOptions = (dropPathRate: number) => ({
    ...(isVit
      ? {
          patchSize: m.patch_size,
          imgSize: config.data.global_crops_size,
          dropPathRate,
          ...(m.embed_dim !== null ? { embedDim: m.embed_dim } : {}),
          ...(m.depth !== null ? { depth: m.depth } : {}),
          ...(m.num_heads !== null ? { numHeads: m.num_heads } : {}),
        }
      : {}),
    inChans,
    seed: config.runtime.seed,
  });
  const make = (dropPathRate: number, normLastLayer: boolean): [MultiCropWrapper, number] => {
    const backbone: Backbone = createModel(m.arch, backboneOptions(dropPathRate));
    const head = new DINOHead({
      inDim: backbone.numFeatures,
      outDim: m.out_dim,
      useBn: m.use_bn_in_head,
      normLastLayer,
      nlayers: m.head_nlayers,
      hiddenDim: m.hidden_dim,
      bottleneckDim: m.bottleneck_dim,
      seed: config.runtime.seed + 1,
    });
    return [new MultiCropWrapper(backbone, head), backbone.numFeatures];
  };
  const [student, embedDim] = make(m.drop_path_rate, m.norm_last_layer);
  // Official: the teacher head keeps the default norm_last_layer (its weights come from the student anyway).
  const [teacher] = make(0, true);
  copyStudentToTeacher(student, teacher);
  return { student, teacher, embedDim };
}

function makeOptimizer(config: DinoConfig, student: MultiCropWrapper): Optimizer {
  const groups = getParamsGroups(student.namedParameters());
  switch (config.optimization.optimizer) {
    case 'adamw':
      return new AdamW(groups);
    case 'sgd':
      return new SGD(groups, { lr: 0, momentum: 0.9 });
    case 'lars':
      return new DinoLARS(groups);
  }
}

export interface DinoSchedules {
  lr: Float64Array;
  wd: Float64Array;
  momentum: Float64Array;
}

/** The three per-iteration schedules of main_dino.py, lr scaled by batch / 256 (one process). */
export function dinoSchedules(config: DinoConfig, itersPerEpoch: number): DinoSchedules {
  const o = config.optimization;
  const epochs = o.epochs;
  return {
    lr: cosineScheduler((o.lr * o.batch_size_per_gpu) / 256, o.min_lr, epochs, itersPerEpoch, { warmupEpochs: Math.min(o.warmup_epochs, epochs) }),
    wd: cosineScheduler(o.weight_decay, o.weight_decay_end, epochs, itersPerEpoch),
    momentum: cosineScheduler(o.momentum_teacher, 1, epochs, itersPerEpoch),
  };
}

export interface DinoStepResult {
  loss: number;
}

/**
 * One DINO iteration in the official order: teacher on the 2 global crops, student on all crops,
 * loss (then center update), backward, per-parameter clipping, last-layer cancel, optimizer step,
 * teacher EMA.
 */
export function dinoStep(
  nets: DinoNetworks,
  loss: DINOLoss,
  optimizer: Optimizer,
  views: Tensor[],
  epoch: number,
  it: number,
  schedules: DinoSchedules,
  config: DinoConfig,
): DinoStepResult {
  optimizer.setSchedule(schedules.lr[it] as number, schedules.wd[it] as number);
  const named = nets.student.namedParameters().filter(([, v]) => v.trainable);
  const teacherOut = tf.tidy(() => nets.teacher.forward(views.slice(0, 2)));
  const { value, grads } = tf.variableGrads(() => loss.forward(nets.student.forward(views), teacherOut, epoch), named.map(([, v]) => v));
  teacherOut.dispose();
  const lossValue = (value.dataSync() as Float32Array)[0] as number;
  value.dispose();
  const byName: Record<string, Tensor | null | undefined> = gradsByParamName(named, grads);
  if (!Number.isFinite(lossValue)) {
    tf.dispose(Object.values(grads));
    throw new Error(`Loss is ${lossValue}, stopping training (the last checkpoint is kept)`);
  }
  if (config.optimization.clip_grad > 0) clipGradients(byName, config.optimization.clip_grad);
  cancelGradientsLastLayer(epoch, byName, config.optimization.freeze_last_layer);
  optimizer.step(byName);
  tf.dispose(Object.values(byName).filter((g): g is Tensor => !!g));
  emaUpdate(nets.student.parameters(), nets.teacher.parameters(), schedules.momentum[it] as number);
  return { loss: lossValue };
}

async function evaluate(
  ctx: RunContext,
  nets: DinoNetworks,
  trainImgs: EvalImages,
  testImgs: EvalImages,
  config: DinoConfig,
  epoch: number,
  step: number,
  baseline: { top1: number; top5: number },
): Promise<KnnEval> {
  const r = await knnEvaluate(nets.teacher.backbone as never, trainImgs, testImgs, config.logging.knn_k, config.logging.knn_temperature);
  ctx.log.write({
    type: 'eval', epoch, step, knn_top1: r.top1, knn_top5: r.top5, k: r.k, baseline_top1: baseline.top1, baseline_top5: baseline.top5,
    train_images: r.trainImages, test_images: r.testImages, seconds: r.seconds,
  });
  return r;
}

export interface DinoRunSummary {
  stopReason: StopReason;
  epochs: number;
  steps: number;
  seconds: number;
  imagesPerSec: number;
  knn: KnnEval | null;
  baseline: { top1: number; top5: number };
  outputDir: string;
}

/** `ssl-train dino`: train, evaluate, report. */
export async function runDino(config: DinoConfig): Promise<DinoRunSummary> {
  const o = config.optimization;
  const ctx = await openRun({
    outputDir: config.logging.output_dir,
    threads: config.runtime.threads,
    backend: config.runtime.backend,
    dataset: config.data.dataset,
    dataPath: config.data.data_path,
    timeBudget: o.time_budget,
  });
  try {
    writeResolvedConfig(ctx.outputDir, config);
    const sets: RunDatasets = await openDatasets(ctx, config.data.dataset, config.data.val_data_path, config.data.train_images);
    const transform = buildTransform(dinoTransformSpec(config.data, sets));
    const loader = new DataLoader({ dataset: sets.train, transform, batchSize: o.batch_size_per_gpu, seed: config.runtime.seed });
    const ipe = loader.length(0);
    if (ipe === 0) {
      throw new Error(`${sets.train.length} training images give no full batch of ${o.batch_size_per_gpu}; lower --batch-size-per-gpu`);
    }
    const nets = buildDinoNetworks(config, sets.channels);
    const loss = new DINOLoss({
      outDim: config.model.out_dim,
      nCrops: 2 + config.data.local_crops_number,
      warmupTeacherTemp: config.loss.warmup_teacher_temp,
      teacherTemp: config.loss.teacher_temp,
      warmupTeacherTempEpochs: config.loss.warmup_teacher_temp_epochs,
      nEpochs: o.epochs,
      studentTemp: config.loss.student_temp,
      centerMomentum: config.loss.center_momentum,
    });
    const optimizer = makeOptimizer(config, nets.student);
    const schedules = dinoSchedules(config, ipe);
    const total = o.epochs * ipe;
    ctx.facts.set('model', `${config.model.arch} (${nets.embedDim}-d features), head out_dim ${config.model.out_dim}`);
    ctx.facts.set('training images', `${sets.train.length}, ${ipe} steps of ${o.batch_size_per_gpu} per epoch, ${o.epochs} epochs`);

    // Evaluation data and the raw-pixel baseline: once, on the same images the model trains on.
    const knnTrainN = config.logging.knn_train_images > 0 ? Math.min(config.logging.knn_train_images, sets.train.length) : sets.train.length;
    const trainImgs = await loadEvalImages(sets.train, config.data.global_crops_size, sets, knnTrainN);
    const testImgs = await loadEvalImages(sets.test, config.data.global_crops_size, sets);
    const baseline = knnClassifier(
      pixelFeatures(trainImgs), trainImgs.labels, pixelFeatures(testImgs), testImgs.labels,
      { k: config.logging.knn_k, T: config.logging.knn_temperature, numClasses: sets.numClasses },
    );
    ctx.print(`pixels k-NN baseline (${trainImgs.count} train, ${testImgs.count} test): top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}%`);

    const progress = new Progress({ total, mode: config.logging.progress, every: config.logging.log_every });
    const startEpoch = 0;
    let step = startEpoch * ipe;
    let lastKnn: KnnEval | null = null;
    const t0 = performance.now();
    let images = 0;
    let stopReason: StopReason = 'finished';
    let epoch = startEpoch;
    for (; epoch < o.epochs; epoch++) {
      let lossSum = 0;
      let n = 0;
      let tWindow = performance.now();
      let imgWindow = 0;
      for await (const batch of loader.epoch(epoch)) {
        const views = batch.views.map((v) => tf.tensor4d(v.data, v.shape));
        const r = dinoStep(nets, loss, optimizer, views, epoch, step, schedules, config);
        tf.dispose(views);
        const bs = batch.labels.length;
        images += bs;
        imgWindow += bs;
        lossSum += r.loss;
        n++;
        step++;
        const now = performance.now();
        const ips = (imgWindow * 1000) / Math.max(1, now - tWindow);
        const it = step - 1;
        progress.update({ step, epoch, loss: r.loss, lr: schedules.lr[it] as number, imagesPerSec: ips });
        if (step % config.logging.log_every === 0 || n === ipe) {
          ctx.log.write({
            type: 'step', epoch, step, loss: r.loss, lr: schedules.lr[it], wd: schedules.wd[it],
            teacher_temp: loss.teacherTemp(epoch), momentum: schedules.momentum[it], images_per_sec: ips, ...memoryFacts(),
          });
          tWindow = now;
          imgWindow = 0;
        }
        if (ctx.stop.check()) break;
      }
      ctx.log.write({ type: 'epoch', epoch, train_loss: lossSum / Math.max(1, n), train_lr: schedules.lr[step - 1], train_wd: schedules.wd[step - 1] });
      if (ctx.stop.check()) {
        stopReason = ctx.stop.reason as StopReason;
        progress.log(`stopping (${stopReason}) at epoch ${epoch}, step ${step}`);
        epoch++;
        break;
      }
      const ef = config.logging.eval_freq;
      if (ef > 0 && (epoch + 1) % ef === 0 && epoch + 1 < o.epochs) {
        lastKnn = await evaluate(ctx, nets, trainImgs, testImgs, config, epoch + 1, step, baseline);
        progress.log(`epoch ${epoch + 1}: k-NN top-1 ${lastKnn.top1.toFixed(2)}%, top-5 ${lastKnn.top5.toFixed(2)}%`);
      }
    }
    progress.done();
    const seconds = (performance.now() - t0) / 1000;
    const ips = images / Math.max(1e-9, seconds);
    lastKnn = await evaluate(ctx, nets, trainImgs, testImgs, config, epoch, step, baseline);
    if (config.model.arch.startsWith('vit') && config.logging.attention_images > 0) {
      await writeAttentionMaps(nets.teacher.backbone as never, testImgs, config.model.patch_size, join(ctx.outputDir, 'attention'), config.logging.attention_images);
    }
    ctx.facts.set('training', `${step} steps, ${formatDuration(seconds)}, ${ips.toFixed(1)} images/s (stopped: ${stopReason})`);
    ctx.facts.set('k-NN', `top-1 ${lastKnn.top1.toFixed(2)}%, top-5 ${lastKnn.top5.toFixed(2)}% (k=${lastKnn.k}, ${lastKnn.trainImages} train / ${lastKnn.testImages} test images)`);
    ctx.facts.set('pixels k-NN', `top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}% (same code, same images)`);
    const report = finishReport(ctx);
    console.log(`k-NN (k=${lastKnn.k}) on ${lastKnn.testImages} test images: top-1 ${lastKnn.top1.toFixed(2)}%, top-5 ${lastKnn.top5.toFixed(2)}%`);
    console.log(`pixels k-NN, same code and images:      top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}%`);
    console.log(`training: ${step} steps in ${formatDuration(seconds)} (${ips.toFixed(1)} images/s); report: ${report}`);
    return { stopReason, epochs: epoch, steps: step, seconds, imagesPerSec: ips, knn: lastKnn, baseline, outputDir: ctx.outputDir };
  } finally {
    ctx.stop.dispose();
  }
}
