import type { Channels } from './image.js';
import { MultiCrop, type MultiCropSpec, type ViewSpec } from './multicrop.js';
import { CIFAR10_MEAN, CIFAR10_STD, FASHION_MNIST_MEAN, FASHION_MNIST_STD, IMAGENET_MEAN, IMAGENET_STD } from './normalize.js';
import type { Interpolation } from './resample.js';

/**
 * Options of DINO's `DataAugmentationDINO` (facebookresearch/dino main_dino.py). Defaults are the
 * official ones: 2 global crops of 224 (scale 0.4-1), 8 local crops of 96 (scale 0.05-0.4), bicubic.
 */
export interface DinoAugmentationOptions {
  globalCropsScale?: [number, number];
  localCropsScale?: [number, number];
  localCropsNumber?: number;
  globalSize?: number;
  localSize?: number;
  channels?: Channels;
  mean?: number[];
  std?: number[];
  interpolation?: Interpolation;
  /** ColorJitter strengths and probability (official 0.4, 0.4, 0.2, 0.1 with p 0.8). */
  colorJitter?: { brightness: number; contrast: number; saturation: number; hue: number; p: number };
  grayscaleP?: number;
  flipP?: number;
}

/** The serialisable DINO transform spec (`{ kind: 'dino', ...options }`). */
export type DinoTransformSpec = { kind: 'dino' } & DinoAugmentationOptions;

/** DINO defaults scaled for 28x28 grey Fashion-MNIST: global crops 28, local crops 12. */
export const DINO_FASHION_MNIST: DinoAugmentationOptions = {
  globalSize: 28,
  localSize: 12,
  channels: 1,
  mean: [...FASHION_MNIST_MEAN],
  std: [...FASHION_MNIST_STD],
};

/** The MultiCropSpec of DataAugmentationDINO with `options`. */
export function dinoSpec(options: DinoAugmentationOptions = {}): MultiCropSpec {
  const channels = options.channels ?? 3;
  const jitter = options.colorJitter ?? { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, p: 0.8 };
  const common = {
    interpolation: options.interpolation ?? 'bicubic',
    flip: options.flipP ?? 0.5,
    colorJitter: jitter,
    grayscale: options.grayscaleP ?? 0.2,
  } satisfies Partial<ViewSpec>;
  const globalScale = options.globalCropsScale ?? [0.4, 1];
  const globalSize = options.globalSize ?? 224;
  return {
    channels,
    mean: options.mean ?? (channels === 3 ? [...IMAGENET_MEAN] : [0.5]),
    std: options.std ?? (channels === 3 ? [...IMAGENET_STD] : [0.5]),
    views: [
      // First global crop: always blurred.
      { ...common, size: globalSize, scale: globalScale, blur: { p: 1 } },
      // Second global crop: rarely blurred, sometimes solarized.
      { ...common, size: globalSize, scale: globalScale, blur: { p: 0.1 }, solarize: { p: 0.2 } },
      {
        ...common,
        size: options.localSize ?? 96,
        count: options.localCropsNumber ?? 8,
        scale: options.localCropsScale ?? [0.05, 0.4],
        blur: { p: 0.5 },
      },
    ],
  };
}

/** DINO's multi-crop augmentation: `apply(image, rng)` gives 2 global then N local views. */
export class DataAugmentationDINO extends MultiCrop {
  readonly options: DinoAugmentationOptions;
  constructor(options: DinoAugmentationOptions = {}) {
    super(dinoSpec(options));
    this.options = options;
  }
}

/** Options of PAWS's pipelines (facebookresearch/suncet src/data_manager.py). */
export interface PawsAugmentationOptions {
  dataset: 'imagenet' | 'cifar10';
  /**
   * RandomResizedCrop scale of the large views. Official (paws_train.py): ImageNet 0.14-1 with
   * multicrop, else 0.08-1; CIFAR-10 0.75-1 with multicrop, else 0.5-1.
   */
  cropScale?: [number, number];
  /** Colour-distortion strength s: ColorJitter(0.8 s, 0.8 s, 0.8 s, 0.2 s) (ImageNet 1.0, CIFAR-10 0.5). */
  colorDistortion?: number;
  /** Normalise with the dataset statistics (official configs: true). */
  normalize?: boolean;
  /** Small multicrop views (official: 6). */
  multicrop?: number;
  /** Multicrop side (ImageNet 96, CIFAR-10 18) and scale (ImageNet 0.05-0.14, CIFAR-10 0.3-0.75). */
  multicropSize?: number;
  multicropScale?: [number, number];
  /** Large view side (ImageNet 224, CIFAR-10 32). */
  size?: number;
  /** Number of large views (PAWS uses 2 for unlabelled images; `supervised_views` for support). */
  views?: number;
}

export type PawsTransformSpec = { kind: 'paws' } & PawsAugmentationOptions;

/** The MultiCropSpec of PAWS's training transform (+ multicrop) for ImageNet or CIFAR-10. */
export function pawsSpec(options: PawsAugmentationOptions): MultiCropSpec {
  const imagenet = options.dataset === 'imagenet';
  if (!imagenet && options.dataset !== 'cifar10') {
    throw new RangeError(`pawsSpec: dataset must be 'imagenet' or 'cifar10', got '${options.dataset}'`);
  }
  const s = options.colorDistortion ?? (imagenet ? 1.0 : 0.5);
  const colorJitter = { brightness: 0.8 * s, contrast: 0.8 * s, saturation: 0.8 * s, hue: 0.2 * s, p: 0.8 };
  // ImageNet: jitter, grayscale, blur. CIFAR-10: jitter, random-threshold solarize, equalize.
  const distort: Partial<ViewSpec> = imagenet
    ? { colorJitter, grayscale: 0.2, blur: { p: 0.5 } }
    : { colorJitter, solarize: { p: 0.2, randomThreshold: true }, equalize: { p: 0.2 } };
  const normalize = options.normalize ?? true;
  const mean = normalize ? [...(imagenet ? IMAGENET_MEAN : CIFAR10_MEAN)] : [0, 0, 0];
  const std = normalize ? [...(imagenet ? IMAGENET_STD : CIFAR10_STD)] : [1, 1, 1];
  const mc = options.multicrop ?? 6;
  // paws_train.py: the large crops shrink less when small multicrop views are also taken.
  const defaultScale: [number, number] = imagenet ? (mc > 0 ? [0.14, 1] : [0.08, 1]) : mc > 0 ? [0.75, 1] : [0.5, 1];
  const views: ViewSpec[] = [
    {
      size: options.size ?? (imagenet ? 224 : 32),
      count: options.views ?? 2,
      scale: options.cropScale ?? defaultScale,
      interpolation: 'bilinear',
      flip: 0.5,
      ...distort,
    },
  ];
  if (mc > 0) {
    views.push({
      size: options.multicropSize ?? (imagenet ? 96 : 18),
      count: mc,
      scale: options.multicropScale ?? (imagenet ? [0.05, 0.14] : [0.3, 0.75]),
      interpolation: 'bilinear',
      flip: 0.5,
      ...distort,
    });
  }
  return { channels: 3, mean, std, views };
}

/** Evaluation transform: Resize(shorter side) + CenterCrop + Normalize (DINO eval: 256 / 224 bicubic). */
export interface EvalTransformOptions {
  size?: number;
  resize?: number;
  channels?: Channels;
  mean?: number[];
  std?: number[];
  interpolation?: Interpolation;
}

export type EvalTransformSpec = { kind: 'eval' } & EvalTransformOptions;

export function evalSpec(options: EvalTransformOptions = {}): MultiCropSpec {
  const channels = options.channels ?? 3;
  const size = options.size ?? 224;
  return {
    channels,
    mean: options.mean ?? (channels === 3 ? [...IMAGENET_MEAN] : [0.5]),
    std: options.std ?? (channels === 3 ? [...IMAGENET_STD] : [0.5]),
    views: [{ size, center: { resize: options.resize ?? Math.round((size * 256) / 224) }, interpolation: options.interpolation ?? 'bicubic' }],
  };
}

/** Any transform as plain data, so a worker thread can rebuild it with `buildTransform`. */
export type TransformSpec = DinoTransformSpec | PawsTransformSpec | EvalTransformSpec | ({ kind: 'multicrop' } & MultiCropSpec);

/** Rebuild a transform from its spec. */
export function buildTransform(spec: TransformSpec): MultiCrop {
  switch (spec?.kind) {
    case 'dino':
      return new DataAugmentationDINO(spec);
    case 'paws':
      return new MultiCrop(pawsSpec(spec));
    case 'eval':
      return new MultiCrop(evalSpec(spec));
    case 'multicrop':
      return new MultiCrop(spec);
    default:
      throw new RangeError(
        `buildTransform: unknown transform kind '${(spec as { kind?: unknown })?.kind}' (expected 'dino', 'paws', 'eval' or 'multicrop')`,
      );
  }
}
