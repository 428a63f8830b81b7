import { RESNET_PRESETS, VIT_PRESETS, type ModelSpec } from '@ssl/models';

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

/** The registry presets of `@ssl/models` (dimensions only: the CLI needs them without building a model). */
export const ARCH_PRESETS: Record<string, ViTArch | ResNetArch> = {
  ...Object.fromEntries(Object.entries(VIT_PRESETS).map(([name, p]) => [name, { kind: 'vit', ...p } satisfies ViTArch])),
  vit: { kind: 'vit' },
  ...Object.fromEntries(Object.entries(RESNET_PRESETS).map(([name, p]) => [name, { kind: 'resnet', ...p, layers: [...p.layers] } satisfies ResNetArch])),
  // torchvision's resnet101: its checkpoints export to ONNX; it is not a training preset
  resnet101: { kind: 'resnet', block: 'bottleneck', layers: [3, 4, 23, 3] },
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
 * Checks the model spec read off the weights (@ssl/models' `inferModelSpec`) against the requested
 * architecture: a wrong --arch is a clear error, not a silently different model.
 */
export function checkArch(arch: ViTArch | ResNetArch | null, spec: ModelSpec): void {
  if (!arch) return;
  const held = spec.arch === 'vit' ? 'ViT' : spec.arch === 'resnet' ? 'ResNet' : 'Wide ResNet';
  if (arch.kind === 'resnet') {
    if (spec.arch !== 'resnet') throw new Error(`--arch: the weights hold a ${held}, not a ResNet`);
    const s = spec.options;
    if (arch.layers && arch.layers.join(',') !== s.layers.join(',')) {
      throw new Error(`weights are a ResNet with blocks [${s.layers.join(', ')}], not [${arch.layers.join(', ')}] as the --arch preset says`);
    }
    if (arch.block && arch.block !== s.block) throw new Error(`weights use ${s.block} blocks, the --arch preset says ${arch.block}`);
    if (arch.cifarStem !== undefined && arch.cifarStem !== s.cifarStem) {
      throw new Error(`weights have the ${s.cifarStem ? 'CIFAR (3x3)' : 'torchvision (7x7)'} stem, the --arch preset says otherwise`);
    }
    return;
  }
  if (spec.arch !== 'vit') throw new Error(`--arch: the weights hold a ${held}, not a ViT`);
  const s = spec.options;
  const pairs: [string, number | undefined, number][] = [
    ['embed-dim', arch.embedDim, s.embedDim],
    ['depth', arch.depth, s.depth],
    ['patch-size', arch.patchSize, s.patchSize],
    ['in-chans', arch.inChans, s.inChans],
  ];
  for (const [flag, want, got] of pairs) {
    if (want !== undefined && want !== got) throw new Error(`--${flag} ${want} does not match the weights (${got})`);
  }
}
