import { detectArch, inferModelSpec, type ModelSpec, type VitSpecOptions } from '@ssl/models';
import type { ModelMeta } from './graph.js';
import { exportResNet, type ResNetExportConfig } from './resnet.js';
import type { StateDict } from './state.js';
import { exportViT, type ViTExportConfig } from './vit.js';
import { exportWideResNet } from './wide_resnet.js';

export interface ExportOptions {
  /**
   * ViT heads, which the weights cannot tell. Default: what the file records (`recorded`), else the
   * official preset of the width (192: 3, 384: 6, 768: 12); otherwise an error asks for --num-heads.
   */
  numHeads?: number;
  /** What the weights' file records about a ViT (from `readWeights` of @ssl/models). */
  recorded?: Partial<VitSpecOptions>;
  layerNormEps?: ViTExportConfig['layerNormEps'];
  bnEps?: ResNetExportConfig['bnEps'];
  meta?: ModelMeta;
}

export interface ExportResult {
  arch: 'vit' | 'resnet' | 'wide_resnet';
  /** The model spec exported (from @ssl/models' `inferModelSpec`). */
  spec: ModelSpec;
  bytes: Uint8Array;
}

/**
 * Exports a backbone state dict under the official names (as `loadWeights` of @ssl/models returns
 * it: sections chosen and prefixes stripped there) as ONNX; the architecture is read from the
 * weights by @ssl/models' `inferModelSpec`.
 */
export function exportStateDict(sd: StateDict, options: ExportOptions = {}): ExportResult {
  const arch = detectArch(sd);
  if (arch === null) {
    const sample = Object.keys(sd).slice(0, 5).join(', ');
    throw new Error(`exportStateDict: found neither a ViT ("patch_embed.proj.weight") nor a ResNet or Wide ResNet ("conv1.weight") in the state dict; keys start with: ${sample}`);
  }
  const spec = inferModelSpec(sd, {
    ...(options.numHeads !== undefined ? { numHeads: options.numHeads } : {}),
    ...(options.recorded ? { recorded: options.recorded } : {}),
  });
  if (spec.arch === 'vit') {
    const cfg: ViTExportConfig = { numHeads: spec.options.numHeads };
    const eps = options.layerNormEps ?? spec.options.normEps;
    if (eps !== undefined) cfg.layerNormEps = eps;
    return { arch: 'vit', spec, bytes: exportViT(sd, cfg, options.meta) };
  }
  const cfg: ResNetExportConfig = {};
  if (options.bnEps !== undefined) cfg.bnEps = options.bnEps;
  if (spec.arch === 'resnet') return { arch: 'resnet', spec, bytes: exportResNet(sd, cfg, options.meta) };
  return { arch: 'wide_resnet', spec, bytes: exportWideResNet(sd, cfg, options.meta) };
}
