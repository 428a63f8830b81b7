// The trainer's configuration layer, for programs that build or check `ssl-train` configs.
export {
  ConfigError,
  DINO_PRESETS,
  PAWS_PRESETS,
  dinoConfigSchema,
  listPresets,
  pawsConfigSchema,
  presetFor,
  resolveConfig,
  writeResolvedConfig,
} from './config/index.js';
export type { DinoConfig, DinoConfigInput, Method, MethodConfig, PawsConfig, PawsConfigInput, Preset, ResolveOptions } from './config/index.js';
