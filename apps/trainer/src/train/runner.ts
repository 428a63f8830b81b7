import { multiCropDecodeSide } from '@ssl/augment';
import type { MultiCropSpec } from '@ssl/augment';
import type { DataLoader } from '@ssl/data';
import type { TrainLoopOptions, TrainLoopResult } from '@ssl/engine';
import { knnClassifier, pickImages, pixelFeatures } from '@ssl/eval';
import type { EvalImages, KnnEval, Matrix } from '@ssl/eval';
import { resolvePrecision } from '@ssl/tensor';
import type { Precision } from '@ssl/tensor';
import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';
import { writeResolvedConfig } from '../config/load.js';
import { BudgetPlanner, planEpochs, readBudgetPlan, writeBudgetPlan } from './budget.js';
import type { BudgetPlan } from './budget.js';
import {
  Progress,
  Throughput,
  announceStop,
  checkpointPosition,
  dinoTransformSpec,
  evaluateEveryEpochs,
  finishReport,
  formatDuration,
  memoryFacts,
  NO_LABELS,
  openDatasets,
  openRun,
} from './run.js';
import { writeFeatureMapFile } from '../report/feature-map.js';
import type { FolderOptions } from './run.js';
import type { SkippedFiles } from './skips.js';
import type { RunContext, RunDatasets, StopReason } from './run.js';

export type TrainConfig = DinoConfig | PawsConfig;

/** One evaluation of the model being trained: k-NN, and PAWS's soft-NN of the encoder output. */
export interface Evaluation {
  knn: KnnEval;
  /** Soft nearest neighbours of the encoder output, the labelled images as support (official snn_eval, T 0.1). */
  snn?: { top1: number; top5: number };
}

/** What a step event of either engine loop has in common. */
export interface StepEventBase {
  epoch: number;
  iteration: number;
  step: number;
  loss: number;
  lr: number;
}

/** A method prepared for one run: its data stream, networks, evaluation images and engine call. */
export interface PreparedRun<S extends StepEventBase> {
  loader: DataLoader;
  /** Training images per step (the unlabelled batch for PAWS), for images/s. */
  imagesPerStep: number;
  /** Continue from `<output_dir>/checkpoint` when it exists. */
  resume: boolean;
  /** Labelled images of a semi-supervised run (PAWS). */
  labelled?: number;
  /** k-NN memory and queries (the pixel baseline uses the same images); without labels, `test` is null and `memory` serves the pictures. */
  memory: EvalImages;
  test: EvalImages | null;
  /** Method-specific numbers of a step for log.jsonl (beside epoch, step, loss, lr). */
  stepRecord(e: S): Record<string, unknown>;
  /** Evaluate the model as it is now. */
  evaluate(): Promise<Evaluation>;
  /** The engine loop, with the runner's hooks (resume, stop, evaluations between epochs). */
  train(options: TrainLoopOptions<S, object>): Promise<TrainLoopResult<unknown>>;
  /** After the final evaluation (DINO: attention maps). */
  finish?(): Promise<void>;
  /** Final features of evaluation images for the report's feature-space map (L2-normalised rows). */
  mapFeatures?(images: EvalImages): Promise<Matrix>;
}

/** Evaluation images of a run: k-NN memory and queries, and where BatchNorm statistics are re-estimated (PAWS). */
export interface EvalSet {
  memory: EvalImages;
  test: EvalImages | null;
  batchNormImages?: EvalImages;
}

/** DINO or PAWS: how to build the networks and data of a run, which engine loop, how to evaluate. */
export interface TrainMethod<C extends TrainConfig, S extends StepEventBase> {
  /** What one training image is, in the throughput line: `images`, `unlabelled images`. */
  imagesName: string;
  /** Evaluation images (center view); `memoryImages` / `testImages` > 0 override how many. */
  evalImages(config: C, sets: RunDatasets, options?: { memoryImages?: number; testImages?: number; skips?: SkippedFiles }): Promise<EvalSet>;
  /** Check the config against the data and the run directory, build everything; `facts` go into the report. */
  prepare(ctx: RunContext, config: C, sets: RunDatasets): Promise<PreparedRun<S>>;
  /** The fewest epochs a schedule of `config` can have under a time budget: its warm-ups (lr, teacher temperature, frozen last layer) and one more. */
  minEpochs(config: C): number;
  /** The pixel-baseline line, e.g. `(1000 train, 500 test)`. */
  baselineWhat(run: PreparedRun<S>): string;
}

export interface RunSummary {
  stopReason: StopReason;
  /** The epoch the run ended at (the next one to run). */
  epochs: number;
  steps: number;
  seconds: number;
  imagesPerSec: number;
  knn: KnnEval | null;
  snn: { top1: number; top5: number } | null;
  /** Labelled images of a semi-supervised run (PAWS). */
  labelled?: number;
  /** Raw-pixel k-NN on the same images; null without labels. */
  baseline: { top1: number; top5: number } | null;
  outputDir: string;
  /** For the CLI: 0, or 130 / 143 when Ctrl-C / SIGTERM stopped the run. */
  exitCode: number;
}

/** How the run reads a folder dataset: labels, held-out split, and DINO's opt-in fast decode. */
export function folderOptions(config: TrainConfig): FolderOptions {
  const d = config.data;
  const options: FolderOptions = { labels: d.folder_labels, valSplit: d.val_split, seed: config.runtime.seed };
  if ('fast_decode' in d && d.fast_decode) {
    options.minDecodedSide = multiCropDecodeSide(dinoTransformSpec(d, { channels: 3, mean: [0, 0, 0], std: [1, 1, 1] }) as MultiCropSpec);
  }
  return options;
}

const pct = (r: { top1: number; top5: number }): string => `top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}%`;

/**
 * `--precision` once the backend is up: auto follows the official `use_fp16` (default true) and
 * runs bf16 where the CPU does; bf16 or fp16 (webgpu) that cannot run falls back to float32, saying why.
 */
export function choosePrecision(config: TrainConfig): { precision: Precision; reason: string } {
  const useFp16 = 'meta' in config ? config.meta.use_fp16 : config.optimization.use_fp16;
  const requested = config.runtime.precision;
  if (requested === 'fp32') return { precision: 'fp32', reason: '--precision fp32' };
  if (requested === 'auto' && !useFp16) return { precision: 'fp32', reason: '--use_fp16 false' };
  return resolvePrecision(requested === 'auto' ? undefined : requested);
}

/**
 * `ssl-train dino|paws`: open the run, the data and the pixel baseline, train with one engine call
 * (Ctrl-C, SIGTERM and the time budget stop it after a step with a checkpoint there; evaluations
 * run between epochs), evaluate at the end and write the report.
 */
/** `config` with its schedules over `epochs`. */
function withEpochs<C extends TrainConfig>(config: C, epochs: number): C {
  return { ...config, optimization: { ...config.optimization, epochs } };
}

function budgetFact(plan: BudgetPlan, ipe: number): string {
  return (
    `${plan.epochs} epochs (${plan.epochs * ipe} steps${plan.epochs < plan.configuredEpochs ? `, of the configured ${plan.configuredEpochs}` : ''}), ` +
    `planned for the ${plan.budgetMinutes}-min budget at ${(1 / plan.secondsPerStep).toFixed(2)} steps/s measured over the first ${plan.decidedAtStep} steps`
  );
}

export async function runTraining<C extends TrainConfig, S extends StepEventBase>(config: C, method: TrainMethod<C, S>): Promise<RunSummary> {
  const { logging } = config;
  const o = config.optimization;
  const ctx = await openRun({
    outputDir: logging.output_dir,
    threads: config.runtime.threads,
    backend: config.runtime.backend,
    dataset: config.data.dataset,
    dataPath: config.data.data_path,
    timeBudget: o.time_budget,
  });
  try {
    const precision = choosePrecision(config);
    config.runtime.precision = precision.precision; // the resolved config records what ran
    ctx.print(`precision ${precision.precision} (${precision.reason})`);
    ctx.facts.set('precision', `${precision.precision} (${precision.reason})`);
    ctx.log.write({ type: 'precision', precision: precision.precision, reason: precision.reason });
    const sets = await openDatasets(ctx, config.data.dataset, config.data.val_data_path, config.data.train_images, folderOptions(config));
    // A resumed budget run keeps the schedule it planned (budget.json beside the checkpoint).
    const resuming = (config.runtime.resume || (config.method === 'paws' && config.meta.load_checkpoint)) && (await checkpointPosition(ctx.outputDir)) !== null;
    let plan: BudgetPlan | null = o.time_budget > 0 && resuming ? readBudgetPlan(ctx.outputDir) : null;
    if (plan) config = withEpochs(config, plan.epochs);
    const run = await method.prepare(ctx, config, sets);
    const ipe = run.loader.length(0);
    const { memory, test } = run;
    const baseline = test
      ? await knnClassifier(pixelFeatures(memory), memory.labels, pixelFeatures(test), test.labels, {
          k: logging.knn_k,
          T: logging.knn_temperature,
          numClasses: sets.numClasses,
        })
      : null;
    if (baseline) ctx.print(`pixels k-NN baseline ${method.baselineWhat(run)}: ${pct(baseline)}`);
    else {
      ctx.print(NO_LABELS);
      ctx.log.write({ type: 'no-knn', reason: NO_LABELS });
      ctx.facts.set('k-NN', `skipped: ${NO_LABELS}`);
    }
    const summary = (s: Partial<RunSummary> & Pick<RunSummary, 'stopReason' | 'exitCode'>): RunSummary => ({
      epochs: 0, steps: 0, seconds: 0, imagesPerSec: 0, knn: null, snn: null, baseline, outputDir: ctx.outputDir,
      ...(run.labelled !== undefined ? { labelled: run.labelled } : {}), ...s,
    });
    if (ctx.stop.reason === 'interrupted') {
      ctx.print('interrupted before training started: nothing to save');
      return summary({ stopReason: 'interrupted', exitCode: ctx.stop.exitCode });
    }

    // The engine says "resumed from ..." when it loads a checkpoint; log.jsonl records it too.
    const start = run.resume ? await checkpointPosition(ctx.outputDir) : null;
    if (start) ctx.log.write({ type: 'resume', checkpoint: start.dir, epoch: start.epoch, iteration: start.iteration, step: start.step });
    const progress = new Progress({
      total: config.optimization.epochs * ipe, start: start?.step ?? 0, mode: logging.progress, every: logging.log_every,
      secondsLeft: () => ctx.stop.secondsLeft(),
    });
    const meter = new Throughput(run.imagesPerStep);
    const say = (line: string) => progress.log(line);
    const evaluate = async (epoch: number, step: number): Promise<Evaluation> => {
      const r = await run.evaluate();
      const { knn, snn } = r;
      ctx.log.write({
        type: 'eval', epoch, step, knn_top1: knn.top1, knn_top5: knn.top5, k: knn.k,
        ...(baseline ? { baseline_top1: baseline.top1, baseline_top5: baseline.top5 } : {}),
        ...(snn ? { snn_top1: snn.top1, snn_top5: snn.top5 } : {}),
        train_images: knn.trainImages, test_images: knn.testImages, seconds: knn.seconds,
      });
      return r;
    };
    // With a time budget: measure the pace over the first steps (at most the warm-up epoch), then lay
    // every schedule out over the epochs that fit, so the run ends its schedule inside the budget.
    const planner = o.time_budget > 0 && !plan ? new BudgetPlanner({ minSteps: 10, minSeconds: o.time_budget * 60 * 0.05 }) : null;
    const replan = (at: { epoch: number; iteration: number; step: number; lastOfEpoch: boolean }): number | null => {
      const secondsPerStep = planner?.step(at.lastOfEpoch) ?? null;
      if (secondsPerStep === null) return null;
      const configured = config.optimization.epochs;
      const minEpochs = Math.max(method.minEpochs(config), at.epoch + 1);
      const { epochs, fits } = planEpochs({ secondsLeft: ctx.stop.secondsLeft(), secondsPerStep, stepsDone: at.step, ipe, maxEpochs: configured, minEpochs });
      plan = { epochs, configuredEpochs: configured, secondsPerStep, decidedAtStep: at.step, budgetMinutes: o.time_budget };
      config = withEpochs(config, epochs);
      writeBudgetPlan(ctx.outputDir, plan);
      writeResolvedConfig(ctx.outputDir, config);
      ctx.log.write({ type: 'budget', epochs, configured_epochs: configured, seconds_per_step: secondsPerStep, step: at.step, budget_minutes: o.time_budget });
      progress.setTotal(epochs * ipe);
      say(
        `time budget ${o.time_budget} min: ${(1 / secondsPerStep).toFixed(2)} steps/s over the first steps, so the schedules span ${epochs} epochs` +
          (epochs < configured ? ` (of the configured ${configured})` : ' (as configured: they fit)') +
          (fits ? '' : `; even ${epochs} epochs do not fit: the budget will cut the schedule (raise --time-budget or lower --train-images)`),
      );
      return epochs < configured ? epochs : null;
    };
    const r = await run.train({
      ...(planner ? { replan } : {}),
      resume: run.resume,
      logEvery: 0,
      onStep: (e) => {
        const step = e.step + 1;
        const windowIps = meter.step();
        progress.update({ step, epoch: e.epoch, loss: e.loss, lr: e.lr, imagesPerSec: windowIps });
        if (step % logging.log_every === 0 || e.iteration === ipe - 1) {
          ctx.log.write({ type: 'step', epoch: e.epoch, step, loss: e.loss, lr: e.lr, ...run.stepRecord(e), images_per_sec: windowIps, ...memoryFacts() });
          meter.newWindow();
        }
      },
      onEpoch: (s) => ctx.log.write({ type: 'epoch', ...s }),
      onEpochEnd: evaluateEveryEpochs(test ? logging.eval_freq : 0, async (epoch, step) => (await evaluate(epoch, step)).knn, say),
      shouldStop: () => ctx.stop.check(),
      checkpointEveryMinutes: logging.checkpoint_minutes,
      log: say,
    });
    const { stopReason, where } = announceStop(ctx, r, ipe, o.time_budget, say);
    progress.done();
    const [seconds, ips] = [meter.seconds, meter.overall];
    const done = { stopReason, epochs: r.endEpoch, steps: r.step, seconds, imagesPerSec: ips };
    const throughput = `${formatDuration(seconds)}, ${ips.toFixed(1)} ${method.imagesName}/s`;
    if (stopReason === 'interrupted') {
      ctx.facts.set('training', `interrupted at ${where}; ${throughput}`);
      if (plan) ctx.facts.set('schedule', budgetFact(plan, ipe));
      finishReport(ctx);
      return summary({ ...done, exitCode: ctx.stop.exitCode });
    }
    const { knn, snn } = baseline ? await evaluate(r.endEpoch, r.step) : { knn: null, snn: undefined };
    await run.finish?.();
    const mapImages = test ?? memory;
    if (run.mapFeatures && logging.feature_map_images > 0 && mapImages.count > 0) {
      const n = Math.min(logging.feature_map_images, mapImages.count);
      const shown = pickImages(mapImages, Array.from({ length: n }, (_, i) => i));
      writeFeatureMapFile(ctx.outputDir, await run.mapFeatures(shown), shown.labels, (sets.test ?? sets.train).classes, config.runtime.seed);
    }
    ctx.facts.set('training', `${r.step} steps, ${throughput} (stopped: ${stopReason})`);
    if (plan) ctx.facts.set('schedule', budgetFact(plan, ipe));
    if (knn && baseline) {
      ctx.facts.set('k-NN', `${pct(knn)} (k=${knn.k}, ${knn.trainImages} train / ${knn.testImages} test images; labels: ${sets.labels})`);
      if (snn) ctx.facts.set('soft-NN of the encoder output (official PAWS eval)', pct(snn));
      ctx.facts.set('pixels k-NN', `${pct(baseline)} (same code, same images)`);
    }
    const report = finishReport(ctx);
    if (knn && baseline) {
      console.log(`k-NN (k=${knn.k}) with ${knn.trainImages} images as memory, on ${knn.testImages} test images: ${pct(knn)}`);
      if (snn) console.log(`soft-NN (T=0.1) of the encoder output, same memory: ${pct(snn)}`);
      console.log(`pixels k-NN, same code and images: ${pct(baseline)}`);
    } else console.log('no labels: no k-NN evaluation (see the report for what needs no labels)');
    const skipped = ctx.skips.summary();
    if (skipped) console.log(skipped);
    console.log(`training: ${r.step} steps in ${throughput}; report: ${report}`);
    return summary({ ...done, knn, snn: snn ?? null, exitCode: 0 });
  } finally {
    ctx.stop.dispose();
  }
}
