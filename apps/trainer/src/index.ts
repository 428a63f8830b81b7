export const PACKAGE_NAME = 'ssl-train';

export {
  ConfigError,
  DINO_PRESETS,
  PAWS_PRESETS,
  dinoConfigSchema,
  listPresets,
  methodFields,
  pawsConfigSchema,
  resolveConfig,
  writeResolvedConfig,
} from './config/index.js';
export type { DinoConfig, FieldInfo, Method, PawsConfig, Preset, ResolveOptions } from './config/index.js';
export { buildProgram, main } from './program.js';
export { pixelFeatures, pixelKnn } from './commands/knn.js';
export { Progress } from './progress.js';
export { parseLog, renderReport, writeReport } from './report/html.js';
export type { EvalPoint, ReportData, StepPoint } from './report/html.js';
