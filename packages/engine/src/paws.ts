import { makeLabelsMatrix, pawsLoss } from '@ssl/losses';
import type { Module } from '@ssl/models';
import { AdamW, LARS, WarmupCosineSchedule, getParamsGroups, gradsByParamName, pawsParamGroups } from '@ssl/optim';
import type { Optimizer, OptimizerState } from '@ssl/optim';
import { autocast, tf, variableGrads } from '@ssl/tensor';
import type { Precision, Scalar, Tensor } from '@ssl/tensor';
import { prefixed, section } from './checkpoint.js';
import { checkEpochs, moduleRngs, NonFiniteLossError, resolveGroups, runTrainLoop, stepPrecision, viewTensors } from './train-common.js';
import type { BatchSource, ConfigInput, EpochStats, TrainBatch, TrainLoopCore, TrainLoopOptions, TrainLoopResult } from './train-common.js';

/**
 * PAWS config fields the loop reads, by group under the official names of suncet configs/paws/*.yaml
 * (`ssl-train paws`'s resolved config passes as it is); defaults in `PAWS_DEFAULTS` (cifar10_train.yaml).
 */
export interface PawsConfig {
  criterion: {
    me_max: boolean;
    supervised_views: number;
    classes_per_batch: number;
    supervised_imgs_per_class: number;
    unsupervised_batch_size: number;
    /** Cosine-similarity temperature tau. */
    temperature: number;
    /** Target sharpening temperature T. */
    sharpen: number;
  };
  data: { multicrop: number; label_smoothing: number };
  optimization: {
    /**
     * 'lars' (official: PAWS SGD inside LARS, biases and BN excluded) or 'adamw' (ours, for ViTs:
     * `torch.optim.AdamW` with DINO's groups; the PAWS authors' ViT follow-up, MSN, uses AdamW).
     * LARS leaves excluded parameters to plain SGD at the full lr (3.2 on CIFAR-10): harmless for a
     * ResNet's few biases and BN, but it blows up the many biases of a ViT.
     */
    optimizer: 'lars' | 'adamw';
    weight_decay: number;
    epochs: number;
    /** Warm-up epochs. */
    warmup: number;
    start_lr: number;
    lr: number;
    final_lr: number;
    momentum: number;
    nesterov: boolean;
    /** LARS trust coefficient (paws_train.init_opt: 0.001). */
    trust_coefficient: number;
  };
  /** Keep `checkpoint<epoch:04>` when epoch % saveckp_freq == 0 (0: never); `checkpoint` every epoch. */
  logging: { saveckp_freq: number };
  runtime: {
    seed: number;
    /**
     * Matmuls and convolutions of the forward and backward pass in bf16 (official `use_fp16`);
     * 'auto': bf16 where the CPU runs it. Default fp32.
     */
    precision: Precision | 'auto';
  };
}

export const PAWS_DEFAULTS: PawsConfig = {
  criterion: {
    me_max: true, supervised_views: 2, classes_per_batch: 10, supervised_imgs_per_class: 64, unsupervised_batch_size: 256, temperature: 0.1, sharpen: 0.25,
  },
  data: { multicrop: 6, label_smoothing: 0.1 },
  optimization: {
    optimizer: 'lars', weight_decay: 1e-6, epochs: 600, warmup: 10, start_lr: 0.8, lr: 3.2, final_lr: 0.032, momentum: 0.9, nesterov: false,
    trust_coefficient: 0.001,
  },
  logging: { saveckp_freq: 50 },
  runtime: { seed: 0, precision: 'fp32' },
};

/** A PAWS encoder (`@ssl/models` PAWSModel): projection output h and prediction z of all crops. */
export interface PawsNetwork extends Module {
  forward(inputs: Tensor[], options: { returnBeforeHead: true }): { h: Tensor; z: Tensor };
}

/** Support batches by global iteration (`ClassStratifiedSupport`). */
export interface SupportSource {
  batch(step: number): Promise<TrainBatch>;
}

export interface PawsStepEvent {
  epoch: number;
  iteration: number;
  step: number;
  /** ploss + me-max. */
  loss: number;
  ploss: number;
  rloss: number;
  lr: number;
  imagesPerSec: number;
  seconds: number;
}

export interface PawsEpochStats extends EpochStats {
  train_loss: number;
  train_ploss: number;
  train_rloss: number;
  train_lr: number;
}

/** The loop options (resume, stopAtEpoch, hooks, mid-epoch checkpoints: see `TrainLoopOptions`) and the PAWS parts. */
export interface TrainPawsOptions extends TrainLoopOptions<PawsStepEvent, PawsEpochStats> {
  encoder: PawsNetwork;
  /** Unlabelled views: 2 large + `multicrop` small per image, batch `unsupervisedBatchSize`. */
  loader: BatchSource;
  /** Labelled support batches: `supervisedViews` views of classesPerBatch * supervisedImgsPerClass images. */
  support: SupportSource;
  /** Config groups (partial: the rest from `PAWS_DEFAULTS`). */
  config?: ConfigInput<PawsConfig>;
  /** Where checkpoints and logs go. */
  outputDir: string;
}

export type TrainPawsResult = TrainLoopResult<PawsEpochStats>;

function makeOptimizer(o: PawsConfig['optimization'], encoder: Module): Optimizer {
  if (o.optimizer === 'lars') {
    return new LARS(pawsParamGroups(encoder.namedParameters()), {
      lr: o.lr, weightDecay: o.weight_decay, momentum: o.momentum, nesterov: o.nesterov, trustCoefficient: o.trust_coefficient,
    });
  }
  // decoupled decay on weights only (DINO's get_params_groups); lr from the same warm-up cosine schedule
  if (o.optimizer === 'adamw') return new AdamW(getParamsGroups(encoder.namedParameters()), { lr: o.lr, weightDecay: o.weight_decay });
  throw new Error(`trainPaws: optimizer must be 'lars' or 'adamw', got '${o.optimizer}'`);
}

/**
 * PAWS pretraining as suncet `paws_train.py`: per iteration, the support batch then the
 * unlabelled views through the encoder together; anchors = prediction z, targets = projection h
 * (no gradient) with the two large views swapped; PAWS loss + me-max; gradients; LARS (PAWS SGD,
 * bias/BN excluded; or AdamW) at this iteration's WarmupCosineSchedule lr. A checkpoint after each epoch;
 * resume, mid-epoch checkpoints, `shouldStop` and the hooks are the shared `runTrainLoop`'s.
 */
export async function trainPaws(options: TrainPawsOptions): Promise<TrainPawsResult> {
  if (typeof options.outputDir !== 'string' || !options.outputDir) throw new Error(`trainPaws: outputDir must be a directory path, got ${String(options.outputDir)}`);
  const cfg = resolveGroups('trainPaws', PAWS_DEFAULTS, options.config);
  const { criterion: c, data: d, optimization: o } = cfg;
  const { encoder, loader, support } = options;
  const stopAt = checkEpochs('trainPaws', o.epochs, options.stopAtEpoch);
  const ipe = loader.length(0);
  if (!Number.isInteger(ipe) || ipe < 1) throw new Error(`trainPaws: the loader yields no batch per epoch (length ${ipe})`);

  const paws = pawsLoss({ multicrop: d.multicrop, tau: c.temperature, T: c.sharpen, meMax: c.me_max });
  // before any tensor is made: an unknown optimizer name leaks nothing
  const optimizer = makeOptimizer(o, encoder);
  // -- support images are sampled class-stratified, so the labels are a fixed matrix
  const labels = tf.tidy(() => {
    const m = makeLabelsMatrix({ numClasses: c.classes_per_batch, sBatchSize: c.supervised_imgs_per_class, smoothing: d.label_smoothing });
    return tf.concat(Array.from({ length: c.supervised_views }, () => m), 0);
  });
  const lrSchedule = (epochs: number) =>
    new WarmupCosineSchedule({ warmupSteps: Math.round(o.warmup * ipe), startLr: o.start_lr, refLr: o.lr, finalLr: o.final_lr, tMax: epochs * ipe });
  let schedule = lrSchedule(o.epochs);
  const named = encoder.namedParameters().filter(([, v]) => v.trainable);
  const vars = named.map(([, v]) => v);
  const numSupport = c.supervised_views * c.supervised_imgs_per_class * c.classes_per_batch;
  const core: TrainLoopCore<PawsStepEvent> = {
    name: 'trainPaws',
    kind: 'paws',
    config: cfg,
    outputDir: options.outputDir,
    loader,
    rngs: moduleRngs('encoder', encoder),
    setEpochs: (epochs) => {
      schedule = lrSchedule(epochs);
      o.epochs = epochs;
    },
    restore(ck) {
      encoder.loadStateDict(section(ck.tensors, 'encoder'));
      optimizer.setState({ tensors: section(ck.tensors, 'optimizer'), scalars: ck.state.optimizer as OptimizerState['scalars'] });
    },
    snapshot() {
      const opt = optimizer.getState();
      return { tensors: { ...prefixed('encoder', encoder.stateDict()), ...prefixed('optimizer', opt.tensors) }, optimizer: opt.scalars };
    },
    async step(ubatch, { epoch, iteration, step: g }, lastCheckpoint) {
      const lr = schedule.lr(g);
      optimizer.setSchedule(lr);
      const sbatch = await support.batch(g);
      const simgs = viewTensors(sbatch);
      const uimgs = viewTensors(ubatch);
      let ploss = Number.NaN;
      let rloss = Number.NaN;
      let parts: Tensor[] = [];
      let lossValue: number;
      const U = uimgs[0]?.shape[0] as number;
      try {
        if (uimgs.length !== 2 + d.multicrop) {
          throw new Error(`trainPaws: unlabelled batches must have ${2 + d.multicrop} views (2 + multicrop), got ${uimgs.length}`);
        }
        if (simgs.length !== c.supervised_views || simgs[0]?.shape[0] !== numSupport / c.supervised_views) {
          throw new Error(
            `trainPaws: support batches must have ${c.supervised_views} views of ${numSupport / c.supervised_views} images, got ${simgs.length} of ${simgs[0]?.shape[0]}`,
          );
        }
        // Mixed precision (official use_fp16): forward and backward under one autocast.
        const { value, grads } = autocast(stepPrecision(cfg.runtime.precision), () => variableGrads(() => {
          // h: before the prediction head, z: after it
          const { h, z } = encoder.forward([...simgs, ...uimgs], { returnBeforeHead: true });
          const d = z.shape[1] as number;
          const rows = z.shape[0] as number;
          const anchorSupports = tf.slice(z, [0, 0], [numSupport, d]);
          const anchorViews = tf.slice(z, [numSupport, 0], [rows - numSupport, d]);
          const targetSupports = tf.slice(h, [0, 0], [numSupport, d]);
          // targets: the two large views swapped
          const targetViews = tf.concat([tf.slice(h, [numSupport + U, 0], [U, d]), tf.slice(h, [numSupport, 0], [U, d])], 0);
          const out = paws(anchorViews, anchorSupports, labels, targetViews, targetSupports, labels);
          // kept past the tape's scope and read after it (a GPU tensor has no dataSync in Node)
          parts = [tf.keep(out.loss), tf.keep(out.rloss)];
          return tf.add(out.loss, out.rloss) as Scalar;
        }, vars));
        const [pv, rv, lv] = await Promise.all([...parts, value].map((t) => t.data()));
        tf.dispose([...parts, value]);
        ploss = pv![0] as number;
        rloss = rv![0] as number;
        lossValue = lv![0] as number;
        const ng = gradsByParamName(named, grads);
        try {
          if (!Number.isFinite(lossValue)) throw new NonFiniteLossError(lossValue, epoch, g, lastCheckpoint);
          optimizer.step(ng);
        } finally {
          tf.dispose(Object.values(grads).filter((t): t is Tensor => t !== null));
        }
      } finally {
        tf.dispose([...simgs, ...uimgs]);
      }
      return {
        images: U,
        metrics: { loss: lossValue, ploss, rloss, lr },
        event: { epoch, iteration, step: g, loss: lossValue, ploss, rloss, lr },
      };
    },
  };
  try {
    return await runTrainLoop<PawsStepEvent, PawsEpochStats>(core, options, stopAt, ipe);
  } finally {
    optimizer.dispose();
    labels.dispose();
  }
}
