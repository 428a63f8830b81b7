import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTransform } from '@ssl/augment';
import { DataLoader } from '@ssl/data';
import { trainDino } from '@ssl/engine';
import type { DinoConfig as EngineDinoConfig, DinoStepEvent } from '@ssl/engine';
import { knnClassifier } from '@ssl/eval';
import { DINOHead, MultiCropWrapper, createModel, listModels } from '@ssl/models';
import type { Backbone } from '@ssl/models';
import { pixelFeatures } from '../commands/knn.js';
import { writeResolvedConfig } from '../config/load.js';
import type { DinoConfig } from '../config/dino.js';
import { knnEvaluate, writeAttentionMaps } from './evaluate.js';
import type { EvalImages, KnnEval } from './evaluate.js';
import {
  Progress,
  Throughput,
  checkpointPosition,
  evaluateEveryEpochs,
  announceStop,
  dinoTransformSpec,
  finishReport,
  formatDuration,
  loadEvalImages,
  memoryFacts,
  openDatasets,
  openRun,
} from './run.js';
import type { RunContext, RunDatasets, StopReason } from './run.js';

export interface DinoNetworks {
  student: MultiCropWrapper;
  teacher: MultiCropWrapper;
  embedDim: number;
}

/** Student and teacher as main_dino.py: same arch, the teacher without stochastic depth (trainDino copies the student into it). */
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
  return { student, teacher, embedDim };
}

/** Our grouped config as the engine's main_dino.py arguments. */
export function engineDinoConfig(config: DinoConfig, outputDir: string): EngineDinoConfig {
  const { model: m, loss: l, optimization: o, data: d } = config;
  return {
    outDim: m.out_dim,
    localCropsNumber: d.local_crops_number,
    warmupTeacherTemp: l.warmup_teacher_temp,
    teacherTemp: l.teacher_temp,
    warmupTeacherTempEpochs: l.warmup_teacher_temp_epochs,
    momentumTeacher: o.momentum_teacher,
    weightDecay: o.weight_decay,
    weightDecayEnd: o.weight_decay_end,
    clipGrad: o.clip_grad,
    batchSizePerGpu: o.batch_size_per_gpu,
    epochs: o.epochs,
    freezeLastLayer: o.freeze_last_layer,
    lr: o.lr,
    warmupEpochs: o.warmup_epochs,
    minLr: o.min_lr,
    optimizer: o.optimizer,
    saveckpFreq: config.logging.saveckp_freq,
    outputDir,
    seed: config.runtime.seed,
  };
}

/**
 * A run directory holds one model: refuse to resume a checkpoint made with another architecture
 * (its config.json says which), naming both.
 */
export function checkResumable(outputDir: string, config: DinoConfig): void {
  const prev = join(outputDir, 'config.json');
  if (!existsSync(join(outputDir, 'checkpoint')) || !existsSync(prev)) return;
  const old = JSON.parse(readFileSync(prev, 'utf8')) as { model?: Record<string, unknown> };
  const keys = ['arch', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'out_dim', 'hidden_dim', 'bottleneck_dim', 'head_nlayers', 'use_bn_in_head'] as const;
  const diff = keys.filter((k) => old.model?.[k] !== undefined && JSON.stringify(old.model[k]) !== JSON.stringify(config.model[k]));
  if (diff.length) {
    const fmt = (m: Record<string, unknown> | undefined) => diff.map((k) => `${k}=${JSON.stringify(m?.[k])}`).join(', ');
    throw new Error(
      `${outputDir}/checkpoint is from another architecture (${fmt(old.model)}) than this run (${fmt(config.model as unknown as Record<string, unknown>)}); ` +
        'use another --output-dir, or --no-resume to start over there',
    );
  }
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
  /** For the CLI: 0, or 130 / 143 when Ctrl-C / SIGTERM stopped the run. */
  exitCode: number;
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
    const sets: RunDatasets = await openDatasets(ctx, config.data.dataset, config.data.val_data_path, config.data.train_images);
    const transform = buildTransform(dinoTransformSpec(config.data, sets));
    const loader = new DataLoader({ dataset: sets.train, transform, batchSize: o.batch_size_per_gpu, seed: config.runtime.seed });
    const ipe = loader.length(0);
    if (ipe === 0) {
      throw new Error(`${sets.train.length} training images give no full batch of ${o.batch_size_per_gpu}; lower --batch-size-per-gpu`);
    }
    if (config.runtime.resume) checkResumable(ctx.outputDir, config);
    writeResolvedConfig(ctx.outputDir, config);
    const nets = buildDinoNetworks(config, sets.channels);
    const engineConfig = engineDinoConfig(config, ctx.outputDir);
    const total = o.epochs * ipe;
    ctx.facts.set('model', `${config.model.arch} (${nets.embedDim}-d features), head out_dim ${config.model.out_dim}`);
    ctx.facts.set('training images', `${sets.train.length}, ${ipe} steps of ${o.batch_size_per_gpu} per epoch, ${o.epochs} epochs`);

    // Evaluation data and the pixel baseline: once, on the same images the model trains on.
    const knnTrainN = config.logging.knn_train_images > 0 ? Math.min(config.logging.knn_train_images, sets.train.length) : sets.train.length;
    const trainImgs = await loadEvalImages(sets.train, config.data.global_crops_size, sets, knnTrainN);
    const testImgs = await loadEvalImages(sets.test, config.data.global_crops_size, sets);
    const baseline = knnClassifier(
      pixelFeatures(trainImgs), trainImgs.labels, pixelFeatures(testImgs), testImgs.labels,
      { k: config.logging.knn_k, T: config.logging.knn_temperature, numClasses: sets.numClasses },
    );
    ctx.print(`pixels k-NN baseline (${trainImgs.count} train, ${testImgs.count} test): top-1 ${baseline.top1.toFixed(2)}%, top-5 ${baseline.top5.toFixed(2)}%`);

    if (ctx.stop.reason === 'interrupted') {
      ctx.print('interrupted before training started: nothing to save');
      return { stopReason: 'interrupted', epochs: 0, steps: 0, seconds: 0, imagesPerSec: 0, knn: null, baseline, outputDir: ctx.outputDir, exitCode: ctx.stop.exitCode };
    }
    // The engine says "resumed from ..." when it loads a checkpoint; log.jsonl records it too.
    const start = config.runtime.resume ? await checkpointPosition(ctx.outputDir) : null;
    if (start) ctx.log.write({ type: 'resume', checkpoint: start.dir, epoch: start.epoch, iteration: start.iteration, step: start.step });
    const progress = new Progress({ total, start: start?.step ?? 0, mode: config.logging.progress, every: config.logging.log_every });
    let step = start?.step ?? 0;
    const meter = new Throughput(o.batch_size_per_gpu);
    const onStep = (e: DinoStepEvent) => {
      step = e.step + 1;
      const windowIps = meter.step();
      progress.update({ step, epoch: e.epoch, loss: e.loss, lr: e.lr, imagesPerSec: windowIps });
      if (step % config.logging.log_every === 0 || e.iteration === ipe - 1) {
        ctx.log.write({
          type: 'step', epoch: e.epoch, step, loss: e.loss, lr: e.lr, wd: e.wd, teacher_temp: e.teacherTemp, momentum: e.momentum,
          images_per_sec: windowIps, step_seconds: e.seconds, ...memoryFacts(),
        });
        meter.newWindow();
      }
    };
    // One engine call for the whole run: Ctrl-C, SIGTERM and the time budget stop it after a step
    // (with a checkpoint there), evaluations run between epochs.
    const r = await trainDino({
      student: nets.student,
      teacher: nets.teacher,
      loader,
      config: engineConfig,
      resume: config.runtime.resume,
      logEvery: 0,
      onStep,
      onEpoch: (s) => ctx.log.write({ type: 'epoch', ...s }),
      onEpochEnd: evaluateEveryEpochs(
        config.logging.eval_freq,
        (epoch, atStep) => evaluate(ctx, nets, trainImgs, testImgs, config, epoch, atStep, baseline),
        (line) => progress.log(line),
      ),
      shouldStop: () => ctx.stop.check(),
      checkpointEveryMinutes: config.logging.checkpoint_minutes,
      log: (line) => progress.log(line),
    });
    r.dinoLoss.dispose();
    step = r.step;
    const epoch = r.endEpoch;
    const { stopReason, where } = announceStop(ctx, r, ipe, o.time_budget, (line) => progress.log(line));
    progress.done();
    const seconds = meter.seconds;
    const ips = meter.overall;
    if (stopReason === 'interrupted') {
      ctx.facts.set('training', `interrupted at ${where}; ${formatDuration(seconds)}, ${ips.toFixed(1)} images/s`);
      finishReport(ctx);
      return { stopReason, epochs: epoch, steps: step, seconds, imagesPerSec: ips, knn: null, baseline, outputDir: ctx.outputDir, exitCode: ctx.stop.exitCode };
    }
    const lastKnn = await evaluate(ctx, nets, trainImgs, testImgs, config, epoch, step, baseline);
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
    return { stopReason, epochs: epoch, steps: step, seconds, imagesPerSec: ips, knn: lastKnn, baseline, outputDir: ctx.outputDir, exitCode: 0 };
  } finally {
    ctx.stop.dispose();
  }
}
