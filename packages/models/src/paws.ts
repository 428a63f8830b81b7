/**
 * PAWS heads and model (suncet `src/paws_train.py` `init_model`, `src/resnet.py` /
 * `src/wide_resnet.py` forward). The backbone's keys stay at the top level (`conv1.weight`, ...)
 * and the heads are `fc.*` (projection) and `pred.*` (prediction), as in official checkpoints.
 */
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import type { Backbone, ForwardOptions } from './backbone.js';
import { groupByResolution } from './dino_head.js';
import { BatchNorm, Linear, toRng } from './layers.js';
import type { InitRng } from './layers.js';
import { Module } from './module.js';

/** Projection head: fc1 - bn1 - relu - fc2 - bn2 - relu - fc3 (keys `fc1`, `bn1`, `fc2`, `bn2`, `fc3`). */
export class PAWSProjectionHead extends Module {
  readonly fc1: Linear;
  readonly bn1: BatchNorm;
  readonly fc2: Linear;
  readonly bn2: BatchNorm;
  readonly fc3: Linear;
  constructor(readonly inDim: number, hiddenDim: number, readonly outputDim: number, seed?: InitRng) {
    super();
    const rng = toRng(seed);
    this.fc1 = this.registerModule('fc1', new Linear(inDim, hiddenDim, { rng }));
    this.bn1 = this.registerModule('bn1', new BatchNorm(hiddenDim));
    this.fc2 = this.registerModule('fc2', new Linear(hiddenDim, hiddenDim, { rng }));
    this.bn2 = this.registerModule('bn2', new BatchNorm(hiddenDim));
    this.fc3 = this.registerModule('fc3', new Linear(hiddenDim, outputDim, { rng }));
  }
  forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const y = tf.relu(this.bn1.forward(this.fc1.forward(x)));
      return this.fc3.forward(tf.relu(this.bn2.forward(this.fc2.forward(y))));
    });
  }
}

/** Prediction head: bn1 - fc1 (to dim/4) - bn2 - relu - fc2 (keys `bn1`, `fc1`, `bn2`, `fc2`). */
export class PAWSPredictionHead extends Module {
  readonly bn1: BatchNorm;
  readonly fc1: Linear;
  readonly bn2: BatchNorm;
  readonly fc2: Linear;
  constructor(readonly dim: number, seed?: InitRng) {
    super();
    const rng = toRng(seed);
    const mid = Math.floor(dim / 4); // "4x bottleneck prediction head"
    if (mid < 1) throw new Error(`PAWSPredictionHead: outputDim must be at least 4, got ${dim}`);
    this.bn1 = this.registerModule('bn1', new BatchNorm(dim));
    this.fc1 = this.registerModule('fc1', new Linear(dim, mid, { rng }));
    this.bn2 = this.registerModule('bn2', new BatchNorm(mid));
    this.fc2 = this.registerModule('fc2', new Linear(mid, dim, { rng }));
  }
  forward(x: Tensor): Tensor {
    return tf.tidy(() => this.fc2.forward(tf.relu(this.bn2.forward(this.fc1.forward(this.bn1.forward(x))))));
  }
}

export interface PAWSModelOptions {
  /** Projection width; default the backbone's feature width (2048 for ResNet-50, 128 for WRN-28-2, as official). */
  hiddenDim?: number;
  /** Default 128 (official `output_dim`). */
  outputDim?: number;
  /** Prediction head on top of the projection (official `use_pred_head`). Default true. */
  usePred?: boolean;
  seed?: InitRng;
}

export interface PAWSForwardOptions extends ForwardOptions {
  /** Return `{ h, z }` (projection output and prediction) instead of `z` (official `return_before_head`). */
  returnBeforeHead?: boolean;
}

/**
 * PAWS encoder: backbone + projection head (`fc`) + optional prediction head (`pred`). As the
 * official forward, each run of same-resolution crops goes through backbone, projection and
 * prediction on its own (so BatchNorm statistics are per resolution group), and the results are
 * concatenated: `h` = projection output, `z` = prediction (or `h` without a prediction head).
 */
export class PAWSModel<B extends Backbone = Backbone> extends Module {
  readonly backbone: B;
  readonly fc: PAWSProjectionHead;
  readonly pred: PAWSPredictionHead | null;

  constructor(backbone: B, options: PAWSModelOptions = {}) {
    super();
    const rng = toRng(options.seed);
    const hidden = options.hiddenDim ?? backbone.numFeatures;
    const out = options.outputDim ?? 128;
    this.backbone = this.registerModule('', backbone);
    this.fc = this.registerModule('fc', new PAWSProjectionHead(backbone.numFeatures, hidden, out, rng.fork('fc')));
    this.pred = options.usePred ?? true ? this.registerModule('pred', new PAWSPredictionHead(out, rng.fork('pred'))) : null;
  }

  forward(inputs: Tensor | Tensor[], options?: PAWSForwardOptions & { returnBeforeHead?: false }): Tensor;
  forward(inputs: Tensor | Tensor[], options: PAWSForwardOptions & { returnBeforeHead: true }): { h: Tensor; z: Tensor };
  forward(inputs: Tensor | Tensor[], options: PAWSForwardOptions = {}): Tensor | { h: Tensor; z: Tensor } {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length === 0) throw new Error('PAWSModel: need at least one input batch');
    const out = tf.tidy(() => {
      const hs: Tensor[] = [];
      const zs: Tensor[] = [];
      for (const group of groupByResolution(list)) {
        const batch = group.length === 1 ? (group[0] as Tensor) : tf.concat(group, 0);
        const h = this.fc.forward(this.backbone.forward(batch, options));
        hs.push(h);
        zs.push(this.pred ? this.pred.forward(h) : h);
      }
      const cat = (ts: Tensor[]) => (ts.length === 1 ? (ts[0] as Tensor) : tf.concat(ts, 0));
      const h = cat(hs);
      return { h, z: this.pred ? cat(zs) : h };
    });
    if (options.returnBeforeHead) return out;
    if (out.h !== out.z) out.h.dispose();
    return out.z;
  }
}
