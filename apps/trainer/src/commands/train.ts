import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';
import { runDino } from '../train/dino.js';
import { runPaws } from '../train/paws.js';

/** Train with `config`; the exit status: 0, or 130 / 143 when Ctrl-C / SIGTERM stopped the run (after saving a checkpoint). */
export async function runTraining(config: DinoConfig | PawsConfig): Promise<number> {
  const summary = config.method === 'dino' ? await runDino(config) : await runPaws(config);
  return summary.exitCode;
}
