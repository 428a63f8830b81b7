import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { resolvePrecision, tf, Rng } from '@ssl/tensor';
import type { Precision, RngState, Tensor } from '@ssl/tensor';
import type { Module } from '@ssl/models';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, loadCheckpoint, periodicCheckpointName, resolveCheckpoint, saveCheckpoints, versions } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import { JsonlLogger, Mean, memoryStats } from './logger.js';

/** A batch as `@ssl/data`'s DataLoader yields it. */
export interface TrainBatch {
  views: Array<{ data: Float32Array; shape: [number, number, number, number] | number[] }>;
  labels?: Int32Array;
  indices?: Int32Array;
  /** Position of the batch in its epoch (`@ssl/data` sets it). */
  step?: number;
}

/** What the loops need of a loader (`@ssl/data` DataLoader satisfies it). */
export interface BatchSource {
  /** Batches per epoch (`len(data_loader)`). */
  length(epoch?: number): number;
  /**
   * The batches of `epoch`, a function of (seed, epoch) only, so a resumed run sees the same ones.
   * `start` > 0 (a run resumed mid-epoch) asks for the batches from position `start` on; a loader
   * that ignores it must set `step` on its batches, and the loop drops those before `start`.
   */
  epoch(epoch: number, start?: number): AsyncIterable<TrainBatch>;
}

/** Raised when the loss is NaN or infinite; training stopped and the last checkpoint is untouched. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly loss: number,
    readonly epoch: number,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(
      `Loss is ${loss} at epoch ${epoch}, iteration ${step}: stopping training. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}. ` : 'No checkpoint was saved yet. ') +
        'Try a lower learning rate, a stronger gradient clip, or (DINO) a lower teacher temperature.',
    );
    this.name = 'NonFiniteLossError';
  }
}

/** Views of a batch as NHWC tensors (the caller disposes them). */
export function viewTensors(batch: TrainBatch): Tensor[] {
  if (!batch || !Array.isArray(batch.views) || batch.views.length === 0) {
    throw new Error('train: a batch must have views: [{ data: Float32Array, shape: [B, H, W, C] }, ...]');
  }
  return batch.views.map((v, i) => {
    if (v.shape.length !== 4) throw new Error(`train: view ${i} must have shape [B, H, W, C], got [${v.shape}]`);
    return tf.tensor4d(v.data, v.shape as [number, number, number, number]);
  });
}

/** Every `rng` (an Rng) held by a module of `net`, by `<prefix>.<module name>`. */
export function moduleRngs(prefix: string, net: Module): Map<string, Rng> {
  const out = new Map<string, Rng>();
  for (const [name, m] of net.namedModules()) {
    const r = (m as unknown as { rng?: unknown }).rng;
    if (r instanceof Rng) out.set(name ? `${prefix}.${name}` : prefix, r);
  }
  return out;
}

export function getRngStates(rngs: Map<string, Rng>): Record<string, RngState> {
  const out: Record<string, RngState> = {};
  for (const [k, r] of rngs) out[k] = r.getState();
  return out;
}

export function setRngStates(rngs: Map<string, Rng>, states: Record<string, unknown>): void {
  for (const [k, r] of rngs) {
    const s = states[k];
    if (s) r.setState(s as RngState);
  }
}

export function checkEpochs(name: string, epochs: number, stopAtEpoch: number | undefined): number {
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${name}: epochs must be a positive integer, got ${epochs}`);
  const stop = stopAtEpoch ?? epochs;
  if (!Number.isInteger(stop) || stop < 0 || stop > epochs) {
    throw new Error(`${name}: stopAtEpoch must be an integer in [0, epochs=${epochs}], got ${stopAtEpoch}`);
  }
  return stop;
}

/** Config fields that differ between a checkpoint and this run (`group.key: old -> new`), for a warning. */
export function configChanges(saved: unknown, current: object, prefix = ''): string[] {
  if (!saved || typeof saved !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(current)) {
    const old = (saved as Record<string, unknown>)[k];
    if (old === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...configChanges(old, v, `${prefix}${k}.`));
    else if (JSON.stringify(old) !== JSON.stringify(v)) out.push(`${prefix}${k}: ${JSON.stringify(old)} -> ${JSON.stringify(v)}`);
  }
  return out;
}

/** Partial config groups: `{ optimization: { lr: 0.001 } }` over the defaults. */
export type ConfigInput<C> = { [G in keyof C]?: Partial<C[G]> };

/**
 * The loop's config from config groups (ssl-train's resolved config passes as it is): each field
 * the loop reads, from `input` when given, else the default. Other fields of `input` stay out, so
 * checkpoints record (and resume warns about) what the loop uses only.
 */
/** The precision a train step runs: 'auto' is bf16 where the CPU runs it (`resolvePrecision`). */
export function stepPrecision(requested: Precision | 'auto'): Precision {
  if (requested === 'auto') return resolvePrecision(undefined).precision;
  return requested;
}

export function resolveGroups<C extends { [G in keyof C]: object }>(name: string, defaults: C, input: ConfigInput<C> | undefined): C {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [group, fields] of Object.entries(defaults) as [string, Record<string, unknown>][]) {
    const given = (input as Record<string, Record<string, unknown> | undefined> | undefined)?.[group] ?? {};
    if (typeof given !== 'object') throw new Error(`${name}: config.${group} must be an object, got ${JSON.stringify(given)}`);
    out[group] = Object.fromEntries(Object.keys(fields).map((k) => [k, given[k] ?? fields[k]]));
  }
  return out as unknown as C;
}

/** Options both loops take (`trainDino`, `trainPaws`). */
export interface TrainLoopOptions<S, E> {
  /** Continue from `<outputDir>/checkpoint` when it exists (default true, as main_dino.py). */
  resume?: boolean;
  /** Stop after this epoch (exclusive) without changing the schedules, which span `config.epochs`. */
  stopAtEpoch?: number;
  /** Write one line per `logEvery` steps to `<outputDir>/steps.jsonl` (0: none). Default 10. */
  logEvery?: number;
  /** After every step, with its numbers. */
  onStep?: (e: S) => void;
  /** After every epoch's checkpoint, with the log.txt line. */
  onEpoch?: (e: E) => void;
  /** After every epoch's checkpoint and log line, awaited before the next epoch (evaluations, reports). */
  onEpochEnd?: (info: EpochEndInfo<E>) => void | Promise<void>;
  /**
   * Checked after every step (and after `onEpochEnd`): when it returns true the loop writes a
   * checkpoint at the current step and returns with `stopped: 'requested'`.
   */
  shouldStop?: () => boolean;
  /** Also write `checkpoint/` every N global steps inside epochs (0: off). */
  checkpointEverySteps?: number;
  /** Also write `checkpoint/` when this many minutes passed since the last one (0: off). */
  checkpointEveryMinutes?: number;
  /** Lines for a human (resume, checkpoints). */
  log?: (line: string) => void;
  /**
   * Called after every step until it returns a number of epochs (null: not yet): from the next
   * step on, every schedule is laid out over that many epochs, saved with the checkpoints, and the
   * run ends there (a time budget measures its pace, then fits the whole schedule into it).
   */
  replan?: (at: { epoch: number; iteration: number; step: number; lastOfEpoch: boolean }) => number | null;
}

export interface EpochEndInfo<E> {
  /** The epoch just finished. */
  epoch: number;
  /** Its mean loss (`train_loss`). */
  loss: number;
  /** Global iterations done. */
  step: number;
  /** The log.txt line. */
  stats: E;
  /** Where its checkpoint is. */
  checkpoint: string;
  /** The last epoch of this call (`stopAtEpoch` or `epochs` reached). */
  last: boolean;
  /** `shouldStop` returned true at the end of this epoch: the loop returns after this hook. */
  stopping: boolean;
}

export interface TrainLoopResult<E> {
  /** Epoch the run started at (after resume), and the batches of it already done (mid-epoch resume). */
  startEpoch: number;
  startIteration: number;
  /** Position the run ended at, as the checkpoint records it: the next epoch to run, and the batches of it done (> 0 when stopped mid-epoch). */
  endEpoch: number;
  endIteration: number;
  /** Global iterations done. */
  step: number;
  /** Epochs finished in this call. */
  epochs: E[];
  lastCheckpoint: string | null;
  /** The checkpoint this run resumed from, or null for a fresh start. */
  resumedFrom: string | null;
  /** 'requested' when `shouldStop` ended the run before its last epoch, else null. */
  stopped: 'requested' | null;
}

/** The loop's fields of an epoch's log.txt line (each method adds its `train_<metric>` means). */
export interface EpochStats {
  epoch: number;
  images_per_sec: number;
  seconds: number;
  tf_num_tensors: number;
  tf_num_bytes: number;
  rss_mb: number;
  checkpoint: string;
}

/** What one iteration of a method returns to the loop. */
export interface StepOutput<S> {
  /** Images in the batch (for images/s). */
  images: number;
  /** Numbers averaged over the epoch into the log.txt line as `train_<name>`, in order, `loss` first. */
  metrics: { loss: number } & Record<string, number>;
  /** The step event without the loop's timing fields. */
  event: Omit<S, 'imagesPerSec' | 'seconds'>;
}

/** The method-specific half of a training loop: state to restore and save, and one iteration. */
export interface TrainLoopCore<S> {
  /** `trainDino`, for messages. */
  name: string;
  /** Checkpoint kind (`dino`, `paws`): a checkpoint of another kind is refused. */
  kind: string;
  /**
   * The config groups, saved into every checkpoint (resume warns about fields that changed): the
   * schedules span `optimization.epochs` (`setEpochs` changes it); `checkpoint<epoch:04>` is kept
   * when epoch % `logging.saveckp_freq` == 0 (0: never).
   */
  config: { optimization: { epochs: number }; logging: { saveckp_freq: number } };
  outputDir: string;
  loader: BatchSource;
  /** Every RNG the networks hold (stochastic depth), saved and restored by name. */
  rngs: Map<string, Rng>;
  /** Load networks, optimizer and loss state from a checkpoint (the loop disposes its tensors). */
  restore(ck: Checkpoint, path: string): void;
  /** A fresh start (no checkpoint). */
  fresh?(): void;
  /** Tensors to save (the loop disposes them once written) and the optimizer's scalars. */
  snapshot(): { tensors: Record<string, Tensor>; optimizer: unknown };
  /** Lay the schedules out over `epochs` (and record it in `config.optimization.epochs`). */
  setEpochs(epochs: number): void;
  /** One iteration at global step `at.step`; throws `NonFiniteLossError` on a NaN/inf loss. */
  step(batch: TrainBatch, at: { epoch: number; iteration: number; step: number }, lastCheckpoint: string | null): Promise<StepOutput<S>>;
}

/** What a mid-epoch checkpoint keeps of the epoch so far, so its log.txt line comes out as an uninterrupted run's. */
interface EpochProgress {
  metrics: Record<string, [number, number]>;
  images: number;
  seconds: number;
}

function checkEvery(name: string, key: string, v: number | undefined, integer: boolean): number {
  if (v === undefined) return 0;
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`${name}: ${key} must be ${integer ? 'an integer' : 'a number'} >= 0 (0: off), got ${v}`);
  }
  return v;
}

/**
 * The epoch/step loop shared by `trainDino` and `trainPaws`: resume (also mid-epoch), the batches
 * of each epoch, `core.step` per batch, the step log, mid-epoch checkpoints (every N steps or M
 * minutes, and when `shouldStop` asks), and after each epoch its checkpoint, log.txt line,
 * `onEpoch` and `onEpochEnd`. Positions are (epoch, iteration); the global step `epoch * ipe + it`
 * indexes the schedules, so a resumed run continues them exactly.
 */
export async function runTrainLoop<S, E>(core: TrainLoopCore<S>, options: TrainLoopOptions<S, E>, plannedStop: number, ipe: number): Promise<TrainLoopResult<E>> {
  let stopAt = plannedStop;
  let replan = options.replan;
  const { name, kind, loader, config: cfg, outputDir } = core;
  const say = options.log ?? (() => {});
  const everySteps = checkEvery(name, 'checkpointEverySteps', options.checkpointEverySteps, true);
  const everyMs = checkEvery(name, 'checkpointEveryMinutes', options.checkpointEveryMinutes, false) * 60_000;
  const logEvery = options.logEvery ?? 10;
  const ckptDir = join(outputDir, 'checkpoint');

  let startEpoch = 0;
  let startIteration = 0;
  let step = 0;
  let lastCheckpoint: string | null = null;
  let resumedFrom: string | null = null;
  let progress: EpochProgress | null = null;
  const found = options.resume === false ? null : await resolveCheckpoint(ckptDir);
  if (found) {
    const ck = await loadCheckpoint(found);
    try {
      if (ck.state.kind !== kind) throw new Error(`${name}: ${found} is a '${ck.state.kind}' checkpoint`);
      startIteration = ck.state.iteration ?? 0;
      if (startIteration > 0) {
        const saved = ck.state.extra?.iterationsPerEpoch;
        if (saved !== ipe) {
          throw new Error(
            `${name}: ${found} was saved in the middle of an epoch of ${String(saved)} batches, but the loader now gives ${ipe}; ` +
              'resume with the same data and batch size, or start over (resume: false)',
          );
        }
        progress = (ck.state.extra?.epochProgress as EpochProgress | undefined) ?? null;
      }
      core.restore(ck, found);
      setRngStates(core.rngs, ck.state.rng);
      startEpoch = ck.state.epoch;
      step = ck.state.step;
      lastCheckpoint = found;
      resumedFrom = found;
      say(`resumed from ${found}: epoch ${startEpoch}, step ${step}${startIteration > 0 ? ` (batch ${startIteration} of ${ipe} of that epoch)` : ''}`);
      const changed = configChanges(ck.state.config, cfg);
      if (changed.length) say(`warning: config differs from the checkpoint's (schedules may not continue exactly): ${changed.join(', ')}`);
    } finally {
      tf.dispose(Object.values(ck.tensors));
    }
  } else {
    core.fresh?.();
  }

  let lastSave = performance.now();
  const save = async (dirs: string[], epoch: number, iteration: number, extra?: Record<string, unknown>): Promise<void> => {
    const snap = core.snapshot();
    try {
      await saveCheckpoints(dirs, {
        tensors: snap.tensors,
        state: {
          format: CHECKPOINT_FORMAT,
          version: CHECKPOINT_VERSION,
          kind,
          epoch,
          iteration,
          step,
          config: cfg,
          rng: getRngStates(core.rngs),
          optimizer: snap.optimizer,
          ...(extra ? { extra } : {}),
          versions: versions(),
          savedAt: new Date().toISOString(),
        },
      });
    } finally {
      tf.dispose(Object.values(snap.tensors));
    }
    lastCheckpoint = dirs[0] ?? null;
    lastSave = performance.now();
  };

  const log = new JsonlLogger(join(outputDir, 'log.txt'));
  const stepLog = logEvery > 0 ? new JsonlLogger(join(outputDir, 'steps.jsonl')) : null;
  const epochs: E[] = [];
  const result = (endEpoch: number, endIteration: number, stopped: 'requested' | null): TrainLoopResult<E> => ({
    startEpoch, startIteration, endEpoch, endIteration, step, epochs, lastCheckpoint, resumedFrom, stopped,
  });

  for (let epoch = startEpoch; epoch < stopAt; epoch++) {
    const first = epoch === startEpoch ? startIteration : 0;
    const means = new Map<string, Mean>();
    let images = 0;
    let priorSeconds = 0;
    if (first > 0 && progress) {
      for (const [k, st] of Object.entries(progress.metrics)) {
        const m = new Mean();
        m.setState(st);
        means.set(k, m);
      }
      images = progress.images;
      priorSeconds = progress.seconds;
    }
    const t0 = performance.now();
    const elapsed = () => priorSeconds + (performance.now() - t0) / 1000;
    let it = first;
    for await (const batch of first > 0 ? loader.epoch(epoch, first) : loader.epoch(epoch)) {
      if (it >= ipe) break;
      // a loader that does not skip on its own: drop the batches a resumed epoch already had
      if (first > 0 && typeof batch.step === 'number' && batch.step < first) continue;
      const ts = performance.now();
      const g = epoch * ipe + it; // global training iteration
      const out = await core.step(batch, { epoch, iteration: it, step: g }, lastCheckpoint);
      step = g + 1;
      images += out.images;
      const seconds = (performance.now() - ts) / 1000;
      for (const [k, v] of Object.entries(out.metrics)) {
        let m = means.get(k);
        if (!m) means.set(k, (m = new Mean()));
        m.add(v);
      }
      const event = { ...out.event, imagesPerSec: out.images / seconds, seconds } as S;
      options.onStep?.(event);
      const planned = replan?.({ epoch, iteration: it, step, lastOfEpoch: it === ipe - 1 }) ?? null;
      if (planned !== null) {
        if (!Number.isInteger(planned) || planned <= epoch || planned > cfg.optimization.epochs) {
          throw new Error(`${name}: replan must give an integer number of epochs in [${epoch + 1}, ${cfg.optimization.epochs}], got ${planned}`);
        }
        replan = undefined;
        core.setEpochs(planned);
        stopAt = options.stopAtEpoch === undefined ? planned : Math.min(options.stopAtEpoch, planned);
      }
      if (stepLog && (it % logEvery === 0 || it === ipe - 1)) {
        // scalars only (DINO's per-parameter gradNorms stay out of the log)
        const scalars = Object.fromEntries(Object.entries(event as object).filter(([, v]) => typeof v === 'number'));
        stepLog.log({ ...scalars, ...memoryStats() });
      }
      it++;
      // Batches from memory can resolve as microtasks only: give signal handlers and timers
      // (Ctrl-C -> shouldStop) one event-loop turn per step, or they wait for the epoch's end.
      await nextTurn();
      if (it >= ipe) continue; // the epoch's own checkpoint follows
      const stop = options.shouldStop?.() ?? false;
      const due = stop || (everySteps > 0 && step % everySteps === 0) || (everyMs > 0 && performance.now() - lastSave >= everyMs);
      if (!due) continue;
      const metrics: Record<string, [number, number]> = {};
      for (const [k, m] of means) metrics[k] = m.getState();
      await save([ckptDir], epoch, it, { iterationsPerEpoch: ipe, epochProgress: { metrics, images, seconds: elapsed() } satisfies EpochProgress });
      if (stop) {
        say(`stopped at epoch ${epoch}, step ${step} (batch ${it} of ${ipe}): saved ${ckptDir}`);
        return result(epoch, it, 'requested');
      }
      say(`checkpoint at epoch ${epoch}, step ${step} (batch ${it} of ${ipe}): saved ${ckptDir}`);
    }
    if (it < ipe) throw new Error(`${name}: epoch ${epoch} gave ${it} batches, expected ${ipe} (loader.length)`);

    // ============ checkpoint, then the log line ============
    const dirs = [ckptDir];
    if (cfg.logging.saveckp_freq && epoch % cfg.logging.saveckp_freq === 0) dirs.push(join(outputDir, periodicCheckpointName(epoch)));
    await save(dirs, epoch + 1, 0);
    const seconds = elapsed();
    const stats = {
      ...Object.fromEntries([...means].map(([k, m]) => [`train_${k}`, m.value])),
      epoch,
      images_per_sec: images / seconds,
      seconds,
      ...memoryStats(),
      checkpoint: ckptDir,
    } as Record<string, number | string>;
    log.log(stats);
    epochs.push(stats as E);
    options.onEpoch?.(stats as E);
    const loss = stats.train_loss as number;
    const parts = [...means.keys()].filter((k) => k !== 'loss' && k !== 'lr' && k !== 'wd').map((k) => (stats[`train_${k}`] as number).toFixed(4));
    say(`epoch ${epoch}: loss ${loss.toFixed(4)}${parts.length ? ` (${parts.join(' ')})` : ''}, ${(images / seconds).toFixed(1)} images/s, saved ${dirs.join(', ')}`);
    const stopping = options.shouldStop?.() ?? false;
    await options.onEpochEnd?.({ epoch, loss, step, stats: stats as E, checkpoint: ckptDir, last: epoch + 1 >= stopAt, stopping });
    if (epoch + 1 < stopAt && (stopping || (options.shouldStop?.() ?? false))) {
      say(`stopped after epoch ${epoch}, step ${step}: saved ${ckptDir}`);
      return result(epoch + 1, 0, 'requested');
    }
  }
  return result(Math.max(startEpoch, stopAt), startEpoch >= stopAt ? startIteration : 0, null);
}
