import type { DinoStepEvent, PawsStepEvent } from '@ssl/engine';
import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';
import { DINO } from './dino.js';
import { PAWS } from './paws.js';
import { runTraining } from './runner.js';
import type { RunSummary, TrainConfig, TrainMethod } from './runner.js';

/** The method of a resolved config (its `method` field), with the config typed to match. */
export function methodOf(
  config: TrainConfig,
): { config: DinoConfig; method: TrainMethod<DinoConfig, DinoStepEvent> } | { config: PawsConfig; method: TrainMethod<PawsConfig, PawsStepEvent> } {
  return config.method === 'dino' ? { config, method: DINO } : { config, method: PAWS };
}

/** Train with `config` (DINO or PAWS as its `method` says), evaluate and write the report. */
export function train(config: TrainConfig): Promise<RunSummary> {
  const m = methodOf(config);
  return m.config.method === 'dino' ? runTraining(m.config, DINO) : runTraining(m.config, PAWS);
}
