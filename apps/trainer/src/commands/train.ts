import type { DinoConfig } from '../config/dino.js';
import type { PawsConfig } from '../config/paws.js';

export async function runTraining(config: DinoConfig | PawsConfig): Promise<void> {
  throw new Error(`ssl-train ${config.method}: training needs @ssl/models, @ssl/data and @ssl/engine, which this build does not have yet`);
}
