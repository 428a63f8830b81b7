import type { TrainConfig } from '../train/runner.js';
import { train } from '../train/methods.js';

/** Train with `config`; the exit status: 0, or 130 / 143 when Ctrl-C / SIGTERM stopped the run (after saving a checkpoint). */
export async function runTraining(config: TrainConfig): Promise<number> {
  return (await train(config)).exitCode;
}
