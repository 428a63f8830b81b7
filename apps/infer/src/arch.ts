import { inferResNetShape, inferViTShape, type StateDict } from '@ssl/onnx';

/** Architecture flags: a preset name plus optional custom dimensions that override it. */
export interface ArchFlags {
  arch?: string;
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  patchSize?: number;
  inChans?: number;
}

export interface ViTArch {
  kind: 'vit';
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  patchSize?: number;
  inChans?: number;
}

export interface ResNetArch {
  kind: 'resnet';
  layers?: number[];
  block?: 'basic' | 'bottleneck';
  cifarStem?: boolean;
}

/**
 * DINO's ViT presets (vision_transformer.py) and torchvision's ResNets, as the same names in
 * `@ssl/models`' registry; kept as data here because the CLI needs the dimensions without
 * building a model.
 */
export const ARCH_PRESETS: Record<string, ViTArch | ResNetArch> = {
  vit_tiny: { kind: 'vit', embedDim: 192, depth: 12, numHeads: 3, patchSize: 16 },
  vit_small: { kind: 'vit', embedDim: 384, depth: 12, numHeads: 6, patchSize: 16 },
  vit_base: { kind: 'vit', embedDim: 768, depth: 12, numHeads: 12, patchSize: 16 },
  vit: { kind: 'vit' },
  resnet18: { kind: 'resnet', block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { kind: 'resnet', block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { kind: 'resnet', block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { kind: 'resnet', block: 'bottleneck', layers: [3, 4, 23, 3] },
  resnet18_cifar: { kind: 'resnet', block: 'basic', layers: [2, 2, 2, 2], cifarStem: true },
  resnet34_cifar: { kind: 'resnet', block: 'basic', layers: [3, 4, 6, 3], cifarStem: true },
  resnet50_cifar: { kind: 'resnet', block: 'bottleneck', layers: [3, 4, 6, 3], cifarStem: true },
  resnet: { kind: 'resnet' },
};

/** Resolves flags to an architecture; custom dims override the preset (`--arch vit_small --patch-size 8`). */
export function resolveArch(flags: ArchFlags): ViTArch | ResNetArch | null {
  const custom = flags.embedDim ?? flags.depth ?? flags.numHeads ?? flags.patchSize;
  if (!flags.arch && custom === undefined && flags.inChans === undefined) return null;
  const name = flags.arch ?? 'vit';
  const preset = ARCH_PRESETS[name];
  if (!preset) throw new Error(`--arch: unknown "${name}"; presets: ${Object.keys(ARCH_PRESETS).join(', ')}`);
  if (preset.kind === 'resnet') {
    if (custom !== undefined) throw new Error(`--arch ${name}: --embed-dim/--depth/--num-heads/--patch-size are ViT flags`);
    return preset;
  }
  const out: ViTArch = { ...preset };
  if (flags.embedDim !== undefined) out.embedDim = flags.embedDim;
  if (flags.depth !== undefined) out.depth = flags.depth;
  if (flags.numHeads !== undefined) out.numHeads = flags.numHeads;
  if (flags.patchSize !== undefined) out.patchSize = flags.patchSize;
  if (flags.inChans !== undefined) out.inChans = flags.inChans;
  return out;
}

/**
 * Checks the weights against the requested architecture (a wrong --arch is a clear error, not a
 * silently different model) and returns the ViT head count to export with.
 */
export function checkArch(arch: ViTArch | ResNetArch | null, sd: StateDict): { numHeads?: number } {
  if (!arch) return {};
  if (arch.kind === 'resnet') {
    const s = inferResNetShape(sd);
    if (arch.layers && arch.layers.join(',') !== s.layers.join(',')) {
      throw new Error(`weights are a ResNet with blocks [${s.layers.join(', ')}], not [${arch.layers.join(', ')}] as the --arch preset says`);
    }
    if (arch.block && arch.block !== s.block) throw new Error(`weights use ${s.block} blocks, the --arch preset says ${arch.block}`);
    if (arch.cifarStem !== undefined && arch.cifarStem !== s.cifarStem) {
      throw new Error(`weights have the ${s.cifarStem ? 'CIFAR (3x3)' : 'torchvision (7x7)'} stem, the --arch preset says otherwise`);
    }
    return {};
  }
  const s = inferViTShape(sd);
  const pairs: [string, number | undefined, number][] = [
    ['embed-dim', arch.embedDim, s.embedDim],
    ['depth', arch.depth, s.depth],
    ['patch-size', arch.patchSize, s.patchSize],
    ['in-chans', arch.inChans, s.inChans],
  ];
  for (const [flag, want, got] of pairs) {
    if (want !== undefined && want !== got) throw new Error(`--${flag} ${want} does not match the weights (${got})`);
  }
  const out: { numHeads?: number } = {};
  if (arch.numHeads !== undefined) out.numHeads = arch.numHeads;
  return out;
}
