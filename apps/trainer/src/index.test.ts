import { expect, it } from 'vitest';
import { ConfigError, listPresets, resolveConfig } from './index.js';

it('resolves the official DINO defaults and lets flags override a preset', () => {
  const defaults = resolveConfig('dino');
  expect(defaults.loss.teacher_temp).toBe(0.04);
  expect(defaults.loss.warmup_teacher_temp_epochs).toBe(0);
  expect(defaults.optimization.momentum_teacher).toBe(0.996);
  const tuned = resolveConfig('dino', { preset: 'fmnist_small', flags: { 'teacher-temp': 0.03 } });
  expect(tuned.loss.teacher_temp).toBe(0.03);
  expect(Object.keys(listPresets('dino'))).toContain('fmnist_small');
});

it('names the nearest valid key for a typo', () => {
  expect(() => resolveConfig('dino', { file: { loss: { teacher_tmp: 0.05 } } })).toThrow(ConfigError);
  expect(() => resolveConfig('dino', { file: { loss: { teacher_tmp: 0.05 } } })).toThrow(/did you mean 'loss\.teacher_temp'/);
});
