import { inferModelSpec, type WideResNetSpecOptions } from '@ssl/models';
import { DType, encodeModel, GraphBuilder, type ModelMeta } from './graph.js';
import { convOps, poolFeatures, type ResNetExportConfig } from './resnet.js';
import type { StateDict } from './state.js';

/** The export's view of a Wide ResNet: the model spec of @ssl/models and its feature width (64 * widenFactor). */
export interface WideResNetShape extends WideResNetSpecOptions {
  numFeatures: number;
}

/** Reads the spec with `inferModelSpec` (the one place that reads shapes off the official names). */
export function inferWideResNetShape(sd: StateDict): WideResNetShape {
  const spec = inferModelSpec(sd);
  if (spec.arch !== 'wide_resnet') throw new Error(`Wide ResNet export: the state dict holds a ${spec.arch === 'vit' ? 'ViT' : 'torchvision ResNet'}, not a Wide ResNet`);
  return { ...spec.options, numFeatures: 64 * spec.options.widenFactor };
}

/**
 * Builds the ONNX graph of the PAWS Wide ResNet (suncet `src/wide_resnet.py`, as @ssl/models'
 * `WideResNet`) in eval mode: a 3x3 stem conv, pre-activation blocks (BN-ReLU-conv1, BN-ReLU-conv2
 * with the stage's stride, plus the block input or its 1x1 `shortcut.0` conv), a final BN-ReLU and
 * the global average pool. Dropout is the identity (PAWS trains with rate 0).
 *
 * Input `input` [B, C, H, W]; output `features` [B, 64 * widenFactor].
 */
export function buildWideResNetGraph(sd: StateDict, config: ResNetExportConfig = {}): GraphBuilder {
  const s = inferWideResNetShape(sd);
  const g = new GraphBuilder();
  const { conv, bn, relu } = convOps(g, sd, config.bnEps ?? 1e-5);
  const x = g.input('input', DType.float, ['batch', s.inChans, 'height', 'width']);
  let h = conv(x, 'conv1', 1);
  const n = (s.depth - 4) / 6;
  for (let si = 0; si < 3; si++) {
    for (let bi = 0; bi < n; bi++) {
      const p = `layer${si + 1}.${bi}`;
      const stride = si > 0 && bi === 0 ? 2 : 1;
      const y = conv(relu(bn(h, `${p}.bn1`)), `${p}.conv1`, 1);
      const out = conv(relu(bn(y, `${p}.bn2`)), `${p}.conv2`, stride);
      const shortcut = `${p}.shortcut.0.weight` in sd ? conv(h, `${p}.shortcut.0`, stride) : h;
      h = g.op('Add', [out, shortcut]);
    }
  }
  poolFeatures(g, relu(bn(h, 'bn1')), s.numFeatures);
  return g;
}

/** Serialises a PAWS Wide ResNet state dict as ONNX bytes (see `buildWideResNetGraph`). */
export function exportWideResNet(sd: StateDict, config: ResNetExportConfig = {}, meta: ModelMeta = {}): Uint8Array {
  const s = inferWideResNetShape(sd);
  return encodeModel(buildWideResNetGraph(sd, config).toGraph('wide_resnet'), {
    ...meta,
    metadata: {
      'ssl.arch': 'wide_resnet',
      'ssl.depth': String(s.depth),
      'ssl.widen_factor': String(s.widenFactor),
      'ssl.num_features': String(s.numFeatures),
      'ssl.in_chans': String(s.inChans),
      ...meta.metadata,
    },
  });
}
