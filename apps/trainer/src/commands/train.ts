import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';
import { runDino } from '../train/dino.js';
import { runPaws } from '../train/paws.js';

export async function runTraining(config: DinoConfig | PawsConfig): Promise<void> {
  if (config.method === 'dino') await runDino(config);
  else await runPaws(config);
}
