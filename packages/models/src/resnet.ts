/**
 * ResNet with torchvision's layout and state-dict names (`conv1`, `bn1`, `layer1.0.conv1`,
 * `layer2.0.downsample.0`, ...), as DINO and PAWS use it: the output is the pooled feature (fc
 * removed). Bottleneck strides on its 3x3 conv (torchvision v1.5). The CIFAR stem variant replaces
 * the 7x7/2 conv and max-pool with a 3x3/1 conv. Inputs are NHWC.
 */
import { tf } from '@ssl/tensor';
import type { Rng, Tensor } from '@ssl/tensor';
import type { Backbone, ForwardOptions } from './backbone.js';
import { BatchNorm, Conv2d, toRng } from './layers.js';
import type { InitRng } from './layers.js';
import { Module } from './module.js';

export type ResNetBlock = 'basic' | 'bottleneck';

export interface ResNetOptions {
  block?: ResNetBlock;
  /** Blocks per stage, e.g. [3, 4, 6, 3] for ResNet-50. */
  layers?: [number, number, number, number];
  /** 3x3 stride-1 first conv and no max-pool, for 32px inputs. Default false. */
  cifarStem?: boolean;
  inChans?: number;
  /** Width multiplier of PAWS's ResNet (`resnet50w2`: 2). Default 1. */
  widen?: number;
  /** Channels of the stem and first stage before `widen` (64 in every standard ResNet); smaller for tests. */
  baseWidth?: number;
  /** Zero the last BatchNorm gain of every residual branch (torchvision option). Default false. */
  zeroInitResidual?: boolean;
  seed?: InitRng;
}

const conv = (cin: number, cout: number, k: number, stride: number, rng: Rng) =>
  new Conv2d(cin, cout, k, { stride, padding: (k - 1) / 2, bias: false, init: 'kaiming_fan_out', rng });

/** `downsample = Sequential(conv1x1(stride), BatchNorm)`: keys `downsample.0.weight`, `downsample.1.*`. */
class Downsample extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  constructor(cin: number, cout: number, stride: number, rng: Rng) {
    super();
    this.conv = this.registerModule('0', conv(cin, cout, 1, stride, rng));
    this.bn = this.registerModule('1', new BatchNorm(cout));
  }
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x));
  }
}

class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly downsample: Downsample | null;
  constructor(cin: number, planes: number, stride: number, down: boolean, rng: Rng) {
    super();
    this.conv1 = this.registerModule('conv1', conv(cin, planes, 3, stride, rng));
    this.bn1 = this.registerModule('bn1', new BatchNorm(planes));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, 1, rng));
    this.bn2 = this.registerModule('bn2', new BatchNorm(planes));
    this.downsample = down ? this.registerModule('downsample', new Downsample(cin, planes, stride, rng)) : null;
  }
  get lastBn(): BatchNorm {
    return this.bn2;
  }
  forward(x: Tensor): Tensor {
    const y = this.bn2.forward(this.conv2.forward(tf.relu(this.bn1.forward(this.conv1.forward(x)))));
    return tf.relu(tf.add(y, this.downsample ? this.downsample.forward(x) : x));
  }
}

class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm;
  readonly downsample: Downsample | null;
  constructor(cin: number, planes: number, stride: number, down: boolean, rng: Rng) {
    super();
    const out = planes * 4;
    this.conv1 = this.registerModule('conv1', conv(cin, planes, 1, 1, rng));
    this.bn1 = this.registerModule('bn1', new BatchNorm(planes));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, stride, rng));
    this.bn2 = this.registerModule('bn2', new BatchNorm(planes));
    this.conv3 = this.registerModule('conv3', conv(planes, out, 1, 1, rng));
    this.bn3 = this.registerModule('bn3', new BatchNorm(out));
    this.downsample = down ? this.registerModule('downsample', new Downsample(cin, out, stride, rng)) : null;
  }
  get lastBn(): BatchNorm {
    return this.bn3;
  }
  forward(x: Tensor): Tensor {
    let y = tf.relu(this.bn1.forward(this.conv1.forward(x)));
    y = tf.relu(this.bn2.forward(this.conv2.forward(y)));
    y = this.bn3.forward(this.conv3.forward(y));
    return tf.relu(tf.add(y, this.downsample ? this.downsample.forward(x) : x));
  }
}

/** `nn.Sequential` of blocks: keys `layerN.0.*`, `layerN.1.*`, ... */
class Stage extends Module {
  readonly blocks: Array<BasicBlock | Bottleneck> = [];
  add(b: BasicBlock | Bottleneck): void {
    this.blocks.push(this.registerModule(String(this.blocks.length), b));
  }
  forward(x: Tensor): Tensor {
    for (const b of this.blocks) x = b.forward(x);
    return x;
  }
}

export class ResNet extends Module implements Backbone {
  readonly numFeatures: number;
  readonly inChans: number;
  readonly cifarStem: boolean;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly stages: Stage[];

  constructor(options: ResNetOptions = {}) {
    super();
    const o = { block: 'bottleneck' as ResNetBlock, layers: [3, 4, 6, 3], cifarStem: false, inChans: 3, widen: 1, baseWidth: 64, zeroInitResidual: false, ...options };
    if (o.block !== 'basic' && o.block !== 'bottleneck') throw new Error(`ResNet: block must be 'basic' or 'bottleneck', got '${o.block}'`);
    if (!Array.isArray(o.layers) || o.layers.length !== 4 || !o.layers.every((n) => Number.isInteger(n) && n >= 1)) {
      throw new Error(`ResNet: layers must be 4 positive integers, got ${JSON.stringify(o.layers)}`);
    }
    if (!Number.isInteger(o.widen) || o.widen < 1) throw new Error(`ResNet: widen must be a positive integer, got ${o.widen}`);
    if (!Number.isInteger(o.baseWidth) || o.baseWidth < 1) throw new Error(`ResNet: baseWidth must be a positive integer, got ${o.baseWidth}`);
    const rng = toRng(o.seed);
    const Block = o.block === 'basic' ? BasicBlock : Bottleneck;
    this.inChans = o.inChans;
    this.cifarStem = o.cifarStem;
    let inplanes = o.baseWidth * o.widen;
    this.conv1 = this.registerModule('conv1', o.cifarStem ? conv(o.inChans, inplanes, 3, 1, rng) : conv(o.inChans, inplanes, 7, 2, rng));
    this.bn1 = this.registerModule('bn1', new BatchNorm(inplanes));
    this.stages = [];
    for (let s = 0; s < 4; s++) {
      const planes = o.baseWidth * o.widen * 2 ** s;
      const stride = s === 0 ? 1 : 2;
      const stage = this.registerModule(`layer${s + 1}`, new Stage());
      for (let i = 0; i < (o.layers[s] as number); i++) {
        const down = i === 0 && (stride !== 1 || inplanes !== planes * Block.expansion);
        stage.add(new Block(inplanes, planes, i === 0 ? stride : 1, down, rng));
        inplanes = planes * Block.expansion;
      }
      this.stages.push(stage);
    }
    this.numFeatures = inplanes;
    if (o.zeroInitResidual) {
      for (const st of this.stages) for (const b of st.blocks) tf.tidy(() => b.lastBn.weight.assign(tf.zerosLike(b.lastBn.weight)));
    }
  }

  /** `[B, H, W, C]` -> pooled features `[B, numFeatures]`. */
  forward(x: Tensor, _options: ForwardOptions = {}): Tensor {
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[3] !== this.inChans) {
      throw new Error(`ResNet: input must be NHWC [B, H, W, ${this.inChans}], got ${x instanceof tf.Tensor ? `[${x.shape}]` : typeof x}`);
    }
    return tf.tidy(() => {
      let y = tf.relu(this.bn1.forward(this.conv1.forward(x)));
      if (!this.cifarStem) y = tf.maxPool(y as tf.Tensor4D, 3, 2, 1);
      for (const st of this.stages) y = st.forward(y);
      return tf.mean(y, [1, 2]); // adaptive average pool to 1x1, flattened
    });
  }
}
