/**
 * Named presets (DINO's `vits.__dict__[arch]` / torchvision's `resnet50()` style): each name maps to
 * a factory; options override the preset.
 */
import type { Backbone } from './backbone.js';
import { ResNet } from './resnet.js';
import type { ResNetOptions } from './resnet.js';
import { VisionTransformer } from './vision_transformer.js';
import type { VisionTransformerOptions } from './vision_transformer.js';
import { WideResNet } from './wide_resnet.js';
import type { WideResNetOptions } from './wide_resnet.js';

/** Options of any preset; each factory reads the ones of its family. */
export type ModelOptions = VisionTransformerOptions & ResNetOptions & WideResNetOptions;

type Factory = (options: ModelOptions) => Backbone;

const PRESETS = new Map<string, Factory>();

/** Add a preset to the registry (names are unique). */
export function registerModel(name: string, factory: Factory): void {
  if (PRESETS.has(name)) throw new Error(`registerModel: '${name}' is already registered`);
  PRESETS.set(name, factory);
}

/** Names of every preset. */
export function listModels(): string[] {
  return [...PRESETS.keys()];
}

/** Build a preset by name, e.g. `createModel('vit_small', { patchSize: 16 })` or `createModel('resnet50')`. */
export function createModel(name: string, options: ModelOptions = {}): Backbone {
  const f = PRESETS.get(name);
  if (!f) throw new Error(`createModel: unknown model '${name}'; known: ${listModels().join(', ')}`);
  return f(options);
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
  registerModel(name, (o) =>
    new VisionTransformer({ patchSize: p.patchSize, depth: p.depth, mlpRatio: 4, qkvBias: true, ...o, embedDim: o.embedDim ?? p.embedDim, numHeads: o.numHeads ?? p.numHeads }));
}

for (const [name, p] of Object.entries(RESNET_PRESETS)) {
  registerModel(name, (o) =>
    new ResNet({ block: p.block, layers: p.layers, cifarStem: p.cifarStem, ...(o.inChans !== undefined && { inChans: o.inChans }), ...(o.widen !== undefined && { widen: o.widen }), ...(o.baseWidth !== undefined && { baseWidth: o.baseWidth }), ...(o.layers !== undefined && { layers: o.layers }), ...(o.zeroInitResidual !== undefined && { zeroInitResidual: o.zeroInitResidual }), ...(o.seed !== undefined && { seed: o.seed }) }));
}
registerModel('wide_resnet28_2', (o) =>
  new WideResNet({ depth: 28, widenFactor: 2, ...(o.depth !== undefined && { depth: o.depth }), ...(o.inChans !== undefined && { inChans: o.inChans }), ...(o.seed !== undefined && { seed: o.seed }) }));
