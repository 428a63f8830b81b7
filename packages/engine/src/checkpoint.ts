import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readSafetensors, serializeSafetensorsAsync } from '@ssl/models';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';

export const CHECKPOINT_FORMAT = 'ssl-vision-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const TENSORS_FILE = 'checkpoint.safetensors';
export const STATE_FILE = 'state.json';

/** The JSON half of a checkpoint (`state.json`). */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** `dino` or `paws`. */
  kind: string;
  /** The next epoch to run (as the official `epoch + 1`), or the epoch in progress when `iteration` > 0. */
  epoch: number;
  /** Batches of `epoch` already done: 0 (or absent) at an epoch boundary, > 0 for a mid-epoch checkpoint. */
  iteration?: number;
  /** Global iterations done. */
  step: number;
  config: unknown;
  /** RNG states by owner, e.g. `student.backbone`. */
  rng: Record<string, unknown>;
  /** Scalars of the optimizer (group lr/wd, per-parameter step counts). */
  optimizer: unknown;
  /** Anything else the loop needs to continue exactly. */
  extra?: Record<string, unknown>;
  versions: Record<string, string>;
  savedAt: string;
}

export interface Checkpoint {
  /** `student.*`, `teacher.*`, `optimizer.*`, `loss.*`: PyTorch layout for networks. */
  tensors: Record<string, Tensor>;
  state: CheckpointState;
}

/**
 * Write a checkpoint directory (`checkpoint.safetensors` + `state.json`) atomically: into a temp
 * directory beside it, then swapped in by rename. A crash leaves either the old or the new
 * checkpoint (a `<name>.old-*` left by a crash between the two renames is found by `resolveCheckpoint`).
 */
export async function saveCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const bytes = await serializeSafetensorsAsync(checkpoint.tensors, { format: CHECKPOINT_FORMAT });
  await writeCheckpointBytes(dir, bytes, JSON.stringify(checkpoint.state, null, 1));
}

async function writeCheckpointBytes(dir: string, bytes: Uint8Array, stateJson: string): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = join(parent, `.${basename(dir)}.tmp-${tag}`);
  await mkdir(tmp);
  try {
    await writeFile(join(tmp, TENSORS_FILE), bytes);
    await writeFile(join(tmp, STATE_FILE), stateJson);
    const old = `${dir}.old-${tag}`;
    const had = existsSync(dir);
    if (had) await rename(dir, old);
    await rename(tmp, dir);
    if (had) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Save the same checkpoint under several names (serialised once). */
export async function saveCheckpoints(dirs: string[], checkpoint: Checkpoint): Promise<void> {
  const bytes = await serializeSafetensorsAsync(checkpoint.tensors, { format: CHECKPOINT_FORMAT });
  const json = JSON.stringify(checkpoint.state, null, 1);
  for (const d of dirs) await writeCheckpointBytes(d, bytes, json);
}

/**
 * The checkpoint directory to load for `dir`: `dir` itself when complete, else the newest complete
 * `<dir>.old-*` left by an interrupted swap; null when there is none.
 */
export async function resolveCheckpoint(dir: string): Promise<string | null> {
  const complete = (d: string) => existsSync(join(d, TENSORS_FILE)) && existsSync(join(d, STATE_FILE));
  if (complete(dir)) return dir;
  const parent = dirname(dir);
  if (!existsSync(parent)) return null;
  const prefix = `${basename(dir)}.old-`;
  const olds = (await readdir(parent)).filter((n) => n.startsWith(prefix)).sort().reverse();
  for (const n of olds) if (complete(join(parent, n))) return join(parent, n);
  return null;
}

/** Read a checkpoint directory. The caller owns (and disposes) the tensors. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const statePath = join(dir, STATE_FILE);
  let state: CheckpointState;
  try {
    state = JSON.parse(await readFile(statePath, 'utf8')) as CheckpointState;
  } catch (err) {
    throw new Error(`loadCheckpoint: cannot read ${statePath}: ${(err as Error).message}`);
  }
  if (state?.format !== CHECKPOINT_FORMAT) {
    throw new Error(`loadCheckpoint: ${statePath} is not an ssl-vision checkpoint (format '${state?.format}')`);
  }
  if (state.version > CHECKPOINT_VERSION) {
    throw new Error(`loadCheckpoint: ${statePath} has version ${state.version}; this build reads up to ${CHECKPOINT_VERSION}`);
  }
  const tensors = await readSafetensors(join(dir, TENSORS_FILE));
  return { tensors, state };
}

/** Tensors under `prefix.` with the prefix removed (same tensor objects). */
export function section(tensors: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const p = `${prefix}.`;
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith(p)) out[k.slice(p.length)] = t;
  return out;
}

/** `dict` with every key prefixed by `prefix.` (same tensor objects). */
export function prefixed(prefix: string, dict: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(dict)) out[`${prefix}.${k}`] = t;
  return out;
}

/** Official naming of periodic copies: `checkpoint0010` for epoch 10. */
export function periodicCheckpointName(epoch: number): string {
  return `checkpoint${String(epoch).padStart(4, '0')}`;
}

export function versions(): Record<string, string> {
  return { engine: ENGINE_VERSION, tfjs: tf.version_core, node: process.version, backend: tf.getBackend() ?? 'none' };
}

export const ENGINE_VERSION = '0.1.0';
