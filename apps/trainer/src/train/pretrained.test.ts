import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackbone, loadWeights, serializeSafetensors, VisionTransformer } from '@ssl/models';
import { tf } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { loadPretrainedBackbones, writeModelSpec } from './pretrained.js';

// A main_dino.py save dict written by torch.save (packages/models/fixtures/make_torch_checkpoints.py).
const DINO_PTH = fileURLToPath(new URL('../../../../packages/models/fixtures/dino_checkpoint.pth', import.meta.url));
const vit = (depth: number, seed: number) => new VisionTransformer({ embedDim: 48, depth, numHeads: 3, patchSize: 4, inChans: 1, imgSize: 28, seed });

describe('--pretrained-weights', () => {
  it('is a config key of both methods, with --checkpoint-key', () => {
    const dino = resolveConfig('dino', { flags: { pretrained_weights: DINO_PTH, checkpoint_key: 'student' } });
    expect(dino.model).toMatchObject({ pretrained_weights: DINO_PTH, checkpoint_key: 'student' });
    const paws = resolveConfig('paws', { flags: { pretrained_weights: 'x.pth' } });
    expect((paws as { meta: { pretrained_weights: string | null } }).meta.pretrained_weights).toBe('x.pth');
  });

  it('copies an official checkpoint\'s teacher (or --checkpoint-key student) into every backbone', async () => {
    const a = vit(1, 1);
    const b = vit(1, 2);
    const line = await loadPretrainedBackbones([a, b], DINO_PTH, null);
    expect(line).toMatch(/dino_checkpoint\.pth \(main_dino, 'teacher'\); main_dino\.py checkpoint of epoch 3; .*stripped 'backbone\.'/);
    const teacher = await loadWeights(DINO_PTH);
    for (const m of [a, b]) {
      const sd = m.stateDict();
      for (const [k, t] of Object.entries(sd)) expect(Array.from(t.dataSync()), k).toEqual(Array.from((teacher[k] as tf.Tensor).dataSync()));
      tf.dispose(Object.values(sd));
    }
    await loadPretrainedBackbones([a], DINO_PTH, 'student');
    const pos = a.stateDict()['pos_embed'] as tf.Tensor;
    expect(Array.from(pos.dataSync())).not.toEqual(Array.from((teacher['pos_embed'] as tf.Tensor).dataSync()));
    tf.dispose([pos, ...Object.values(teacher)]);
    [a, b].forEach((m) => m.dispose());
  });

  it('names what does not fit the configured arch', async () => {
    const deeper = vit(2, 1);
    await expect(loadPretrainedBackbones([deeper], DINO_PTH, null)).rejects.toThrow(
      /--pretrained-weights .*dino_checkpoint\.pth: the weights do not fit the configured arch: \d+ backbone tensors missing \(blocks\.1\./,
    );
    deeper.dispose();
  });

  it('writes the backbone spec beside config.json, which loadBackbone of the run reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-train-spec-'));
    const model = new VisionTransformer({ embedDim: 20, depth: 1, numHeads: 5, patchSize: 4, inChans: 1, imgSize: 8, seed: 3 });
    writeModelSpec(dir, model);
    mkdirSync(join(dir, 'checkpoint'));
    const sd = model.stateDict();
    writeFileSync(join(dir, 'checkpoint', 'checkpoint.safetensors'), serializeSafetensors(Object.fromEntries(Object.entries(sd).map(([k, t]) => [`teacher.backbone.${k}`, t]))));
    const loaded = await loadBackbone(dir); // width 20 is no preset: the heads come from model.json
    expect(loaded.spec).toEqual({ arch: 'vit', options: { embedDim: 20, depth: 1, numHeads: 5, patchSize: 4, inChans: 1, imgSize: 8, mlpRatio: 4, qkvBias: true } });
    tf.dispose(Object.values(sd));
    [model, loaded.model].forEach((m) => m.dispose());
    rmSync(dir, { recursive: true, force: true });
  });
});
