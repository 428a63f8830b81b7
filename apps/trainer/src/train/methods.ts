import { DINO } from './dino.js';
import { PAWS } from './paws.js';
import { runTraining } from './runner.js';
import type { RunSummary, TrainConfig } from './runner.js';

/** Train with `config` (DINO or PAWS, as its `method` says), evaluate and write the report. */
export function train(config: TrainConfig): Promise<RunSummary> {
  return config.method === 'dino' ? runTraining(config, DINO) : runTraining(config, PAWS);
}
