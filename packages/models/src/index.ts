export const PACKAGE_NAME = '@ssl/models';

export {
  parseSafetensors,
  parseSafetensorsWithMetadata,
  readSafetensors,
  readSafetensorsWithMetadata,
  serializeSafetensors,
  writeSafetensors,
} from './safetensors.js';
export type { SafetensorsDtype, SafetensorsEntry, SafetensorsFile, SerializeOptions } from './safetensors.js';
export { Module, adaptStateDictKeys } from './module.js';
export type { LoadStateDictOptions, LoadStateDictResult, ShapeMismatch, TorchLayout } from './module.js';
export { BatchNorm, Conv2d, LayerNorm, Linear, gelu, kaimingNormalFanOut, toRng, truncNormal, uniform } from './layers.js';
export type { Conv2dOptions, InitRng, LinearInit, LinearOptions } from './layers.js';
