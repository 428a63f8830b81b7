import { DINOLoss } from '@ssl/losses';
import type { Module } from '@ssl/models';
import { AdamW, DinoLARS, SGD, cancelGradientsLastLayer, clipGradients, cosineScheduler, getParamsGroups, gradsByParamName } from '@ssl/optim';
import type { Optimizer, OptimizerState } from '@ssl/optim';
import { autocast, tf, variableGrads } from '@ssl/tensor';
import type { Precision, Scalar, Tensor } from '@ssl/tensor';
import { prefixed, section } from './checkpoint.js';
import { copyStudentToTeacher, emaUpdate } from './ema.js';
import { checkEpochs, moduleRngs, NonFiniteLossError, resolveGroups, runTrainLoop, stepPrecision, viewTensors } from './train-common.js';
import type { BatchSource, ConfigInput, EpochStats, TrainLoopCore, TrainLoopOptions, TrainLoopResult } from './train-common.js';

/**
 * main_dino.py arguments the loop reads, by config group under their official names: `ssl-train
 * dino`'s resolved config passes as it is. Defaults (the official ones) in `DINO_DEFAULTS`.
 */
export interface DinoConfig {
  model: { out_dim: number };
  /** Local crops per image; nCrops = 2 + local_crops_number. */
  data: { local_crops_number: number };
  loss: { warmup_teacher_temp: number; teacher_temp: number; warmup_teacher_temp_epochs: number };
  optimization: {
    momentum_teacher: number;
    weight_decay: number;
    weight_decay_end: number;
    /** Maximal per-parameter gradient norm; 0 disables clipping. */
    clip_grad: number;
    /** Images per batch; the lr is scaled by batch_size_per_gpu / 256 (one process). */
    batch_size_per_gpu: number;
    epochs: number;
    freeze_last_layer: number;
    /** lr for a batch of 256, reached at the end of the warm-up. */
    lr: number;
    warmup_epochs: number;
    min_lr: number;
    optimizer: 'adamw' | 'sgd' | 'lars';
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

export const DINO_DEFAULTS: DinoConfig = {
  model: { out_dim: 65536 },
  data: { local_crops_number: 8 },
  loss: { warmup_teacher_temp: 0.04, teacher_temp: 0.04, warmup_teacher_temp_epochs: 0 },
  optimization: {
    momentum_teacher: 0.996, weight_decay: 0.04, weight_decay_end: 0.4, clip_grad: 3.0, batch_size_per_gpu: 64, epochs: 100,
    freeze_last_layer: 1, lr: 0.0005, warmup_epochs: 10, min_lr: 1e-6, optimizer: 'adamw',
  },
  logging: { saveckp_freq: 20 },
  runtime: { seed: 0, precision: 'fp32' },
};

/** A network as `MultiCropWrapper`: a Module whose forward takes the list of crop batches. */
export interface MultiCropNetwork extends Module {
  forward(crops: Tensor[]): Tensor;
}

/** One iteration's numbers, passed to `onStep`. */
export interface DinoStepEvent {
  epoch: number;
  /** Position in the epoch. */
  iteration: number;
  /** Global iteration (index into the schedules). */
  step: number;
  loss: number;
  lr: number;
  wd: number;
  momentum: number;
  teacherTemp: number;
  imagesPerSec: number;
  seconds: number;
  gradNorms?: number[];
}

/** One epoch's averages (the official log.txt line), passed to `onEpoch`. */
export interface DinoEpochStats extends EpochStats {
  train_loss: number;
  train_lr: number;
  train_wd: number;
}

/** The loop options (resume, stopAtEpoch, hooks, mid-epoch checkpoints: see `TrainLoopOptions`) and the DINO parts. */
export interface TrainDinoOptions extends TrainLoopOptions<DinoStepEvent, DinoEpochStats> {
  student: MultiCropNetwork;
  teacher: MultiCropNetwork;
  loader: BatchSource;
  /** Config groups (partial: the rest from `DINO_DEFAULTS`). */
  config?: ConfigInput<DinoConfig>;
  /** Where checkpoints and logs go. */
  outputDir: string;
}

export interface TrainDinoResult extends TrainLoopResult<DinoEpochStats> {
  /** The DINO loss (holds the center); the caller disposes it. */
  dinoLoss: DINOLoss;
}

function makeOptimizer(kind: DinoConfig['optimization']['optimizer'], student: Module): Optimizer {
  const groups = getParamsGroups(student.namedParameters());
  if (kind === 'adamw') return new AdamW(groups);
  if (kind === 'sgd') return new SGD(groups, { lr: 0, momentum: 0.9 }); // lr is set by the scheduler
  if (kind === 'lars') return new DinoLARS(groups);
  throw new Error(`trainDino: optimizer must be 'adamw', 'sgd' or 'lars', got '${kind}'`);
}

/**
 * DINO pretraining as main_dino.py `train_dino` + `train_one_epoch`. Per iteration, in the
 * official order: teacher on the 2 global crops (no gradient), student on all crops, DINO loss,
 * gradients, per-parameter clipping, last-layer cancelling while epoch < freezeLastLayer, the
 * optimizer step with this iteration's lr / weight decay, then the teacher EMA with this
 * iteration's momentum. After each epoch: `checkpoint/` (and `checkpoint<epoch:04>/` every
 * saveckpFreq epochs) and a log.txt line. The teacher starts as a copy of the student. Resume,
 * mid-epoch checkpoints, `shouldStop` and the hooks are the shared `runTrainLoop`'s.
 */
export async function trainDino(options: TrainDinoOptions): Promise<TrainDinoResult> {
  if (typeof options.outputDir !== 'string' || !options.outputDir) throw new Error(`trainDino: outputDir must be a directory path, got ${String(options.outputDir)}`);
  const cfg = resolveGroups('trainDino', DINO_DEFAULTS, options.config);
  const { model: m, data: d, loss: l, optimization: o } = cfg;
  const { student, teacher, loader } = options;
  const stopAt = checkEpochs('trainDino', o.epochs, options.stopAtEpoch);
  const ipe = loader.length(0);
  if (!Number.isInteger(ipe) || ipe < 1) throw new Error(`trainDino: the loader yields no batch per epoch (length ${ipe})`);

  // the optimizer holds no tensors until its first step, so a bad config below leaks nothing
  const optimizer = makeOptimizer(o.optimizer, student);
  const nCrops = d.local_crops_number + 2;
  const dinoLoss = new DINOLoss({
    outDim: m.out_dim,
    nCrops,
    warmupTeacherTemp: l.warmup_teacher_temp,
    teacherTemp: l.teacher_temp,
    warmupTeacherTempEpochs: l.warmup_teacher_temp_epochs,
    nEpochs: o.epochs,
  });
  // per-iteration values over all epochs (main_dino.py); `setEpochs` lays them out again
  let lrSchedule: Float64Array;
  let wdSchedule: Float64Array;
  let momentumSchedule: Float64Array;
  const setEpochs = (epochs: number): void => {
    lrSchedule = cosineScheduler((o.lr * o.batch_size_per_gpu) / 256, o.min_lr, epochs, ipe, { warmupEpochs: o.warmup_epochs });
    wdSchedule = cosineScheduler(o.weight_decay, o.weight_decay_end, epochs, ipe);
    momentumSchedule = cosineScheduler(o.momentum_teacher, 1, epochs, ipe);
    o.epochs = epochs;
  };
  setEpochs(o.epochs);

  try {
    const studentNamed = student.namedParameters().filter(([, v]) => v.trainable);
    const studentVars = studentNamed.map(([, v]) => v);
    const studentParams = student.parameters();
    const teacherParams = teacher.parameters();
    const core: TrainLoopCore<DinoStepEvent> = {
      name: 'trainDino',
      kind: 'dino',
      config: cfg,
      outputDir: options.outputDir,
      loader,
      rngs: new Map([...moduleRngs('student', student), ...moduleRngs('teacher', teacher)]),
      restore(ck, found) {
        student.loadStateDict(section(ck.tensors, 'student'));
        teacher.loadStateDict(section(ck.tensors, 'teacher'));
        optimizer.setState({ tensors: section(ck.tensors, 'optimizer'), scalars: ck.state.optimizer as OptimizerState['scalars'] });
        const center = ck.tensors['loss.center'];
        if (!center) throw new Error(`trainDino: ${found} has no loss.center`);
        dinoLoss.setState({ center });
      },
      // the teacher temperature needs nothing: fewer epochs keep its warm-up (replan never cuts into it)
      setEpochs,
      // teacher and student start with the same weights
      fresh: () => copyStudentToTeacher(student, teacher),
      snapshot() {
        const opt = optimizer.getState();
        const loss = dinoLoss.getState();
        return {
          tensors: {
            ...prefixed('student', student.stateDict()),
            ...prefixed('teacher', teacher.stateDict()),
            ...prefixed('optimizer', opt.tensors),
            'loss.center': loss.center,
          },
          optimizer: opt.scalars,
        };
      },
      async step(batch, { epoch, iteration, step: g }, lastCheckpoint) {
        const lr = lrSchedule[g] as number;
        const wd = wdSchedule[g] as number;
        optimizer.setSchedule(lr, wd);
        const views = viewTensors(batch);
        if (views.length !== nCrops) {
          tf.dispose(views);
          throw new Error(`trainDino: batches must have ${nCrops} views (2 global + ${d.local_crops_number} local), got ${views.length}`);
        }
        const B = views[0]?.shape[0] as number;
        let lossValue: number;
        let norms: number[] | undefined;
        try {
          // only the 2 global views pass through the teacher
          // Mixed precision (official --use_fp16): both passes and the backward under one autocast.
          const precision = stepPrecision(cfg.runtime.precision);
          const teacherOut = autocast(precision, () => tf.tidy(() => teacher.forward(views.slice(0, 2))));
          let value: Scalar;
          let grads: Record<string, Tensor>;
          try {
            ({ value, grads } = autocast(precision, () =>
              variableGrads(() => dinoLoss.forward(student.forward(views), teacherOut, epoch), studentVars),
            ) as { value: Scalar; grads: Record<string, Tensor> });
          } finally {
            teacherOut.dispose();
          }
          lossValue = (await value.data())[0] as number;
          value.dispose();
          const named = gradsByParamName(studentNamed, grads);
          try {
            if (!Number.isFinite(lossValue)) throw new NonFiniteLossError(lossValue, epoch, g, lastCheckpoint);
            if (o.clip_grad) norms = await clipGradients(named, o.clip_grad);
            cancelGradientsLastLayer(epoch, named, o.freeze_last_layer);
            optimizer.step(named);
          } finally {
            tf.dispose(Object.values(named));
          }
        } finally {
          tf.dispose(views);
        }
        // EMA update for the teacher
        const m = momentumSchedule[g] as number;
        emaUpdate(studentParams, teacherParams, m);
        const event: Omit<DinoStepEvent, 'imagesPerSec' | 'seconds'> = {
          epoch, iteration, step: g, loss: lossValue, lr, wd, momentum: m, teacherTemp: dinoLoss.teacherTemp(epoch),
        };
        if (norms) event.gradNorms = norms;
        return { images: B, metrics: { loss: lossValue, lr, wd }, event };
      },
    };
    const r = await runTrainLoop<DinoStepEvent, DinoEpochStats>(core, options, stopAt, ipe);
    return { ...r, dinoLoss };
  } catch (err) {
    dinoLoss.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}
