import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  DINO_PRESETS,
  PAWS_PRESETS,
  editDistance,
  methodFields,
  nearest,
  resolveConfig,
  writeResolvedConfig,
} from './index.js';

describe('dino config', () => {
  it('defaults are the official main_dino.py defaults', () => {
    const c = resolveConfig('dino');
    expect(c.model).toMatchObject({ arch: 'vit_small', patch_size: 16, out_dim: 65536, norm_last_layer: true, use_bn_in_head: false, drop_path_rate: 0.1 });
    expect(c.loss).toMatchObject({ warmup_teacher_temp: 0.04, teacher_temp: 0.04, warmup_teacher_temp_epochs: 0 });
    expect(c.optimization).toMatchObject({
      optimizer: 'adamw', lr: 0.0005, min_lr: 1e-6, warmup_epochs: 10, weight_decay: 0.04, weight_decay_end: 0.4,
      clip_grad: 3.0, batch_size_per_gpu: 64, epochs: 100, freeze_last_layer: 1, momentum_teacher: 0.996,
    });
    expect(c.data).toMatchObject({ global_crops_scale: [0.4, 1], local_crops_number: 8, local_crops_scale: [0.05, 0.4] });
    expect(c.logging).toMatchObject({ saveckp_freq: 20, output_dir: '.' });
    expect(c.runtime.seed).toBe(0);
    expect(c.data.num_workers).toBeLessThanOrEqual(4);
  });

  it('every field carries advice', () => {
    for (const f of methodFields('dino').values()) if (f.group) expect(f.description.length, f.key).toBeGreaterThan(10);
    for (const f of methodFields('paws').values()) if (f.group) expect(f.description.length, f.key).toBeGreaterThan(10);
  });

  it('layers defaults < preset < file < flags, snake_case and kebab-case alike', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'preset: fmnist_reference\noptimization:\n  lr: 0.004\n  epochs: 3\nteacher-temp: 0.05\n');
    const c = resolveConfig('dino', { file, flags: { epochs: '2', 'global-crops-scale': ['0.3', '1'], norm_last_layer: 'false' } });
    expect(c.preset).toBe('fmnist_reference');
    expect(c.model.out_dim).toBe(1024); // preset
    expect(c.optimization.lr).toBe(0.004); // file beats preset (0.002)
    expect(c.loss.teacher_temp).toBe(0.05); // flat key in the file
    expect(c.optimization.epochs).toBe(2); // flag beats file
    expect(c.data.global_crops_scale).toEqual([0.3, 1]);
    expect(c.model.norm_last_layer).toBe(false);
    expect(c.optimization.momentum_teacher).toBe(0.996); // untouched default
  });

  it('a JSON file works too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ model: { out_dim: 512 }, local_crops_number: 2 }));
    const c = resolveConfig('dino', { file });
    expect(c.model.out_dim).toBe(512);
    expect(c.data.local_crops_number).toBe(2);
  });

  it('names an unknown key and the nearest valid one', () => {
    expect(() => resolveConfig('dino', { file: { model: { patch_szie: 8 } } })).toThrow(/'model\.patch_szie'.*did you mean 'model\.patch_size'/);
    expect(() => resolveConfig('dino', { file: { momentum_teacer: 0.9 } })).toThrow(/'momentum_teacer'.*did you mean 'momentum_teacher'/);
    expect(() => resolveConfig('dino', { flags: { warmup_teacher_tmp: '0.04' } })).toThrow(/did you mean 'warmup_teacher_temp'/);
  });

  it('names the field and the flag of an invalid value', () => {
    expect(() => resolveConfig('dino', { flags: { epochs: 'ten' } })).toThrow(/--epochs: expected an integer, got 'ten'/);
    expect(() => resolveConfig('dino', { file: { optimization: { epochs: -1 } } })).toThrow(/optimization\.epochs \(--epochs\)/);
    expect(() => resolveConfig('dino', { flags: { optimizer: 'adam' } })).toThrow(/optimization\.optimizer/);
    expect(() => resolveConfig('dino', { preset: 'nope' })).toThrow(/unknown dino preset 'nope'; available: dino_vits16/);
    expect(() => resolveConfig('dino', { file: { global_crops_scale: [1, 0.4] } })).toThrow(/lo <= hi/);
  });

  it('writes the resolved config beside the outputs, loadable again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-cfg-'));
    const c = resolveConfig('dino', { preset: 'fmnist_small', flags: { output_dir: dir } });
    const path = writeResolvedConfig(dir, c);
    const back = resolveConfig('dino', { file: parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> });
    expect(back).toEqual(c);
  });

  it('every preset resolves', () => {
    for (const name of Object.keys(DINO_PRESETS)) expect(resolveConfig('dino', { preset: name }).preset).toBe(name);
    for (const name of Object.keys(PAWS_PRESETS)) expect(resolveConfig('paws', { preset: name }).preset).toBe(name);
  });

  it('the boost and ResNet-50 presets carry the official arguments', () => {
    const b = resolveConfig('dino', { preset: 'dino_vits16_boost' });
    expect([b.optimization.epochs, b.loss.teacher_temp, b.loss.warmup_teacher_temp_epochs, b.model.norm_last_layer]).toEqual([300, 0.07, 30, false]);
    const r = resolveConfig('dino', { preset: 'dino_resnet50' });
    expect(r.optimization).toMatchObject({ optimizer: 'sgd', lr: 0.03, weight_decay: 1e-4, weight_decay_end: 1e-4 });
    expect(r.data.global_crops_scale).toEqual([0.14, 1]);
    expect(r.data.local_crops_scale).toEqual([0.05, 0.14]);
  });
});

describe('paws config', () => {
  it('defaults are configs/paws/imgnt_train.yaml', () => {
    const c = resolveConfig('paws');
    expect(c.criterion).toEqual({
      classes_per_batch: 15, me_max: true, sharpen: 0.25, supervised_imgs_per_class: 7, supervised_views: 1,
      temperature: 0.1, unsupervised_batch_size: 64,
    });
    expect(c.optimization).toMatchObject({ epochs: 100, final_lr: 0.064, lr: 6.4, momentum: 0.9, nesterov: false, start_lr: 0.3, warmup: 10, weight_decay: 1e-6 });
    expect(c.meta).toMatchObject({ model_name: 'resnet50', output_dim: 2048, use_pred_head: true });
    // the official optimizer stays the default; AdamW is a flag away (for ViTs)
    expect(c.optimization.optimizer).toBe('lars');
    expect(resolveConfig('paws', { preset: 'paws_imagenet' }).optimization.optimizer).toBe('lars');
    const fm = resolveConfig('paws', { preset: 'fmnist_paws' });
    expect(fm.meta.model_name).toBe('resnet18');
    expect(fm.optimization).toMatchObject({ optimizer: 'lars', lr: 0.8, start_lr: 0.2, final_lr: 0.008, warmup: 0.1, epochs: 3 });
    expect(resolveConfig('paws', { preset: 'fmnist_paws', flags: { optimizer: 'adamw' } }).optimization.optimizer).toBe('adamw');
    expect(c.data).toMatchObject({ label_smoothing: 0.1, multicrop: 6, unlabeled_frac: 0.9, color_jitter_strength: 1.0 });
  });

  it('loads the official cifar10_train.yaml unchanged', () => {
    const official = {
      criterion: { classes_per_batch: 10, me_max: true, sharpen: 0.25, supervised_imgs_per_class: 64, supervised_views: 2, temperature: 0.1, unsupervised_batch_size: 256 },
      data: { color_jitter_strength: 0.5, data_seed: 152, dataset: 'folder', image_folder: 'cifar10-data/', label_smoothing: 0.1, multicrop: 6, normalize: true, root_path: 'datasets/', subset_path: 'cifar10_subsets/', unique_classes_per_rank: false, unlabeled_frac: 0.92 },
      logging: { folder: '/tmp/paws-out', write_tag: 'paws' },
      meta: { copy_data: true, device: 'cuda:0', load_checkpoint: false, model_name: 'wide_resnet28w2', output_dim: 128, read_checkpoint: null, use_fp16: true, use_pred_head: false },
      optimization: { epochs: 600, final_lr: 0.032, lr: 3.2, momentum: 0.9, nesterov: false, start_lr: 0.8, warmup: 10, weight_decay: 1.0e-6 },
    };
    const c = resolveConfig('paws', { file: official });
    expect(c.logging.output_dir).toBe('/tmp/paws-out');
    expect(c.meta.model_name).toBe('wide_resnet28w2');
    expect(c.criterion.supervised_imgs_per_class).toBe(64);
    expect(resolveConfig('paws', { preset: 'paws_cifar10' }).optimization).toEqual({ ...c.optimization, time_budget: 0 });
  });

  it('--labels takes a per-class count or a file', () => {
    expect(resolveConfig('paws', { flags: { labels: '10' } }).data.labels).toBe(10);
    expect(resolveConfig('paws', { flags: { labels: 'subsets/4000.txt' } }).data.labels).toBe('subsets/4000.txt');
  });

  it('rejects a DINO key with a hint', () => {
    expect(() => resolveConfig('paws', { file: { criterion: { sharpn: 0.5 } } })).toThrow(/did you mean 'criterion\.sharpen'/);
  });
});

describe('edit distance', () => {
  it('matches hand-computed values', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('lr', 'lr')).toBe(0);
    expect(nearest('epcohs', ['lr', 'epochs', 'seed'])).toBe('epochs');
  });
});
