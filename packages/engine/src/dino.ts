import { DINOLoss } from '@ssl/losses';
import type { Module } from '@ssl/models';
import { AdamW, DinoLARS, SGD, cancelGradientsLastLayer, clipGradients, cosineScheduler, getParamsGroups, gradsByParamName } from '@ssl/optim';
import type { Optimizer, OptimizerState } from '@ssl/optim';
import { tf } from '@ssl/tensor';
import type { Scalar, Tensor } from '@ssl/tensor';
import { prefixed, section } from './checkpoint.js';
import { copyStudentToTeacher, emaUpdate } from './ema.js';
import { checkEpochs, moduleRngs, NonFiniteLossError, runTrainLoop, viewTensors } from './train-common.js';
import type { BatchSource, TrainLoopCore, TrainLoopOptions, TrainLoopResult } from './train-common.js';

/** main_dino.py arguments the loop uses, in camelCase, with the official defaults in `DINO_DEFAULTS`. */
export interface DinoConfig {
  outDim: number;
  /** Local crops per image; nCrops = 2 + localCropsNumber. */
  localCropsNumber: number;
  warmupTeacherTemp: number;
  teacherTemp: number;
  warmupTeacherTempEpochs: number;
  momentumTeacher: number;
  weightDecay: number;
  weightDecayEnd: number;
  /** Maximal per-parameter gradient norm; 0 disables clipping. */
  clipGrad: number;
  /** Images per batch; the lr is scaled by batchSizePerGpu / 256 (one process). */
  batchSizePerGpu: number;
  epochs: number;
  freezeLastLayer: number;
  /** lr for a batch of 256, reached at the end of the warm-up. */
  lr: number;
  warmupEpochs: number;
  minLr: number;
  optimizer: 'adamw' | 'sgd' | 'lars';
  /** Save `checkpoint<epoch:04>` when epoch % saveckpFreq == 0 (0: never); `checkpoint` every epoch. */
  saveckpFreq: number;
  outputDir: string;
  seed: number;
}

export const DINO_DEFAULTS: Omit<DinoConfig, 'outputDir'> = {
  outDim: 65536,
  localCropsNumber: 8,
  warmupTeacherTemp: 0.04,
  teacherTemp: 0.04,
  warmupTeacherTempEpochs: 0,
  momentumTeacher: 0.996,
  weightDecay: 0.04,
  weightDecayEnd: 0.4,
  clipGrad: 3.0,
  batchSizePerGpu: 64,
  epochs: 100,
  freezeLastLayer: 1,
  lr: 0.0005,
  warmupEpochs: 10,
  minLr: 1e-6,
  optimizer: 'adamw',
  saveckpFreq: 20,
  seed: 0,
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
export interface DinoEpochStats {
  epoch: number;
  train_loss: number;
  train_lr: number;
  train_wd: number;
  images_per_sec: number;
  seconds: number;
  tf_num_tensors: number;
  tf_num_bytes: number;
  rss_mb: number;
  checkpoint: string;
}

/** The loop options (resume, stopAtEpoch, hooks, mid-epoch checkpoints: see `TrainLoopOptions`) and the DINO parts. */
export interface TrainDinoOptions extends TrainLoopOptions<DinoStepEvent, DinoEpochStats> {
  student: MultiCropNetwork;
  teacher: MultiCropNetwork;
  loader: BatchSource;
  config: Partial<DinoConfig> & { outputDir: string };
}

export interface TrainDinoResult extends TrainLoopResult<DinoEpochStats> {
  /** The DINO loss (holds the center); the caller disposes it. */
  dinoLoss: DINOLoss;
}

function makeOptimizer(kind: DinoConfig['optimizer'], student: Module): Optimizer {
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
  const cfg: DinoConfig = { ...DINO_DEFAULTS, ...options.config };
  const { student, teacher, loader } = options;
  const stopAt = checkEpochs('trainDino', cfg.epochs, options.stopAtEpoch);
  const ipe = loader.length(0);
  if (!Number.isInteger(ipe) || ipe < 1) throw new Error(`trainDino: the loader yields no batch per epoch (length ${ipe})`);

  // the optimizer holds no tensors until its first step, so a bad config below leaks nothing
  const optimizer = makeOptimizer(cfg.optimizer, student);
  const nCrops = cfg.localCropsNumber + 2;
  const dinoLoss = new DINOLoss({
    outDim: cfg.outDim,
    nCrops,
    warmupTeacherTemp: cfg.warmupTeacherTemp,
    teacherTemp: cfg.teacherTemp,
    warmupTeacherTempEpochs: cfg.warmupTeacherTempEpochs,
    nEpochs: cfg.epochs,
  });
  // per-iteration values over all epochs (main_dino.py); `setEpochs` lays them out again
  let lrSchedule: Float64Array;
  let wdSchedule: Float64Array;
  let momentumSchedule: Float64Array;
  const setEpochs = (epochs: number): void => {
    lrSchedule = cosineScheduler((cfg.lr * cfg.batchSizePerGpu) / 256, cfg.minLr, epochs, ipe, { warmupEpochs: cfg.warmupEpochs });
    wdSchedule = cosineScheduler(cfg.weightDecay, cfg.weightDecayEnd, epochs, ipe);
    momentumSchedule = cosineScheduler(cfg.momentumTeacher, 1, epochs, ipe);
  };
  setEpochs(cfg.epochs);

  try {
    const studentNamed = student.namedParameters().filter(([, v]) => v.trainable);
    const studentVars = studentNamed.map(([, v]) => v);
    const studentParams = student.parameters();
    const teacherParams = teacher.parameters();
    const core: TrainLoopCore<DinoStepEvent> = {
      name: 'trainDino',
      kind: 'dino',
      config: cfg,
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
          throw new Error(`trainDino: batches must have ${nCrops} views (2 global + ${cfg.localCropsNumber} local), got ${views.length}`);
        }
        const B = views[0]?.shape[0] as number;
        let lossValue: number;
        let norms: number[] | undefined;
        try {
          // only the 2 global views pass through the teacher
          const teacherOut = tf.tidy(() => teacher.forward(views.slice(0, 2)));
          let value: Scalar;
          let grads: Record<string, Tensor>;
          try {
            ({ value, grads } = tf.variableGrads(
              () => dinoLoss.forward(student.forward(views), teacherOut, epoch),
              studentVars,
            ) as { value: Scalar; grads: Record<string, Tensor> });
          } finally {
            teacherOut.dispose();
          }
          lossValue = value.dataSync()[0] as number;
          value.dispose();
          const named = gradsByParamName(studentNamed, grads);
          try {
            if (!Number.isFinite(lossValue)) throw new NonFiniteLossError(lossValue, epoch, g, lastCheckpoint);
            if (cfg.clipGrad) norms = clipGradients(named, cfg.clipGrad);
            cancelGradientsLastLayer(epoch, named, cfg.freezeLastLayer);
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
