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

const vit = (embedDim: number, numHeads: number): Factory => (o) =>
  new VisionTransformer({ patchSize: 16, depth: 12, mlpRatio: 4, qkvBias: true, ...o, embedDim: o.embedDim ?? embedDim, numHeads: o.numHeads ?? numHeads });
registerModel('vit_tiny', vit(192, 3));
registerModel('vit_small', vit(384, 6));
registerModel('vit_base', vit(768, 12));

const resnet = (block: 'basic' | 'bottleneck', layers: [number, number, number, number], cifarStem: boolean): Factory => (o) =>
  new ResNet({ block, layers, cifarStem, ...(o.inChans !== undefined && { inChans: o.inChans }), ...(o.widen !== undefined && { widen: o.widen }), ...(o.baseWidth !== undefined && { baseWidth: o.baseWidth }), ...(o.layers !== undefined && { layers: o.layers }), ...(o.zeroInitResidual !== undefined && { zeroInitResidual: o.zeroInitResidual }), ...(o.seed !== undefined && { seed: o.seed }) });
registerModel('resnet18', resnet('basic', [2, 2, 2, 2], false));
registerModel('resnet34', resnet('basic', [3, 4, 6, 3], false));
registerModel('resnet50', resnet('bottleneck', [3, 4, 6, 3], false));
registerModel('resnet18_cifar', resnet('basic', [2, 2, 2, 2], true));
registerModel('resnet34_cifar', resnet('basic', [3, 4, 6, 3], true));
registerModel('resnet50_cifar', resnet('bottleneck', [3, 4, 6, 3], true));
registerModel('wide_resnet28_2', (o) =>
  new WideResNet({ depth: 28, widenFactor: 2, ...(o.depth !== undefined && { depth: o.depth }), ...(o.inChans !== undefined && { inChans: o.inChans }), ...(o.seed !== undefined && { seed: o.seed }) }));
