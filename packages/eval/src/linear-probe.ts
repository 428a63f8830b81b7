import { randomResizedCropParams } from '@ssl/augment';
import { SGD } from '@ssl/optim';
import { Rng, tf, type RngSeed } from '@ssl/tensor';
import { classRank } from './knn.js';
import type { Embed, ImageBatchSource } from './features.js';
import { labelArray, type LabelInput } from './matrix.js';

/**
 * The linear-probe training augmentation of eval_linear, on an NHWC batch: RandomResizedCrop
 * back to the input size (bilinear, torchvision's crop parameters from `@ssl/augment`) and a
 * horizontal flip with probability 0.5, drawn from `rng`. Works on tensors so that frozen-backbone
 * training needs no decode step per epoch.
 */
export function resizedCropFlip(images: tf.Tensor4D, rng: Rng): tf.Tensor4D {
  const [B, H, W] = images.shape;
  const boxes: number[][] = [];
  for (let b = 0; b < B; b++) {
    const { top, left, height: h, width: w } = randomResizedCropParams(H, W, [0.08, 1], [3 / 4, 4 / 3], rng);
    // pixel-corner box in normalised coordinates; a flip swaps x1 and x2
    let x1 = left / (W - 1 || 1);
    let x2 = (left + w - 1) / (W - 1 || 1);
    if (rng.bernoulli(0.5)) [x1, x2] = [x2, x1];
    boxes.push([top / (H - 1 || 1), x1, (top + h - 1) / (H - 1 || 1), x2]);
  }
  return tf.tidy(() =>
    tf.image.cropAndResize(images, tf.tensor2d(boxes, [B, 4]), tf.range(0, B, 1, 'int32') as tf.Tensor1D, [H, W], 'bilinear'),
  );
}

export interface LinearProbeOptions {
  /** Frozen backbone: images -> `[B, D]` (e.g. `linearProbeFeatures` of a ViT, or CLS). */
  embed: Embed;
  train: ImageBatchSource;
  trainLabels: LabelInput;
  numClasses: number;
  /** Epochs; official 100. Small-data default 20. */
  epochs?: number;
  /**
   * Learning rate for batch 256 (scaled by batchSize / 256, the linear scaling rule). Official 0.001
   * for ~125k ImageNet steps; the small-data default is 1 (a few hundred steps on thousands of images).
   */
  lr?: number;
  /** Official 128 per GPU. Small-data default 64. */
  batchSize?: number;
  /** Training augmentation of each batch (default `resizedCropFlip`); `null` trains on plain images. */
  augment?: ((images: tf.Tensor4D, rng: Rng) => tf.Tensor4D) | null;
  seed?: RngSeed;
  /** Start from these parameters instead of N(0, 0.01) / zeros (warm start, tests). */
  init?: { weight: Float32Array; bias: Float32Array };
  /** Called after each epoch with the mean training loss and the learning rate used. */
  onEpoch?: (epoch: number, loss: number, lr: number) => void;
}

/** A trained linear classifier over frozen features (PyTorch names: `linear.weight` [C, D], `linear.bias` [C]). */
export interface LinearProbe {
  weight: tf.Tensor2D;
  bias: tf.Tensor1D;
  /** Logits `[B, C]` of the embedded images. */
  predict(images: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/**
 * Train a linear classifier on a frozen backbone as DINO eval_linear: `nn.Linear(D, C)` with
 * weight ~ N(0, 0.01) and zero bias, cross-entropy, SGD momentum 0.9 without weight decay, lr
 * scaled by batchSize / 256, cosine annealing to 0 stepped once per epoch; each epoch visits the
 * training set in a seeded random order with random-resized-crop + flip. The official defaults
 * are epochs 100, lr 0.001, batch 128; the defaults here (see `LinearProbeOptions`) are for
 * small data on CPU.
 */
export async function trainLinearProbe(options: LinearProbeOptions): Promise<LinearProbe> {
  const { embed, train, numClasses } = options;
  const epochs = options.epochs ?? 20;
  const batchSize = options.batchSize ?? 64;
  const baseLr = (options.lr ?? 1) * (batchSize / 256);
  const augment = options.augment === undefined ? resizedCropFlip : options.augment;
  const rng = new Rng(options.seed ?? 0, 'linear-probe');
  const labels = labelArray(options.trainLabels, 'trainLabels', train.size, numClasses);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`epochs must be a positive integer, got ${epochs}`);
  if (train.size < 1) throw new Error('train: empty training set');

  // the feature dimension, from one image
  const probe = await train.batch(0, 1);
  const D = tf.tidy(() => embed(probe).shape[1] as number);
  probe.dispose();

  const initRng = rng.fork('init');
  if (options.init && (options.init.weight.length !== numClasses * D || options.init.bias.length !== numClasses)) {
    throw new Error(`init: expected weight [${numClasses}, ${D}] and bias [${numClasses}]`);
  }
  const w0 = options.init?.weight ?? initRng.normalArray(numClasses * D, 0, 0.01);
  const b0 = options.init?.bias ?? new Float32Array(numClasses);
  // built inside tidy so the initial-value tensors are released (variables survive a tidy)
  const weight = tf.tidy(() => tf.variable(tf.tensor2d(w0, [numClasses, D]), true));
  const bias = tf.tidy(() => tf.variable(tf.tensor1d(b0), true));
  const sgd = new SGD([{ params: [['linear.weight', weight], ['linear.bias', bias]] }], { lr: baseLr, momentum: 0.9, weightDecay: 0 });

  const logits = (feats: tf.Tensor2D): tf.Tensor2D => tf.add(tf.matMul(feats, weight, false, true), bias) as tf.Tensor2D;

  for (let epoch = 0; epoch < epochs; epoch++) {
    // CosineAnnealingLR(T_max=epochs, eta_min=0), stepped after each epoch
    const lr = (baseLr * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
    sgd.setSchedule(lr);
    const order = rng.fork('epoch', epoch).permutation(train.size);
    const augRng = rng.fork('augment', epoch);
    let lossSum = 0;
    let batches = 0;
    for (let s = 0; s < train.size; s += batchSize) {
      const idx = order.subarray(s, Math.min(train.size, s + batchSize));
      const images = await gatherBatch(train, idx);
      const feats = tf.tidy(() => {
        const x = augment ? augment(images, augRng) : images;
        return embed(x) as tf.Tensor2D;
      });
      images.dispose();
      const y = tf.tensor1d(Int32Array.from(idx, (i) => labels[i] as number), 'int32');
      const { value, grads } = tf.variableGrads(() => {
        const z = logits(feats);
        const onehot = tf.oneHot(y, numClasses);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(z)), 1))) as tf.Scalar;
      }, [weight, bias]);
      lossSum += (await value.data())[0] as number;
      batches++;
      sgd.step({ 'linear.weight': grads[weight.name], 'linear.bias': grads[bias.name] });
      tf.dispose([value, y, feats, ...Object.values(grads)]);
    }
    options.onEpoch?.(epoch, lossSum / batches, lr);
  }
  sgd.dispose();
  return {
    weight,
    bias,
    predict: (images) => tf.tidy(() => logits(embed(images) as tf.Tensor2D)),
    dispose: () => tf.dispose([weight, bias]),
  };
}

async function gatherBatch(source: ImageBatchSource, idx: Int32Array): Promise<tf.Tensor4D> {
  const parts: tf.Tensor4D[] = [];
  for (const i of idx) parts.push(await source.batch(i, i + 1));
  const out = tf.concat(parts, 0) as tf.Tensor4D;
  tf.dispose(parts);
  return out;
}

/** top-1 / top-5 accuracy (percent) of a probe on a labelled image set, as validate_network. */
export async function evaluateLinearProbe(
  probe: LinearProbe,
  test: ImageBatchSource,
  testLabels: LabelInput,
  options: { batchSize?: number } = {},
): Promise<{ top1: number; top5: number }> {
  const batchSize = options.batchSize ?? 128;
  const C = probe.bias.shape[0] as number;
  const y = labelArray(testLabels, 'testLabels', test.size, C);
  const m = Math.min(5, C);
  let top1 = 0;
  let top5 = 0;
  for (let s = 0; s < test.size; s += batchSize) {
    const e = Math.min(test.size, s + batchSize);
    const images = await test.batch(s, e);
    const z = probe.predict(images);
    images.dispose();
    const v = await z.data();
    z.dispose();
    for (let i = 0; i < e - s; i++) {
      const r = classRank(v, i * C, C, y[s + i] as number);
      if (r === 0) top1++;
      if (r < m) top5++;
    }
  }
  return { top1: (100 * top1) / test.size, top5: (100 * top5) / test.size };
}
