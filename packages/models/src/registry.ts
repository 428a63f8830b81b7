/**
 * Named presets (DINO's `vits.__dict__[arch]` / torchvision's `resnet50()` style): each name maps to
 * a factory; options override the preset.
 */
import type { Backbone } from './backbone.js';
import type { ModelSpec } from './spec.js';
import { ResNet } from './resnet.js';
import type { ResNetOptions } from './resnet.js';
import { VisionTransformer } from './vision_transformer.js';
import type { VisionTransformerOptions } from './vision_transformer.js';
import { WideResNet } from './wide_resnet.js';
import type { WideResNetOptions } from './wide_resnet.js';

/** The family of a preset: the `arch` of the model spec it builds. */
export type ModelFamily = ModelSpec['arch'];

/** Options of the presets of each family; each overrides the preset's own values. */
export interface ModelOptionsByFamily {
  vit: VisionTransformerOptions;
  resnet: ResNetOptions;
  wide_resnet: WideResNetOptions;
}

/**
 * Options of a preset, one family's (a ViT's `depth` is its blocks, a WRN's its layers; ResNets take
 * stage `layers`). `createModel` refuses options of another family than the preset's.
 */
export type ModelOptions = ModelOptionsByFamily[ModelFamily];

type Factory<F extends ModelFamily> = (options: ModelOptionsByFamily[F]) => Backbone;

interface Preset {
  family: ModelFamily;
  build: (options: ModelOptions) => Backbone;
}

/** The option names of each family, so options of another family are named as such, not ignored. */
const OPTION_KEYS = {
  vit: ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads', 'mlpRatio', 'qkvBias', 'dropPathRate', 'normEps', 'seed'],
  resnet: ['block', 'layers', 'cifarStem', 'inChans', 'widen', 'baseWidth', 'zeroInitResidual', 'seed'],
  wide_resnet: ['depth', 'widenFactor', 'inChans', 'seed'],
} as const satisfies { [F in ModelFamily]: readonly (keyof ModelOptionsByFamily[F])[] };
// Every option of each family is listed above (a new option that is not fails to compile here).
type Unlisted<F extends ModelFamily> = Exclude<keyof ModelOptionsByFamily[F], (typeof OPTION_KEYS)[F][number]>;
const everyOptionListed: [Unlisted<'vit'>, Unlisted<'resnet'>, Unlisted<'wide_resnet'>] extends [never, never, never] ? true : false = true;
void everyOptionListed;

const PRESETS = new Map<string, Preset>();

/** Add a preset of `family` to the registry (names are unique). */
export function registerModel<F extends ModelFamily>(name: string, family: F, factory: Factory<F>): void {
  if (PRESETS.has(name)) throw new Error(`registerModel: '${name}' is already registered`);
  if (!(family in OPTION_KEYS)) throw new Error(`registerModel: unknown family '${String(family)}' (${Object.keys(OPTION_KEYS).join(', ')})`);
  PRESETS.set(name, { family, build: factory as Preset['build'] });
}

/** Names of every preset. */
export function listModels(): string[] {
  return [...PRESETS.keys()];
}

function preset(name: string): Preset {
  const p = PRESETS.get(name);
  if (!p) throw new Error(`createModel: unknown model '${name}'; known: ${listModels().join(', ')}`);
  return p;
}

/** The family of a preset (`vit`, `resnet`, `wide_resnet`): which options it takes, which spec it builds. */
export function modelFamily(name: string): ModelFamily {
  return preset(name).family;
}

/**
 * Build a preset by name, e.g. `createModel('vit_small', { patchSize: 16 })` or
 * `createModel('resnet50')`. Options must be of the preset's family (`modelFamily(name)`).
 */
export function createModel<F extends ModelFamily = ModelFamily>(name: string, options: ModelOptionsByFamily[F] = {}): Backbone {
  const p = preset(name);
  const known: readonly string[] = OPTION_KEYS[p.family];
  const foreign = Object.keys(options).filter((k) => !known.includes(k) && (options as Record<string, unknown>)[k] !== undefined);
  if (foreign.length) {
    throw new Error(`createModel('${name}'): ${foreign.map((k) => `'${k}'`).join(', ')} ${foreign.length > 1 ? 'are' : 'is'} no ${p.family} option; ${p.family} options: ${known.join(', ')}`);
  }
  return p.build(options);
}

/** Dimensions of the ViT presets (DINO's vision_transformer.py), as data for tools that need them without a model. */
export const VIT_PRESETS = {
  vit_tiny: { embedDim: 192, depth: 12, numHeads: 3, patchSize: 16 },
  vit_small: { embedDim: 384, depth: 12, numHeads: 6, patchSize: 16 },
  vit_base: { embedDim: 768, depth: 12, numHeads: 12, patchSize: 16 },
} as const;

/** Block type and stage depths of the ResNet presets (torchvision; `_cifar`: 3x3 stride-1 stem, no max-pool). */
export const RESNET_PRESETS: Record<string, { block: 'basic' | 'bottleneck'; layers: [number, number, number, number]; cifarStem: boolean }> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2], cifarStem: false },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3], cifarStem: false },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3], cifarStem: false },
  resnet18_cifar: { block: 'basic', layers: [2, 2, 2, 2], cifarStem: true },
  resnet34_cifar: { block: 'basic', layers: [3, 4, 6, 3], cifarStem: true },
  resnet50_cifar: { block: 'bottleneck', layers: [3, 4, 6, 3], cifarStem: true },
};

for (const [name, p] of Object.entries(VIT_PRESETS)) {
  registerModel(name, 'vit', (o) => new VisionTransformer({ patchSize: p.patchSize, depth: p.depth, mlpRatio: 4, qkvBias: true, embedDim: p.embedDim, numHeads: p.numHeads, ...defined(o) }));
}
for (const [name, p] of Object.entries(RESNET_PRESETS)) {
  registerModel(name, 'resnet', (o) => new ResNet({ block: p.block, layers: p.layers, cifarStem: p.cifarStem, ...defined(o) }));
}
registerModel('wide_resnet28_2', 'wide_resnet', (o) => new WideResNet({ depth: 28, widenFactor: 2, ...defined(o) }));

/** Options without the keys set to undefined, so they do not override a preset's values. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
