import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DINO_FASHION_MNIST, buildTransform, dinoSpec } from '@ssl/augment';
import type { TransformSpec } from '@ssl/augment';
import { FashionMNIST, ImageFolder, Subset, loadBatch, stratifiedSplit } from '@ssl/data';
import type { Dataset, FolderLabels, SampleFailure } from '@ssl/data';
import { STATE_FILE, resolveCheckpoint } from '@ssl/engine';
import { formatBackendReport, initBackend, tf } from '@ssl/tensor';
import type { BackendInfo } from '@ssl/tensor';
import { resolveDataLocation } from '../data.js';
import type { DataLocation } from '../data.js';
import { Progress, formatDuration } from '../progress.js';
import { writeReport } from '../report/html.js';
import type { EvalImages } from '@ssl/eval';
import { SkippedFiles } from './skips.js';

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

  /** Seconds until the time budget runs out (Infinity without one). */
  secondsLeft(): number {
    return (this.deadline - this.now()) / 1000;
  }

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
  /** Files that could not be read, on every road of the run. */
  skips: SkippedFiles;
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
  const log = new JsonlLog(outputDir);
  const skips = new SkippedFiles(print, (r) => log.write(r));
  return { outputDir, backend, data, log, print, stop: new StopSignal(options.timeBudget, print), facts, skips };
}

/** Rebuild report.html from the run directory with the current facts. */
export function finishReport(ctx: RunContext): string {
  const skipped = ctx.skips.summary();
  if (skipped) ctx.facts.set('skipped files', skipped);
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
  /** Labelled evaluation images; null when the run has no labels (k-NN is skipped). */
  test: Dataset | null;
  channels: 1 | 3;
  mean: number[];
  std: number[];
  numClasses: number;
  /** Where the labels of the evaluation come from, for the log and the report. */
  labels: string;
}

/** How a folder dataset is read (the `data` keys of both methods). */
export interface FolderOptions {
  labels?: FolderLabels;
  /** Held-out share of each class when the folder has labels and no val folder is given. */
  valSplit?: number;
  seed?: number;
  /** Opt-in reduced-size decode (`@ssl/augment` `minDecodedSide`). */
  minDecodedSide?: number;
}

/** Why a run has no k-NN evaluation, said once and written into the report. */
export const NO_LABELS =
  'no labelled images (the folder has no class sub-folders and no --val-data-path was given): k-NN evaluation skipped; ' +
  'the report shows the loss and schedule curves, attention maps, nearest-neighbour strips and the feature space map, which need no labels';

/**
 * Training and evaluation datasets: Fashion-MNIST train/test, or an image folder in any layout with
 * its val folder, else a held-out stratified split of its classes, else no labels at all.
 */
export async function openDatasets(
  ctx: Pick<RunContext, 'data'> & Partial<RunContext>,
  dataset: 'fashion-mnist' | 'folder',
  valDataPath: string | null,
  trainImages: number,
  folder: FolderOptions = {},
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
      labels: 'the Fashion-MNIST test split',
    };
  }
  const say = ctx.print ?? (() => {});
  const options = {
    ...(folder.labels ? { labels: folder.labels } : {}),
    ...(folder.minDecodedSide ? { minDecodedSide: folder.minDecodedSide } : {}),
  };
  // The file list is cached beside the checkpoints: a resumed run reads it instead of listing every folder.
  const all = await ImageFolder.create(ctx.data.dir, { ...options, ...(ctx.outputDir ? { cacheFile: join(ctx.outputDir, 'file-list.json') } : {}) });
  const ig = all.ignored;
  const ignored = ig.hidden + ig.other ? `; ignored ${ig.hidden} hidden and ${ig.other} other files (${ig.examples.join(', ')}${ig.hidden + ig.other > ig.examples.length ? ', ...' : ''})` : '';
  const layout = all.labelled ? `${all.classes.length} class folders` : 'no class folders: unlabelled';
  const scanned = `${all.length} images, ${layout}${ignored}`;
  say(`data: ${scanned}${all.fromCache ? ' (file list from the cache in the output directory)' : ''}`);
  if (all.change) {
    const c = all.change;
    say(`data: the folder changed since its file list was cached (${c.added} added, ${c.removed} removed: ${c.examples.join(', ')}); using the new list`);
    ctx.log?.write({ type: 'data-changed', added: c.added, removed: c.removed, examples: c.examples });
  }
  ctx.facts?.set('images', scanned);
  const common = { channels: 3 as const, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  if (valDataPath !== null) {
    const test = await ImageFolder.create(resolve(valDataPath), options);
    if (!test.labelled) throw new Error(`val_data_path ${test.root}: expected one sub-folder of labelled images per class for the k-NN evaluation`);
    return { ...common, train: firstN(all, trainImages), test, numClasses: test.classes.length, labels: `the class folders of ${test.root}` };
  }
  if (!all.labelled) return { ...common, train: firstN(all, trainImages), test: null, numClasses: 0, labels: 'none' };
  const fraction = folder.valSplit ?? 0.1;
  const split = stratifiedSplit(all.targets, fraction, folder.seed ?? 0);
  if (split.held.length === 0) throw new Error(`data_path ${all.root}: every class has a single image; nothing to hold out for the k-NN evaluation`);
  const train = new Subset(all, split.train);
  const labels = `a seeded held-out ${Math.round(fraction * 100)}% of each class (${split.held.length} images, not trained on; --val-split)`;
  say(`data: k-NN on ${labels}`);
  return { ...common, train: firstN(train, trainImages), test: new Subset(all, split.held), numClasses: all.classes.length, labels };
}

/** Whether `err` is the loader stopping a run whose files mostly fail to load (its maxSkipRatio). */
export function tooManySkipped(err: unknown): boolean {
  return err instanceof Error && /^DataLoader: .* failed to load .*maxSkipRatio/.test(err.message);
}

/** Evaluation images plus the dataset index of each row and the files that could not be read. */
export interface LoadedEvalImages extends EvalImages {
  indices: Int32Array;
  failures: SampleFailure[];
}

/**
 * Evaluation images (center view, normalised like training) of the first `limit` samples. Files
 * that cannot be read are left out (`indices` says which sample each row is) and noted in `skips`.
 */
export async function loadEvalImages(ds: Dataset, size: number, sets: Pick<RunDatasets, 'channels' | 'mean' | 'std'>, limit = 0, skips?: SkippedFiles): Promise<LoadedEvalImages> {
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
  const indices = new Int32Array(count);
  const failures: SampleFailure[] = [];
  const chunk = 512;
  let n = 0;
  for (let start = 0; start < count; start += chunk) {
    const idx = Array.from({ length: Math.min(chunk, count - start) }, (_, i) => start + i);
    const r = await loadBatch(ds, transform, 0, 0, idx);
    for (const f of r.failures) skips?.note(f, 'evaluation images');
    failures.push(...r.failures);
    data.set((r.views[0] as { data: Float32Array }).data, n * px);
    labels.set(r.labels, n);
    indices.set(r.indices, n);
    n += r.labels.length;
  }
  return { data: data.subarray(0, n * px), count: n, height: size, width: size, channels: sets.channels, labels: labels.subarray(0, n), indices: indices.subarray(0, n), failures };
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
