/**
 * Wide ResNet as PAWS uses it for CIFAR-10 (suncet `src/wide_resnet.py`, `wide_resnet28w2`):
 * pre-activation wide blocks with biased convs, a shortcut conv taken from the block input, a final
 * BatchNorm with momentum 0.99 (as the official code sets it), ReLU and average pooling.
 */
import { tf } from '@ssl/tensor';
import type { Rng, Tensor } from '@ssl/tensor';
import type { Backbone, ForwardOptions } from './backbone.js';
import { BatchNorm, Conv2d, toRng } from './layers.js';
import type { InitRng } from './layers.js';
import { Module } from './module.js';

export interface WideResNetOptions {
  /** 6n + 4. Default 28. */
  depth?: number;
  widenFactor?: number;
  inChans?: number;
  seed?: InitRng;
}

const conv3 = (cin: number, cout: number, stride: number, rng: Rng) => new Conv2d(cin, cout, 3, { stride, padding: 1, rng });

class Shortcut extends Module {
  readonly conv: Conv2d;
  constructor(cin: number, cout: number, stride: number, rng: Rng) {
    super();
    this.conv = this.registerModule('0', new Conv2d(cin, cout, 1, { stride, rng }));
  }
}

class WideBasicBlock extends Module {
  readonly bn1: BatchNorm;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm;
  readonly conv2: Conv2d;
  readonly shortcut: Shortcut | null;
  constructor(cin: number, planes: number, stride: number, rng: Rng) {
    super();
    this.bn1 = this.registerModule('bn1', new BatchNorm(cin));
    this.conv1 = this.registerModule('conv1', conv3(cin, planes, 1, rng));
    this.bn2 = this.registerModule('bn2', new BatchNorm(planes));
    this.conv2 = this.registerModule('conv2', conv3(planes, planes, stride, rng));
    this.shortcut = stride !== 1 || cin !== planes ? this.registerModule('shortcut', new Shortcut(cin, planes, stride, rng)) : null;
  }
  forward(x: Tensor): Tensor {
    // PAWS trains with dropout_rate 0, so the official dropout is the identity here.
    const out = this.conv1.forward(tf.relu(this.bn1.forward(x)));
    const y = this.conv2.forward(tf.relu(this.bn2.forward(out)));
    return tf.add(y, this.shortcut ? this.shortcut.conv.forward(x) : x);
  }
}

class Stage extends Module {
  readonly blocks: WideBasicBlock[] = [];
  add(b: WideBasicBlock): void {
    this.blocks.push(this.registerModule(String(this.blocks.length), b));
  }
}

export class WideResNet extends Module implements Backbone {
  readonly numFeatures: number;
  readonly inChans: number;
  readonly conv1: Conv2d;
  readonly stages: Stage[];
  readonly bn1: BatchNorm;

  constructor(options: WideResNetOptions = {}) {
    super();
    const o = { depth: 28, widenFactor: 2, inChans: 3, ...options };
    if ((o.depth - 4) % 6 !== 0 || o.depth < 10) throw new Error(`WideResNet: depth must be 6n + 4 (>= 10), got ${o.depth}`);
    if (!Number.isInteger(o.widenFactor) || o.widenFactor < 1) throw new Error(`WideResNet: widenFactor must be a positive integer, got ${o.widenFactor}`);
    const rng = toRng(o.seed);
    const n = (o.depth - 4) / 6;
    const k = o.widenFactor;
    const widths = [16, 16 * k, 32 * k, 64 * k];
    this.inChans = o.inChans;
    this.conv1 = this.registerModule('conv1', conv3(o.inChans, 16, 1, rng));
    this.stages = [];
    let cin = 16;
    for (let s = 0; s < 3; s++) {
      const stage = this.registerModule(`layer${s + 1}`, new Stage());
      for (let i = 0; i < n; i++) {
        stage.add(new WideBasicBlock(cin, widths[s + 1] as number, i === 0 && s > 0 ? 2 : 1, rng));
        cin = widths[s + 1] as number;
      }
      this.stages.push(stage);
    }
    this.bn1 = this.registerModule('bn1', new BatchNorm(cin, { momentum: 0.99 }));
    this.numFeatures = cin;
  }

  forward(x: Tensor, _options: ForwardOptions = {}): Tensor {
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== this.inChans) {
      throw new Error(`WideResNet: input must be NHWC [B, H, W, ${this.inChans}], got ${x instanceof tf.Tensor ? `[${x.shape}]` : typeof x}`);
    }
    return tf.tidy(() => {
      let y = this.conv1.forward(x);
      for (const st of this.stages) for (const b of st.blocks) y = b.forward(y);
      return tf.mean(tf.relu(this.bn1.forward(y)), [1, 2]);
    });
  }
}
