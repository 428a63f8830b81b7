import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { readFixture } from './fixtures.test-helpers.js';
import { exportWeights, loadStateDict, stateDictFromTensors } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadStateDict', () => {
  it('reads a checkpoint directory through @ssl/models and skips integer buffers', async () => {
    const sd = readFixture('resnet_basic.safetensors');
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(sd)) tensors[`teacher.${k}`] = tf.tensor(v.data, v.shape);
    tensors['teacher.bn1.num_batches_tracked'] = tf.scalar(3, 'int32');
    await writeSafetensors(join(dir, 'checkpoint.safetensors'), tensors);
    const before = tf.memory().numTensors;
    const loaded = await loadStateDict(dir);
    expect(tf.memory().numTensors).toBe(before);
    expect(loaded).toMatchObject({ key: 'teacher', layout: 'checkpoint' });
    expect(Object.keys(loaded.state)).not.toContain('bn1.num_batches_tracked');
    expect(loaded.state['conv1.weight']!.shape).toEqual(sd['conv1.weight']!.shape);
    expect(Array.from(loaded.state['layer1.0.bn1.running_var']!.data)).toEqual(Array.from(sd['layer1.0.bn1.running_var']!.data));
    const res = await exportWeights(dir);
    expect(res).toMatchObject({ arch: 'resnet', spec: { arch: 'resnet', options: { block: 'basic', layers: [2, 1, 1, 1] } } });
    expect(res.weights.key).toBe('teacher');
    expect(Object.keys(stateDictFromTensors(tensors))).toHaveLength(Object.keys(sd).length);
    tf.dispose(Object.values(tensors));
  });

  it('names a missing path', async () => {
    await expect(loadStateDict(join(dir, 'nope.safetensors'))).rejects.toThrow(/no such file or directory: .*nope.safetensors/);
  });
});
