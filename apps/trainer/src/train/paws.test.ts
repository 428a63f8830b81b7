import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnistFixtureDir } from '@ssl/data';
import { describe, expect, it } from 'vitest';
import { checkpointKnn } from './checkpoint-knn.js';
import { resolveConfig } from '../config/load.js';
import { parseLog } from '../report/html.js';
import { buildPawsEncoder, runPaws } from './paws.js';

describe('ssl-train paws end to end (fixture data, tiny ViT)', () => {
  it('trains with 2 labels per class and compares k-NN on those labels with pixels', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ssl-paws-'));
    const config = resolveConfig('paws', {
      preset: 'fmnist_paws',
      flags: {
        output_dir: out, data_path: fashionMnistFixtureDir(), model_name: 'vit_tiny', train_images: 96, labels: 2, supervised_imgs_per_class: 2,
        unsupervised_batch_size: 32, multicrop: 2, epochs: 1, embed_dim: 48, depth: 2, hidden_dim: 64, output_dim: 32,
        progress: 'none', log_every: 1, time_budget: 0,
      },
    });
    const s = await runPaws(config);
    expect(s.stopReason).toBe('finished');
    expect(s.labelled).toBe(20);
    expect(s.steps).toBe(3);
    const text = readFileSync(join(out, 'log.jsonl'), 'utf8');
    const { steps, evals } = parseLog(text);
    expect(steps).toHaveLength(3);
    for (const st of steps) expect(Number.isFinite(st.loss)).toBe(true);
    const records = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; tensors?: number; rloss?: number });
    expect(new Set(records.filter((r) => r.type === 'step').map((r) => r.tensors)).size).toBe(1);
    expect(records.filter((r) => r.type === 'step').every((r) => typeof r.rloss === 'number')).toBe(true);
    expect(steps.every((st) => st.wd === config.optimization.weight_decay)).toBe(true);
    expect(evals[0]?.trainImages).toBe(20); // k-NN memory = the labelled images only
    expect(evals[0]?.testImages).toBe(500);
    expect(evals[0]?.baselineTop1).toBe(s.baseline?.top1);
    // the official PAWS soft-NN of the encoder output is reported beside the k-NN
    expect(s.snn?.top1).toBeGreaterThanOrEqual(0);
    expect(s.snn?.top1).toBeLessThanOrEqual(s.snn?.top5 as number);
    const evalRecord = records.find((r) => r.type === 'eval') as { snn_top1?: number } | undefined;
    expect(evalRecord?.snn_top1).toBe(s.snn?.top1);
    // `ssl-train knn --checkpoint` rebuilds the encoder (BatchNorm statistics re-estimated as at the end of the run)
    const again = await checkpointKnn(out);
    expect([again.model.top1, again.model.top5]).toEqual([s.knn?.top1, s.knn?.top5]);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(existsSync(join(out, 'feature-map.json'))).toBe(true);
    expect(existsSync(join(out, 'checkpoint', 'state.json'))).toBe(true);
  });
});

describe('buildPawsEncoder', () => {
  it('narrows a ResNet with base_width and refuses it for other models', () => {
    const narrow = resolveConfig('paws', { preset: 'fmnist_paws', flags: { model_name: 'resnet18_cifar', base_width: 8 } });
    const enc = buildPawsEncoder(narrow, 1);
    expect(enc.backbone.numFeatures).toBe(64); // 8 * 2^3 channels after the last stage
    enc.dispose();
    const vit = resolveConfig('paws', { preset: 'fmnist_paws', flags: { model_name: 'vit_tiny', base_width: 8 } });
    expect(() => buildPawsEncoder(vit, 1)).toThrow("base_width applies to the resnet* models, not 'vit_tiny'");
  });
});
