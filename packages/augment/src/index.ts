export type { Channels, ImageU8 } from './image.js';
export { assertImage, convertChannels, createImage, luma } from './image.js';
export { DEFAULT_LIMIT_INPUT_PIXELS, decodeImage } from './decode.js';
export type { DecodeOptions } from './decode.js';
export { resize, resizedCrop } from './resample.js';
export type { CropBox, Interpolation } from './resample.js';
export {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  equalize,
  grayscale,
  hflip,
  meanLuma,
  solarize,
} from './color.js';
export { boxRadiusForGaussian, gaussianBlur } from './blur.js';
export {
  CIFAR10_MEAN,
  CIFAR10_STD,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeInto,
  normalizeTables,
} from './normalize.js';
export {
  centerCropBox,
  colorJitterParams,
  fallbackCrop,
  randomResizedCropParams,
  roundHalfEven,
  shorterSideSize,
} from './params.js';
export type { ColorJitterParams } from './params.js';
export { MultiCrop, multiCropDecodeSide } from './multicrop.js';
export type { MultiCropSpec, ViewShape, ViewSpec, ViewTarget } from './multicrop.js';
export {
  buildTransform,
  DataAugmentationDINO,
  DINO_FASHION_MNIST,
  dinoSpec,
  evalSpec,
  pawsSpec,
} from './presets.js';
export type {
  DinoAugmentationOptions,
  DinoTransformSpec,
  EvalTransformOptions,
  EvalTransformSpec,
  PawsAugmentationOptions,
  PawsTransformSpec,
  TransformSpec,
} from './presets.js';
