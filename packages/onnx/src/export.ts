import type { ModelMeta } from './graph.js';
import { exportResNet, type ResNetExportConfig } from './resnet.js';
import { backboneStateDict, type StateDict } from './state.js';
import { defaultNumHeads, exportViT, inferViTShape, type ViTExportConfig } from './vit.js';

export interface ExportOptions {
  /** ViT heads; defaults to the DINO preset for the width (192: 3, 384: 6, 768: 12); required for other widths. */
  numHeads?: number;
  layerNormEps?: ViTExportConfig['layerNormEps'];
  bnEps?: ResNetExportConfig['bnEps'];
  meta?: ModelMeta;
}

export interface ExportResult {
  arch: 'vit' | 'resnet';
  /** The prefix the backbone was found under (e.g. `teacher.backbone.`). */
  prefix: string;
  bytes: Uint8Array;
}

/**
 * Exports the backbone found in a state dict (a bare backbone, or a DINO/PAWS checkpoint where
 * the teacher is preferred) as ONNX; the architecture is read from the official names.
 */
export function exportStateDict(sd: StateDict, options: ExportOptions = {}): ExportResult {
  if (Object.keys(sd).some((k) => k.endsWith('patch_embed.proj.weight'))) {
    const { prefix, state } = backboneStateDict(sd, 'patch_embed.proj.weight');
    const width = inferViTShape(state).embedDim;
    const numHeads = options.numHeads ?? defaultNumHeads(width);
    if (numHeads === undefined) {
      throw new Error(`ViT export: width ${width} is no DINO preset (192, 384, 768) and the weights do not tell the number of heads; give numHeads (--num-heads)`);
    }
    const cfg: ViTExportConfig = { numHeads };
    if (options.layerNormEps !== undefined) cfg.layerNormEps = options.layerNormEps;
    return { arch: 'vit', prefix, bytes: exportViT(state, cfg, options.meta) };
  }
  if (Object.keys(sd).some((k) => k.endsWith('conv1.weight') && !k.includes('layer'))) {
    const { prefix, state } = backboneStateDict(sd, 'conv1.weight');
    const cfg: ResNetExportConfig = {};
    if (options.bnEps !== undefined) cfg.bnEps = options.bnEps;
    return { arch: 'resnet', prefix, bytes: exportResNet(state, cfg, options.meta) };
  }
  throw new Error('exportStateDict: found neither a ViT ("patch_embed.proj.weight") nor a ResNet ("conv1.weight") in the state dict');
}
