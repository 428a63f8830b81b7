/**
 * Named presets (DINO's `vits.__dict__[arch]` / torchvision's `resnet50()` style): each name maps to
 * a factory; options override the preset.
 */
import type { Backbone } from './backbone.js';
import { VisionTransformer } from './vision_transformer.js';
import type { VisionTransformerOptions } from './vision_transformer.js';

export type ModelOptions = VisionTransformerOptions;

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
