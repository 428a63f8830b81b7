import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';
import { runDino } from '../train/dino.js';

export async function runTraining(config: DinoConfig | PawsConfig): Promise<void> {
  if (config.method === 'dino') {
    await runDino(config);
    return;
  }
  throw new Error('ssl-train paws: not wired in this build yet');
}
