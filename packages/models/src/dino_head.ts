/**
 * DINO projection head (`DINOHead` in DINO's `vision_transformer.py`) and `MultiCropWrapper`
 * (DINO's `utils.py`).
 */
import { tf } from '@ssl/tensor';
import type { Tensor, Variable } from '@ssl/tensor';
import type { Backbone, ForwardOptions } from './backbone.js';
import { BatchNorm, Linear, gelu, toRng, uniform } from './layers.js';
import type { InitRng } from './layers.js';
import { Module } from './module.js';

export interface DINOHeadOptions {
  inDim: number;
  outDim: number;
  /** BatchNorm after each hidden Linear (official default false). */
  useBn?: boolean;
  /** Fix the weight-norm gain `last_layer.weight_g` to 1 and freeze it (official default true). */
  normLastLayer?: boolean;
  nlayers?: number;
  hiddenDim?: number;
  bottleneckDim?: number;
  seed?: InitRng;
}

/** `weight_norm(nn.Linear(in, out, bias=False))`: weight = g * v / ||v|| per output row. */
export class WeightNormLinear extends Module {
  readonly weightG: Variable;
  readonly weightV: Variable;
  constructor(inDim: number, outDim: number, frozenGain: boolean, seed: InitRng) {
    super();
    // g: [out, 1] filled with 1 (the official code overwrites ||v|| with 1); v keeps PyTorch's default init.
    this.weightG = this.registerParameter('weight_g', tf.ones([outDim, 1]), { trainable: !frozenGain });
    this.weightV = this.registerParameter('weight_v', uniform([outDim, inDim], 1 / Math.sqrt(inDim), toRng(seed)));
  }

  forward(x: Tensor): Tensor {
    const norm = tf.sqrt(tf.sum(tf.square(this.weightV), 1, true)); // [out, 1]
    const w = tf.mul(this.weightV, tf.div(this.weightG, norm)); // [out, in]
    return tf.matMul(x, w, false, true);
  }
}

/** Numbered children, as `nn.Sequential` names them (`mlp.0.weight`, `mlp.2.weight`, ...). */
class Sequential extends Module {
  readonly steps: Array<(x: Tensor) => Tensor> = [];
  add(m: Linear | BatchNorm | null, fn?: (x: Tensor) => Tensor): void {
    const index = this.steps.length;
    if (m) {
      this.registerModule(String(index), m);
      this.steps.push((x) => m.forward(x));
    } else {
      this.steps.push(fn as (x: Tensor) => Tensor);
    }
  }
  forward(x: Tensor): Tensor {
    for (const f of this.steps) x = f(x);
    return x;
  }
}

export class DINOHead extends Module {
  readonly inDim: number;
  readonly outDim: number;
  readonly mlp: Sequential | Linear;
  readonly lastLayer: WeightNormLinear;

  constructor(options: DINOHeadOptions) {
    super();
    const o = { useBn: false, normLastLayer: true, nlayers: 3, hiddenDim: 2048, bottleneckDim: 256, ...options };
    for (const k of ['inDim', 'outDim', 'hiddenDim', 'bottleneckDim'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`DINOHead: ${k} must be a positive integer, got ${o[k]}`);
    }
    this.inDim = o.inDim;
    this.outDim = o.outDim;
    const rng = toRng(o.seed);
    const nlayers = Math.max(o.nlayers, 1);
    const lin = (i: number, out: number) => new Linear(i, out, { init: 'trunc_normal', rng });
    if (nlayers === 1) {
      this.mlp = this.registerModule('mlp', lin(o.inDim, o.bottleneckDim));
    } else {
      const seq = new Sequential();
      seq.add(lin(o.inDim, o.hiddenDim));
      if (o.useBn) seq.add(new BatchNorm(o.hiddenDim));
      seq.add(null, gelu);
      for (let i = 0; i < nlayers - 2; i++) {
        seq.add(lin(o.hiddenDim, o.hiddenDim));
        if (o.useBn) seq.add(new BatchNorm(o.hiddenDim));
        seq.add(null, gelu);
      }
      seq.add(lin(o.hiddenDim, o.bottleneckDim));
      this.mlp = this.registerModule('mlp', seq);
    }
    this.lastLayer = this.registerModule('last_layer', new WeightNormLinear(o.bottleneckDim, o.outDim, o.normLastLayer, rng.fork('last_layer')));
  }

  /** `[B, inDim]` -> `[B, outDim]`: MLP, L2 normalisation (eps 1e-12), weight-normalised last layer. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inDim) {
      throw new Error(`DINOHead: input must be [B, ${this.inDim}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const y = this.mlp.forward(x);
      const n = tf.maximum(tf.sqrt(tf.sum(tf.square(y), 1, true)), 1e-12);
      return this.lastLayer.forward(tf.div(y, n));
    });
  }
}

/** Something with a `forward(x) -> [B, D]`, used as a head. */
export interface Head extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * DINO's `MultiCropWrapper`: consecutive crops of one resolution go through the backbone together
 * (one concatenated batch), the features of all crops through the head once.
 * State-dict keys: `backbone.*`, `head.*`.
 */
export class MultiCropWrapper<B extends Backbone = Backbone, H extends Head = Head> extends Module {
  readonly backbone: B;
  readonly head: H;
  constructor(backbone: B, head: H) {
    super();
    this.backbone = this.registerModule('backbone', backbone);
    this.head = this.registerModule('head', head);
  }

  /** Backbone features of all crops in order, `[sum B_i, numFeatures]`. */
  forwardBackbone(crops: Tensor | Tensor[], options: ForwardOptions = {}): Tensor {
    const list = Array.isArray(crops) ? crops : [crops];
    if (list.length === 0) throw new Error('MultiCropWrapper: need at least one crop batch');
    return tf.tidy(() => {
      const feats: Tensor[] = [];
      for (const group of groupByResolution(list)) {
        const batch = group.length === 1 ? (group[0] as Tensor) : tf.concat(group, 0);
        feats.push(this.backbone.forward(batch, options));
      }
      return feats.length === 1 ? (feats[0] as Tensor) : tf.concat(feats, 0);
    });
  }

  /** Head outputs of all crops in order, `[sum B_i, outDim]`. */
  forward(crops: Tensor | Tensor[], options: ForwardOptions = {}): Tensor {
    return tf.tidy(() => this.head.forward(this.forwardBackbone(crops, options)));
  }
}

/** Runs of consecutive batches with the same H x W (the official code compares widths only). */
export function groupByResolution(list: Tensor[]): Tensor[][] {
  const groups: Tensor[][] = [];
  let key = '';
  for (const [i, t] of list.entries()) {
    if (!(t instanceof tf.Tensor) || t.rank !== 4) throw new Error(`MultiCropWrapper: crop ${i} must be an NHWC tensor [B, H, W, C]`);
    const k = `${t.shape[1]}x${t.shape[2]}`;
    if (k !== key || groups.length === 0) groups.push([]);
    (groups[groups.length - 1] as Tensor[]).push(t);
    key = k;
  }
  return groups;
}
