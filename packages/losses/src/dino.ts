import { linspace, stopGradient, tf } from '@ssl/tensor';
import type { Scalar, Tensor } from '@ssl/tensor';

export interface DINOLossOptions {
  /** Dimension of the DINO head output (K). */
  outDim: number;
  /** Total number of crops: 2 global + local crops. */
  nCrops: number;
  /** Teacher temperature at epoch 0 of the warm-up. */
  warmupTeacherTemp: number;
  /** Teacher temperature after the warm-up. "Anything above 0.07 is unstable" (main_dino.py). */
  teacherTemp: number;
  /** Epochs of linear teacher-temperature warm-up. The official code default is 0 (help text says 30). */
  warmupTeacherTempEpochs: number;
  /** Total training epochs (length of the temperature schedule). */
  nEpochs: number;
  studentTemp?: number;
  centerMomentum?: number;
}

/** Serialisable loss state for checkpoints: the running center. */
export interface DINOLossState {
  center: Tensor;
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`DINOLoss: ${name} must be a positive integer, got ${v}`);
}
function checkPositive(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`DINOLoss: ${name} must be a positive number, got ${v}`);
}

/**
 * The DINO self-distillation loss, as `main_dino.DINOLoss`: cross-entropy between the centred,
 * sharpened teacher softmax on the 2 global crops and the student softmax on every other crop.
 * Holds the center (EMA of the raw teacher output) as state, updated after each `forward`.
 */
export class DINOLoss {
  readonly outDim: number;
  readonly nCrops: number;
  readonly studentTemp: number;
  readonly centerMomentum: number;
  /** Teacher temperature per epoch: linspace(warmup, temp, warmupEpochs) then temp (float64). */
  readonly teacherTempSchedule: Float64Array;
  private readonly centerVar: tf.Variable;

  constructor(options: DINOLossOptions) {
    const { outDim, nCrops, warmupTeacherTemp, teacherTemp, warmupTeacherTempEpochs, nEpochs } = options;
    checkPositiveInt('outDim', outDim);
    checkPositiveInt('nCrops', nCrops);
    if (nCrops < 2) throw new Error(`DINOLoss: nCrops must be >= 2 (two global crops), got ${nCrops}`);
    checkPositive('warmupTeacherTemp', warmupTeacherTemp);
    checkPositive('teacherTemp', teacherTemp);
    checkPositiveInt('nEpochs', nEpochs);
    if (!Number.isInteger(warmupTeacherTempEpochs) || warmupTeacherTempEpochs < 0 || warmupTeacherTempEpochs > nEpochs) {
      throw new Error(
        `DINOLoss: warmupTeacherTempEpochs must be an integer in [0, nEpochs=${nEpochs}], got ${warmupTeacherTempEpochs}`,
      );
    }
    this.outDim = outDim;
    this.nCrops = nCrops;
    this.studentTemp = options.studentTemp ?? 0.1;
    this.centerMomentum = options.centerMomentum ?? 0.9;
    checkPositive('studentTemp', this.studentTemp);
    if (!(this.centerMomentum >= 0 && this.centerMomentum <= 1)) {
      throw new Error(`DINOLoss: centerMomentum must be in [0, 1], got ${this.centerMomentum}`);
    }
    const schedule = new Float64Array(nEpochs);
    schedule.set(linspace(warmupTeacherTemp, teacherTemp, warmupTeacherTempEpochs));
    schedule.fill(teacherTemp, warmupTeacherTempEpochs);
    this.teacherTempSchedule = schedule;
    // the zeros are freed by tidy; the variable keeps its own reference to the data
    this.centerVar = tf.tidy(() => tf.variable(tf.zeros([1, outDim]), false));
  }

  /** The running center, [1, outDim]. Owned by the loss: do not dispose. */
  get center(): Tensor {
    return this.centerVar;
  }

  /** Teacher temperature used at `epoch`. */
  teacherTemp(epoch: number): number {
    const t = this.teacherTempSchedule[epoch];
    if (!Number.isInteger(epoch) || t === undefined) {
      throw new Error(`DINOLoss: epoch must be an integer in [0, ${this.teacherTempSchedule.length}), got ${epoch}`);
    }
    return t;
  }

  /**
   * studentOutput: [nCrops * B, outDim] (crops stacked crop-major, as MultiCropWrapper returns),
   * teacherOutput: [2 * B, outDim] from the 2 global crops. Returns the scalar loss and then
   * updates the center from the raw teacher output. Safe inside `tf.variableGrads`.
   */
  forward(studentOutput: Tensor, teacherOutput: Tensor, epoch: number): Scalar {
    const temp = this.teacherTemp(epoch);
    const [ns, ds] = studentOutput.shape;
    const [nt, dt] = teacherOutput.shape;
    if (studentOutput.rank !== 2 || ds !== this.outDim || ns === undefined || ns % this.nCrops !== 0) {
      throw new Error(
        `DINOLoss: studentOutput must be [nCrops*B, ${this.outDim}] with nCrops=${this.nCrops}, got [${studentOutput.shape}]`,
      );
    }
    const batch = ns / this.nCrops;
    if (teacherOutput.rank !== 2 || dt !== this.outDim || nt !== 2 * batch) {
      throw new Error(`DINOLoss: teacherOutput must be [2*B, ${this.outDim}] = [${2 * batch}, ${this.outDim}], got [${teacherOutput.shape}]`);
    }
    const loss = tf.tidy(() => {
      const studentOut = tf.split(tf.div(studentOutput, this.studentTemp), this.nCrops, 0);
      // Teacher centring and sharpening; no gradient flows into the teacher.
      const teacherSoft = tf.softmax(tf.div(tf.sub(stopGradient(teacherOutput), this.centerVar), temp), -1);
      const teacherOut = tf.split(teacherSoft, 2, 0);
      let total: Tensor = tf.scalar(0);
      let nTerms = 0;
      teacherOut.forEach((q, iq) => {
        studentOut.forEach((s, v) => {
          if (v === iq) return; // the student never matches the teacher on the same view
          const ce = tf.sum(tf.mul(tf.neg(q), tf.logSoftmax(s, -1)), -1); // [B]
          total = tf.add(total, tf.mean(ce));
          nTerms += 1;
        });
      });
      return tf.div(total, nTerms) as Scalar;
    });
    this.updateCenter(teacherOutput);
    return loss;
  }

  /** center <- m * center + (1 - m) * sum(teacherOutput) / rows. */
  private updateCenter(teacherOutput: Tensor): void {
    tf.tidy(() => {
      const batchCenter = tf.div(tf.sum(stopGradient(teacherOutput), 0, true), teacherOutput.shape[0] as number);
      this.centerVar.assign(
        tf.add(tf.mul(this.centerVar, this.centerMomentum), tf.mul(batchCenter, 1 - this.centerMomentum)),
      );
    });
  }

  /** Copy of the state for a checkpoint (the caller owns the returned tensors). */
  getState(): DINOLossState {
    return { center: this.centerVar.clone() };
  }

  setState(state: DINOLossState): void {
    const c = state?.center;
    if (!c || c.shape.length !== 2 || c.shape[0] !== 1 || c.shape[1] !== this.outDim) {
      throw new Error(`DINOLoss.setState: center must be a [1, ${this.outDim}] tensor, got ${c ? `[${c.shape}]` : c}`);
    }
    this.centerVar.assign(tf.cast(c, 'float32'));
  }

  dispose(): void {
    this.centerVar.dispose();
  }
}
