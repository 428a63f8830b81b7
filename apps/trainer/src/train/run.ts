import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DINO_FASHION_MNIST, buildTransform, dinoSpec } from '@ssl/augment';
import type { TransformSpec } from '@ssl/augment';
import { FashionMNIST, ImageFolder, Subset, loadBatch } from '@ssl/data';
import type { Dataset } from '@ssl/data';
import { STATE_FILE, resolveCheckpoint } from '@ssl/engine';
import { formatBackendReport, initBackend, tf } from '@ssl/tensor';
import type { BackendInfo } from '@ssl/tensor';
import { resolveDataLocation } from '../data.js';
import type { DataLocation } from '../data.js';
import { Progress, formatDuration } from '../progress.js';
import { writeReport } from '../report/html.js';
import type { EvalImages } from '@ssl/eval';

/** Why a run stopped before its last epoch, if it did. */
export type StopReason = 'finished' | 'interrupted' | 'time budget';

const SIGNAL_NAMES = { SIGINT: 'Ctrl-C', SIGTERM: 'SIGTERM' } as const;
/** Exit status of a run stopped by a signal: 128 + its number, as shells report it. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C (SIGINT), SIGTERM and the time budget, as the engine's `shouldStop`: the first signal asks
 * the training loop to stop after the current step with a checkpoint there; a second one exits at once.
 */
export class StopSignal {
  reason: StopReason | null = null;
  /** The signal that interrupted the run, if one did. */
  signal: keyof typeof SIGNAL_NAMES | null = null;
  private readonly deadline: number;
  private readonly handlers: [NodeJS.Signals, () => void][];
  private interrupts = 0;

  constructor(budgetMinutes: number, log: (s: string) => void, now: () => number = Date.now) {
    this.deadline = budgetMinutes > 0 ? now() + budgetMinutes * 60_000 : Infinity;
    this.now = now;
    this.handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => {
      const handler = () => {
        this.interrupts++;
        const name = SIGNAL_NAMES[sig];
        if (this.interrupts > 1) {
          log(`${name} again: exiting at once; the last checkpoint written stays`);
          process.exit(SIGNAL_EXIT_CODES[this.signal ?? sig]);
        }
        this.reason = 'interrupted';
        this.signal = sig;
        log(`${name}: stopping after the current step and saving a checkpoint there (${name} again quits at once)`);
      };
      process.on(sig, handler);
      return [sig, handler];
    });
  }

  private readonly now: () => number;

  /** True when training should stop now (sets `reason`). */
  check(): boolean {
    if (this.reason) return true;
    if (this.now() >= this.deadline) this.reason = 'time budget';
    return this.reason !== null;
  }

  /** The exit status for this run: 130 after Ctrl-C, 143 after SIGTERM, else 0. */
  get exitCode(): number {
    return this.reason === 'interrupted' && this.signal ? SIGNAL_EXIT_CODES[this.signal] : 0;
  }

  dispose(): void {
    for (const [sig, handler] of this.handlers) process.off(sig, handler);
  }
}

/** Where a run stopped, for messages: `step 6 (epoch 1, batch 2 of 4)`. */
export function describePosition(r: { step: number; endEpoch: number; endIteration: number }, ipe: number): string {
  return r.endIteration > 0 ? `step ${r.step} (epoch ${r.endEpoch}, batch ${r.endIteration} of ${ipe})` : `step ${r.step} (end of epoch ${r.endEpoch - 1})`;
}

/**
 * Why an engine run ended, and the line telling the user where its checkpoint is and how to
 * continue (after Ctrl-C/SIGTERM or the time budget); `where` describes the position for the report.
 */
export function announceStop(
  ctx: RunContext,
  r: { stopped: unknown; step: number; endEpoch: number; endIteration: number; lastCheckpoint?: string | null },
  ipe: number,
  timeBudget: number,
  log: (line: string) => void,
): { stopReason: StopReason; where: string } {
  const stopReason: StopReason = r.stopped ? (ctx.stop.reason ?? 'interrupted') : 'finished';
  const where = describePosition(r, ipe);
  const ckpt = r.lastCheckpoint ?? join(ctx.outputDir, 'checkpoint');
  if (stopReason === 'interrupted') {
    log(
      `interrupted by ${ctx.stop.signal === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'} at ${where}: checkpoint saved in ${ckpt}. ` +
        'To continue from there, rerun the same command (--resume, the default; --no-resume starts over).',
    );
  } else if (stopReason === 'time budget') {
    log(
      `time budget of ${timeBudget} min reached at ${where}: checkpoint saved in ${ckpt} (rerun with a larger --time-budget to continue); ` +
        'evaluating the model as it is now',
    );
  }
  return { stopReason, where };
}

/** Epoch, batch and step of the checkpoint a run in `outputDir` resumes from (null when none); reads only its state.json. */
export async function checkpointPosition(outputDir: string): Promise<{ dir: string; epoch: number; iteration: number; step: number } | null> {
  const found = await resolveCheckpoint(join(outputDir, 'checkpoint'));
  if (!found) return null;
  const state = JSON.parse(readFileSync(join(found, STATE_FILE), 'utf8')) as { epoch: number; iteration?: number; step: number };
  return { dir: found, epoch: state.epoch, iteration: state.iteration ?? 0, step: state.step };
}

/** Appends JSON lines to output_dir/log.jsonl (one write per record, so a kill leaves whole lines). */
export class JsonlLog {
  readonly path: string;
  constructor(dir: string) {
    this.path = join(dir, 'log.jsonl');
  }
  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}

export interface RunContext {
  outputDir: string;
  backend: BackendInfo;
  data: DataLocation;
  log: JsonlLog;
  print: (s: string) => void;
  stop: StopSignal;
  /** Facts for report.html (persisted in run.json so `ssl-train report` can rebuild it). */
  facts: Map<string, string>;
}

export async function openRun(options: {
  outputDir: string;
  threads: number | null;
  backend: BackendInfo['name'] | null;
  dataset: 'fashion-mnist' | 'folder';
  dataPath: string | null;
  timeBudget: number;
}): Promise<RunContext> {
  // Check the data before anything slow, so a wrong path fails at once.
  const data = resolveDataLocation(options.dataset, options.dataPath);
  const outputDir = resolve(options.outputDir);
  mkdirSync(outputDir, { recursive: true });
  const print = (s: string) => process.stderr.write(`${s}\n`);
  const backend = await initBackend({
    ...(options.threads !== null ? { threads: options.threads } : {}),
    ...(options.backend !== null ? { backend: options.backend } : {}),
  });
  print(formatBackendReport(backend).split('\n')[0] as string);
  const facts = new Map<string, string>([
    ['backend', `${backend.name} (${backend.threads} threads): ${backend.reason}`],
    ['data', `${data.dir} (${data.origin === 'fixture' ? 'committed 2,000-image subset' : data.origin})`],
    ['output', outputDir],
  ]);
  return { outputDir, backend, data, log: new JsonlLog(outputDir), print, stop: new StopSignal(options.timeBudget, print), facts };
}

/** Rebuild report.html from the run directory with the current facts. */
export function finishReport(ctx: RunContext): string {
  const facts = [...ctx.facts.entries()];
  writeFileSync(join(ctx.outputDir, 'run.json'), `${JSON.stringify({ facts }, null, 2)}\n`);
  return writeReport(ctx.outputDir, { facts });
}

export function readRunFacts(dir: string): [string, string][] | undefined {
  const p = join(dir, 'run.json');
  if (!existsSync(p)) return undefined;
  return (JSON.parse(readFileSync(p, 'utf8')) as { facts: [string, string][] }).facts;
}

/** The first `limit` samples of a dataset (0 = all). */
export function firstN(base: Dataset, limit: number): Dataset {
  if (limit <= 0 || limit >= base.length) return base;
  return new Subset(base, Array.from({ length: limit }, (_, i) => i));
}

export interface RunDatasets {
  train: Dataset;
  test: Dataset;
  channels: 1 | 3;
  mean: number[];
  std: number[];
  numClasses: number;
}

/** Training and evaluation datasets: Fashion-MNIST train/test, or an image folder and its val folder. */
export async function openDatasets(
  ctx: RunContext,
  dataset: 'fashion-mnist' | 'folder',
  valDataPath: string | null,
  trainImages: number,
): Promise<RunDatasets> {
  if (dataset === 'fashion-mnist') {
    const train = await FashionMNIST.load({ root: ctx.data.dir, split: 'train' });
    const test = await FashionMNIST.load({ root: ctx.data.dir, split: 'test' });
    return {
      train: firstN(train, trainImages),
      test,
      channels: 1,
      mean: [...(DINO_FASHION_MNIST.mean ?? [0.286])],
      std: [...(DINO_FASHION_MNIST.std ?? [0.353])],
      numClasses: 10,
    };
  }
  const train = await ImageFolder.create(ctx.data.dir);
  if (train.length === 0) throw new Error(`data_path ${ctx.data.dir}: no images found in its class folders`);
  if (valDataPath === null) throw new Error('--dataset folder needs --val-data-path DIR (labelled images for the k-NN evaluation)');
  const test = await ImageFolder.create(resolve(valDataPath));
  return {
    train: firstN(train, trainImages),
    test,
    channels: 3,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    numClasses: train.classes?.length ?? 0,
  };
}

/** Evaluation images (center view, normalised like training) of the first `limit` samples. */
export async function loadEvalImages(ds: Dataset, size: number, sets: RunDatasets, limit = 0): Promise<EvalImages> {
  const count = limit > 0 ? Math.min(limit, ds.length) : ds.length;
  const transform = buildTransform({
    kind: 'eval',
    size,
    resize: sets.channels === 1 ? size : Math.round((size * 256) / 224),
    channels: sets.channels,
    mean: sets.mean,
    std: sets.std,
  });
  const px = size * size * sets.channels;
  const data = new Float32Array(count * px);
  const labels = new Int32Array(count);
  const chunk = 512;
  let n = 0;
  for (let start = 0; start < count; start += chunk) {
    const idx = Array.from({ length: Math.min(chunk, count - start) }, (_, i) => start + i);
    const r = await loadBatch(ds, transform, 0, 0, idx);
    for (const f of r.failures) throw new Error(`evaluation image ${f.name}: ${f.message}`);
    data.set((r.views[0] as { data: Float32Array }).data, n * px);
    labels.set(r.labels, n);
    n += r.labels.length;
  }
  return { data, count, height: size, width: size, channels: sets.channels, labels };
}

/** DataAugmentationDINO with the configured crops, and blur radii from `blur_radius`. */
export function dinoTransformSpec(
  data: { global_crops_scale: [number, number]; local_crops_scale: [number, number]; local_crops_number: number; global_crops_size: number; local_crops_size: number; blur_radius: [number, number] },
  sets: Pick<RunDatasets, 'channels' | 'mean' | 'std'>,
): TransformSpec {
  const spec = dinoSpec({
    globalCropsScale: data.global_crops_scale,
    localCropsScale: data.local_crops_scale,
    localCropsNumber: data.local_crops_number,
    globalSize: data.global_crops_size,
    localSize: data.local_crops_size,
    channels: sets.channels,
    mean: sets.mean,
    std: sets.std,
  });
  const [radiusMin, radiusMax] = data.blur_radius;
  return {
    kind: 'multicrop',
    ...spec,
    views: spec.views.map((v) => (v.blur ? { ...v, blur: { ...v.blur, radiusMin, radiusMax } } : v)),
  };
}

/** Wall-clock images/s of a run, data loading included: since its start and over the current log window. */
export class Throughput {
  private readonly t0 = performance.now();
  private images = 0;
  private windowStart = this.t0;
  private windowImages = 0;
  /** Images/s since the start, as of the last `step()`. */
  overall = 0;

  constructor(private readonly imagesPerStep: number) {}

  /** Counts one step; returns the images/s of the current window. */
  step(): number {
    const now = performance.now();
    this.images += this.imagesPerStep;
    this.windowImages += this.imagesPerStep;
    this.overall = this.images / Math.max(1e-9, (now - this.t0) / 1000);
    return (this.windowImages * 1000) / Math.max(1, now - this.windowStart);
  }

  /** Starts a new window (after each logged step). */
  newWindow(): void {
    this.windowStart = performance.now();
    this.windowImages = 0;
  }

  get seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }
}

/**
 * The `onEpochEnd` hook of both methods: evaluate every `evalFreq` epochs, except after the last
 * epoch and when the run is stopping (the run evaluates then itself, once).
 */
export function evaluateEveryEpochs(
  evalFreq: number,
  evaluate: (epoch: number, step: number) => Promise<{ top1: number; top5: number }>,
  log: (line: string) => void,
): (info: { epoch: number; step: number; last: boolean; stopping: boolean }) => Promise<void> {
  return async (info) => {
    const done = info.epoch + 1;
    if (evalFreq > 0 && done % evalFreq === 0 && !info.last && !info.stopping) {
      const r = await evaluate(done, info.step);
      log(`epoch ${done}: k-NN top-1 ${r.top1.toFixed(2)}%, top-5 ${r.top5.toFixed(2)}%`);
    }
  };
}

export function memoryFacts(): { tensors: number; rss_mb: number } {
  return { tensors: tf.memory().numTensors, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) };
}

export { Progress, formatDuration };
