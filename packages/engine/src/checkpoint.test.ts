import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '@ssl/tensor';
import { loadCheckpoint, periodicCheckpointName, resolveCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { CheckpointState } from './checkpoint.js';
import { configChanges } from './train-common.js';

const root = mkdtempSync(join(tmpdir(), 'ssl-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const state = (epoch: number): CheckpointState => ({
  format: 'ssl-vision-checkpoint', version: 1, kind: 'dino', epoch, step: epoch * 10, config: { lr: 1 },
  rng: {}, optimizer: {}, versions: {}, savedAt: '',
});

describe('checkpoints', () => {
  it('round-trips tensors and state, replaces atomically, and leaves no temp files', async () => {
    const dir = join(root, 'run', 'checkpoint');
    const t = { 'student.w': tf.tensor2d([[1, 2], [3, 4]]), 'loss.center': tf.zeros([1, 3]) };
    await saveCheckpoint(dir, { tensors: t, state: state(1) });
    await saveCheckpoint(dir, { tensors: { ...t, 'student.w': tf.tensor2d([[5, 6], [7, 8]]) }, state: state(2) });
    const ck = await loadCheckpoint(dir);
    expect(ck.state.epoch).toBe(2);
    expect(Array.from(ck.tensors['student.w']?.dataSync() ?? [])).toEqual([5, 6, 7, 8]);
    expect(ck.tensors['loss.center']?.shape).toEqual([1, 3]);
    expect(readdirSync(join(root, 'run'))).toEqual(['checkpoint']);
    tf.dispose([...Object.values(t), ...Object.values(ck.tensors)]);
  });

  it('finds the previous checkpoint when a crash interrupted the swap', async () => {
    const dir = join(root, 'crash', 'checkpoint');
    await saveCheckpoint(dir, { tensors: { a: tf.ones([2]) }, state: state(3) });
    renameSync(dir, `${dir}.old-123`); // the state between the two renames
    expect(await resolveCheckpoint(dir)).toBe(`${dir}.old-123`);
    expect(await resolveCheckpoint(join(root, 'none', 'checkpoint'))).toBeNull();
  });

  it('rejects a directory that is not a checkpoint', async () => {
    const dir = join(root, 'bad');
    await saveCheckpoint(dir, { tensors: { a: tf.ones([1]) }, state: state(1) });
    writeFileSync(join(dir, 'state.json'), '{"format":"other"}');
    await expect(loadCheckpoint(dir)).rejects.toThrow(/is not an ssl-vision checkpoint/);
    await expect(loadCheckpoint(join(root, 'missing'))).rejects.toThrow(/cannot read/);
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });

  it('lists config fields that changed since the checkpoint', () => {
    expect(configChanges({ epochs: 100, lr: 0.1, gone: 1 }, { epochs: 200, lr: 0.1, added: 2 })).toEqual(['epochs: 100 -> 200']);
    expect(configChanges(null, { a: 1 })).toEqual([]);
  });

  it('names periodic copies as the official code', () => {
    expect(periodicCheckpointName(10)).toBe('checkpoint0010');
  });
});
