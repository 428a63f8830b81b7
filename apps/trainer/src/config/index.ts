export { dinoConfigSchema } from './dino.js';
export type { DinoConfig, DinoConfigInput } from './dino.js';
export { pawsConfigSchema } from './paws.js';
export type { PawsConfig, PawsConfigInput } from './paws.js';
export { configFields, editDistance, nearest } from './fields.js';
export type { FieldInfo, FieldKind } from './fields.js';
export {
  ConfigError,
  coerceFlag,
  flagsToConfig,
  mergeConfig,
  methodFields,
  normalizeConfigObject,
  readConfigFile,
  resolveConfig,
  writeResolvedConfig,
} from './load.js';
export type { Method, MethodConfig, ResolveOptions } from './load.js';
export { DINO_PRESETS, PAWS_PRESETS, listPresets, presetFor } from './presets.js';
export type { Preset } from './presets.js';
