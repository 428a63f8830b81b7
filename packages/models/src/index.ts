export {
  parseSafetensors,
  parseSafetensorsWithMetadata,
  readSafetensors,
  readSafetensorsWithMetadata,
  serializeSafetensors,
  serializeSafetensorsAsync,
  writeSafetensors,
} from './safetensors.js';
export type { SafetensorsDtype, SafetensorsEntry, SafetensorsFile, SerializeOptions } from './safetensors.js';
export { Module, adaptStateDictKeys } from './module.js';
export type { LoadStateDictOptions, LoadStateDictResult, ShapeMismatch, TorchLayout } from './module.js';
export { BatchNorm, Conv2d, LayerNorm, Linear, gelu, kaimingNormalFanOut, toRng, truncNormal, uniform } from './layers.js';
export type { Conv2dOptions, InitRng, LinearInit, LinearOptions } from './layers.js';
export type { Backbone, ForwardOptions } from './backbone.js';
export { VisionTransformer, bicubicMatrix } from './vision_transformer.js';
export type { VisionTransformerOptions } from './vision_transformer.js';
export { DINOHead, MultiCropWrapper, WeightNormLinear, groupByResolution } from './dino_head.js';
export type { DINOHeadOptions, Head } from './dino_head.js';
export { RESNET_PRESETS, VIT_PRESETS, createModel, listModels, modelFamily, registerModel } from './registry.js';
export type { ModelFamily, ModelOptions, ModelOptionsByFamily } from './registry.js';
export { ResNet } from './resnet.js';
export type { ResNetBlock, ResNetOptions } from './resnet.js';
export { WideResNet } from './wide_resnet.js';
export type { WideResNetOptions } from './wide_resnet.js';
export { PAWSModel, PAWSPredictionHead, PAWSProjectionHead } from './paws.js';
export type { PAWSForwardOptions, PAWSModelOptions } from './paws.js';
export { PickleError, PickleGlobal, PickleObject, unpickle } from './pickle.js';
export type { PickleCallables, UnpickleOptions } from './pickle.js';
export { flattenTensors, parseTorchCheckpoint, readTorchCheckpoint, TorchCheckpointError, TorchStorage, TorchTensor } from './torch_checkpoint.js';
export type { TorchCheckpoint, TorchDtype } from './torch_checkpoint.js';
export { buildModel, detectArch, inferModelSpec, MissingNumHeadsError, parseModelSpec, presetNumHeads, specOf } from './spec.js';
export type { InferSpecOptions, ModelSpec, ResNetSpecOptions, ShapeDict, VitSpecOptions, WideResNetSpecOptions } from './spec.js';
export { loadBackbone, loadWeights, MODEL_SPEC_FILE, readWeights, SPEC_METADATA_KEY } from './weights.js';
export type { LoadBackboneOptions, LoadedBackbone, LoadWeightsOptions, StateDict, Weights, WeightsFormat, WeightsLayout } from './weights.js';
