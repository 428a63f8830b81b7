/**
 * One model spec, `{ arch, options }` with options typed per family, from checkpoint to backbone:
 * recorded by our trainer, read off an official state dict where a file does not say it, and
 * turned into a model by `buildModel`.
 */
import type { Backbone } from './backbone.js';
import type { InitRng } from './layers.js';
import { VIT_PRESETS } from './registry.js';
import { ResNet } from './resnet.js';
import type { ResNetBlock } from './resnet.js';
import { VisionTransformer } from './vision_transformer.js';
import { WideResNet } from './wide_resnet.js';

export interface VitSpecOptions {
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  inChans: number;
  /** Training image size (the position-embedding grid times the patch size). */
  imgSize: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** LayerNorm eps; the DINO presets use 1e-6. */
  normEps?: number;
}

export interface ResNetSpecOptions {
  block: ResNetBlock;
  layers: [number, number, number, number];
  /** 3x3 stride-1 stem without max-pool (CIFAR) instead of torchvision's 7x7/2 + max-pool. */
  cifarStem: boolean;
  inChans: number;
  /** Channels of the stem (torchvision: 64, times the width multiplier). */
  baseWidth: number;
}

export interface WideResNetSpecOptions {
  depth: number;
  widenFactor: number;
  inChans: number;
}

export type ModelSpec =
  | { arch: 'vit'; options: VitSpecOptions }
  | { arch: 'resnet'; options: ResNetSpecOptions }
  | { arch: 'wide_resnet'; options: WideResNetSpecOptions };

/** What `inferModelSpec` needs of a tensor: its shape (tf tensors and checkpoint tensors both fit). */
export type ShapeDict = Record<string, { readonly shape: readonly number[] }>;

export class MissingNumHeadsError extends Error {
  override name = 'MissingNumHeadsError';
}

/** Heads of the official DINO ViT presets by width (vit_tiny 192: 3, vit_small 384: 6, vit_base 768: 12). */
export function presetNumHeads(embedDim: number): number | undefined {
  return Object.values(VIT_PRESETS).find((p) => p.embedDim === embedDim)?.numHeads;
}

function shapeOf(sd: ShapeDict, key: string, rank: number): number[] {
  const t = sd[key];
  if (!t) throw new Error(`state dict: no '${key}'`);
  if (t.shape.length !== rank) throw new Error(`state dict: '${key}' has shape [${t.shape.join(', ')}], expected rank ${rank}`);
  return [...t.shape];
}

function countIndexed(sd: ShapeDict, make: (i: number) => string): number {
  let n = 0;
  while (make(n) in sd) n++;
  return n;
}

/** The family a backbone state dict (official names, prefixes already removed) belongs to, or null. */
export function detectArch(sd: ShapeDict): ModelSpec['arch'] | null {
  if ('patch_embed.proj.weight' in sd && 'cls_token' in sd) return 'vit';
  if ('conv1.weight' in sd && 'layer1.0.conv1.weight' in sd) {
    // PAWS's WRN has three stages of pre-activation blocks (bn1 before conv1 on the block input);
    // torchvision ResNets have four.
    return 'layer4.0.conv1.weight' in sd ? 'resnet' : 'wide_resnet';
  }
  return null;
}

export interface InferSpecOptions {
  /** ViT heads when the file does not record them (a state dict cannot tell them). */
  numHeads?: number;
  /** What the file recorded (a checkpoint's spec, `args.arch`): used where the weights cannot tell. */
  recorded?: Partial<VitSpecOptions>;
  /** Names the weights in errors. */
  name?: string;
}

/**
 * The model spec of a backbone state dict under the official names: ViT patch size, width, depth,
 * in-channels, MLP ratio, qkv bias and position-embedding grid; ResNet block type, stage depths,
 * stem and width; WRN depth and widening. ViT heads come from `numHeads`, then `recorded`, then
 * the official preset of that width; otherwise a `MissingNumHeadsError` asks for `--num-heads`.
 */
export function inferModelSpec(sd: ShapeDict, options: InferSpecOptions = {}): ModelSpec {
  const name = options.name ?? 'weights';
  const arch = detectArch(sd);
  if (arch === 'vit') {
    const [embedDim, inChans, patchSize, pw] = shapeOf(sd, 'patch_embed.proj.weight', 4) as [number, number, number, number];
    if (patchSize !== pw) throw new Error(`${name}: non-square patches ${patchSize}x${pw} are not supported`);
    const depth = countIndexed(sd, (i) => `blocks.${i}.attn.qkv.weight`);
    if (depth === 0) throw new Error(`${name}: a ViT without blocks.0.attn.qkv.weight`);
    const n = (shapeOf(sd, 'pos_embed', 3)[1] as number) - 1;
    const grid = Math.round(Math.sqrt(n));
    if (grid * grid !== n) throw new Error(`${name}: pos_embed holds ${n} patch positions, not a square grid`);
    const hidden = shapeOf(sd, 'blocks.0.mlp.fc1.weight', 2)[0] as number;
    const numHeads = options.numHeads ?? options.recorded?.numHeads ?? presetNumHeads(embedDim);
    if (numHeads === undefined) {
      throw new MissingNumHeadsError(
        `${name}: a ViT of width ${embedDim}, which is no official preset (192, 384, 768), and the file does not record its number of heads; give it (--num-heads)`,
      );
    }
    if (!Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
      throw new Error(`${name}: ${numHeads} heads do not divide the width ${embedDim}`);
    }
    const options_: VitSpecOptions = {
      embedDim, depth, numHeads, patchSize, inChans, imgSize: grid * patchSize, mlpRatio: hidden / embedDim, qkvBias: 'blocks.0.attn.qkv.bias' in sd,
    };
    if (options.recorded?.normEps !== undefined) options_.normEps = options.recorded.normEps;
    return { arch: 'vit', options: options_ };
  }
  if (arch === 'resnet') {
    const [stem, inChans, k] = shapeOf(sd, 'conv1.weight', 4) as [number, number, number, number];
    const layers = [1, 2, 3, 4].map((s) => countIndexed(sd, (i) => `layer${s}.${i}.conv1.weight`)) as [number, number, number, number];
    return {
      arch: 'resnet',
      options: { block: 'layer1.0.conv3.weight' in sd ? 'bottleneck' : 'basic', layers, cifarStem: k === 3, inChans, baseWidth: stem },
    };
  }
  if (arch === 'wide_resnet') {
    const inChans = shapeOf(sd, 'conv1.weight', 4)[1] as number;
    const n = countIndexed(sd, (i) => `layer1.${i}.conv1.weight`);
    const width = shapeOf(sd, 'layer1.0.conv1.weight', 4)[0] as number;
    if (width % 16 !== 0) throw new Error(`${name}: WRN stage-1 width ${width} is not a multiple of 16`);
    return { arch: 'wide_resnet', options: { depth: 6 * n + 4, widenFactor: width / 16, inChans } };
  }
  const sample = Object.keys(sd).slice(0, 6).join(', ');
  throw new Error(`${name}: no ViT (patch_embed.proj.weight, cls_token), ResNet or WRN (conv1.weight, layer1.0.conv1.weight) backbone found; keys start with: ${sample}`);
}

/** A new backbone for a spec (initial weights from `seed`). */
export function buildModel(spec: ModelSpec, options: { seed?: InitRng } = {}): Backbone {
  const seed = options.seed !== undefined ? { seed: options.seed } : {};
  switch (spec.arch) {
    case 'vit':
      return new VisionTransformer({ ...spec.options, ...seed });
    case 'resnet':
      return new ResNet({ ...spec.options, ...seed });
    case 'wide_resnet':
      return new WideResNet({ ...spec.options, ...seed });
    default:
      throw new Error(`buildModel: unknown arch '${(spec as { arch: unknown }).arch}' (vit, resnet, wide_resnet)`);
  }
}

/** Checks a value read from a file (JSON) is a ModelSpec; returns it typed, or throws naming the problem. */
export function parseModelSpec(v: unknown, where: string): ModelSpec {
  const o = v as { arch?: unknown; options?: unknown };
  if (!o || typeof o !== 'object' || typeof o.options !== 'object' || o.options === null) {
    throw new Error(`${where}: a model spec must be { arch, options }`);
  }
  if (o.arch !== 'vit' && o.arch !== 'resnet' && o.arch !== 'wide_resnet') {
    throw new Error(`${where}: unknown arch ${JSON.stringify(o.arch)} (vit, resnet, wide_resnet)`);
  }
  return o as ModelSpec;
}

/** The spec of a live backbone (what a checkpoint records). */
export function specOf(model: Backbone): ModelSpec {
  if (model instanceof VisionTransformer) {
    return inferModelSpec(shapesOnly(model.stateDictShapes()), { numHeads: model.numHeads });
  }
  return inferModelSpec(shapesOnly(model.stateDictShapes()));
}

function shapesOnly(shapes: Record<string, number[]>): ShapeDict {
  const out: ShapeDict = {};
  for (const [k, shape] of Object.entries(shapes)) out[k] = { shape };
  return out;
}
