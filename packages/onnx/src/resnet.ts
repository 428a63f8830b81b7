import { DType, encodeModel, GraphBuilder, type ModelMeta } from './graph.js';
import { inferModelSpec, type ResNetSpecOptions } from '@ssl/models';
import { take, type StateDict } from './state.js';

export interface ResNetExportConfig {
  /** BatchNorm epsilon (torchvision: 1e-5). */
  bnEps?: number;
}

/** The export's view of a ResNet: the model spec of @ssl/models, its feature width, and the `fc` classes if any. */
export interface ResNetShape extends ResNetSpecOptions {
  /** Channels of the pooled feature. */
  numFeatures: number;
  /** Classes of `fc` when the state dict has one (DINO backbones replace it by Identity). */
  numClasses: number | null;
}

/** Reads the spec with `inferModelSpec` (the one place that reads shapes off the official names). */
export function inferResNetShape(sd: StateDict): ResNetShape {
  const spec = inferModelSpec(sd);
  if (spec.arch !== 'resnet') throw new Error(`ResNet export: the state dict holds a ${spec.arch === 'vit' ? 'ViT' : 'Wide ResNet (exportWideResNet)'}, not a torchvision ResNet`);
  const o = spec.options;
  const last = `layer4.${o.layers[3] - 1}.${o.block === 'bottleneck' ? 'conv3' : 'conv2'}.weight`;
  const fc = sd['fc.weight'];
  return { ...o, numFeatures: take(sd, last).shape[0] as number, numClasses: fc ? (fc.shape[0] as number) : null };
}

/** The conv-net ops over a PyTorch state dict, shared by the ResNet and Wide ResNet graphs. */
export interface ConvOps {
  /** Adds the tensor `name` as an initializer (same name). */
  init(name: string): string;
  /** `${name}.weight` (OIHW) and `${name}.bias` when present; padding k/2 (7x7: 3, 3x3: 1, 1x1: 0). */
  conv(x: string, name: string, stride: number): string;
  /** Eval-mode BatchNormalization with the running statistics of `name`. */
  bn(x: string, name: string): string;
  relu(x: string): string;
}

export function convOps(g: GraphBuilder, sd: StateDict, eps: number): ConvOps {
  const init = (name: string): string => {
    const t = take(sd, name);
    return g.floatInit(name, t.data, t.shape);
  };
  const conv = (x: string, name: string, stride: number): string => {
    const w = take(sd, `${name}.weight`);
    if (w.shape.length !== 4) throw new Error(`state dict: "${name}.weight" is not a conv weight (OIHW)`);
    const k = w.shape[2] as number;
    const pad = Math.floor(k / 2);
    const inputs = [x, init(`${name}.weight`)];
    if (`${name}.bias` in sd) inputs.push(init(`${name}.bias`));
    return g.op('Conv', inputs, {
      kernel_shape: { ints: [k, w.shape[3] as number] },
      strides: { ints: [stride, stride] },
      pads: { ints: [pad, pad, pad, pad] },
    });
  };
  const bn = (x: string, name: string): string =>
    g.op('BatchNormalization', [x, init(`${name}.weight`), init(`${name}.bias`), init(`${name}.running_mean`), init(`${name}.running_var`)], {
      epsilon: { float: eps },
    });
  const relu = (x: string): string => g.op('Relu', [x]);
  return { init, conv, bn, relu };
}

/** Global average pool of `h` [B, F, H, W] as the graph output `features` [B, F]. */
export function poolFeatures(g: GraphBuilder, h: string, numFeatures: number): void {
  const pooled = g.op('GlobalAveragePool', [h]); // [B, F, 1, 1]
  g.op('Flatten', [pooled], { axis: { int: 1 } }, 'features'); // [B, F]
  g.output('features', DType.float, ['batch', numFeatures]);
}

/**
 * Builds the ONNX graph of a torchvision ResNet (v1.5: stride on the 3x3 conv of a bottleneck;
 * a 3x3 `conv1` means the CIFAR stem: stride 1, no max-pool) in eval mode: BatchNormalization with the running statistics (ORT folds it into the convs).
 *
 * Input `input` [B, C, H, W]; outputs `features` [B, F] (global average pool, the DINO/PAWS
 * backbone feature) and, when the state dict has `fc`, `logits` [B, classes].
 */
export function buildResNetGraph(sd: StateDict, config: ResNetExportConfig = {}): GraphBuilder {
  const s = inferResNetShape(sd);
  const eps = config.bnEps ?? 1e-5;
  const g = new GraphBuilder();
  const { init, conv, bn, relu } = convOps(g, sd, eps);

  const x = g.input('input', DType.float, ['batch', s.inChans, 'height', 'width']);
  let h = relu(bn(conv(x, 'conv1', s.cifarStem ? 1 : 2), 'bn1'));
  if (!s.cifarStem) h = g.op('MaxPool', [h], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } });
  s.layers.forEach((n, si) => {
    for (let bi = 0; bi < n; bi++) {
      const p = `layer${si + 1}.${bi}`;
      const stride = si > 0 && bi === 0 ? 2 : 1;
      let y: string;
      if (s.block === 'bottleneck') {
        y = relu(bn(conv(h, `${p}.conv1`, 1), `${p}.bn1`));
        y = relu(bn(conv(y, `${p}.conv2`, stride), `${p}.bn2`));
        y = bn(conv(y, `${p}.conv3`, 1), `${p}.bn3`);
      } else {
        y = relu(bn(conv(h, `${p}.conv1`, stride), `${p}.bn1`));
        y = bn(conv(y, `${p}.conv2`, 1), `${p}.bn2`);
      }
      const identity = `${p}.downsample.0.weight` in sd ? bn(conv(h, `${p}.downsample.0`, stride), `${p}.downsample.1`) : h;
      h = relu(g.op('Add', [y, identity]));
    }
  });
  poolFeatures(g, h, s.numFeatures);
  if (s.numClasses !== null) {
    g.op('Gemm', ['features', init('fc.weight'), init('fc.bias')], { transB: { int: 1 } }, 'logits');
    g.output('logits', DType.float, ['batch', s.numClasses]);
  }
  return g;
}

/** Serialises a torchvision-layout ResNet as ONNX bytes (see `buildResNetGraph`). */
export function exportResNet(sd: StateDict, config: ResNetExportConfig = {}, meta: ModelMeta = {}): Uint8Array {
  const s = inferResNetShape(sd);
  return encodeModel(buildResNetGraph(sd, config).toGraph('resnet'), {
    ...meta,
    metadata: {
      'ssl.arch': 'resnet',
      'ssl.block': s.block,
      'ssl.layers': s.layers.join(','),
      'ssl.num_features': String(s.numFeatures),
      'ssl.in_chans': String(s.inChans),
      'ssl.cifar_stem': String(s.cifarStem),
      ...meta.metadata,
    },
  });
}
