import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { DINOLoss } from './dino.js';

interface DinoCall {
  epoch: number;
  student: number[];
  teacher: number[];
  loss: number;
  grad: number[];
  centerAfter: number[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/losses.json', import.meta.url), 'utf8'));
const dino = fx.dino as {
  options: { outDim: number; nCrops: number; warmupTeacherTemp: number; teacherTemp: number; warmupTeacherTempEpochs: number; nEpochs: number };
  batch: number;
  tempSchedule: number[];
  calls: DinoCall[];
};

function maxRelErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number));
  let err = 0;
  for (let i = 0; i < expected.length; i++) err = Math.max(err, Math.abs((actual[i] as number) - (expected[i] as number)));
  return err / Math.max(scale, 1e-30);
}

describe('DINOLoss', () => {
  it('has the official teacher temperature schedule (linspace warm-up, then constant)', () => {
    const loss = new DINOLoss(dino.options);
    expect(Array.from(loss.teacherTempSchedule)).toEqual(dino.tempSchedule);
    loss.dispose();
  });

  it('matches PyTorch loss, student gradient and center over calls crossing the warm-up', () => {
    const loss = new DINOLoss(dino.options);
    const { outDim, nCrops } = dino.options;
    const B = dino.batch;
    for (const call of dino.calls) {
      const s = tf.tensor2d(call.student, [nCrops * B, outDim]);
      const t = tf.tensor2d(call.teacher, [2 * B, outDim]);
      const g = tf.grad((x: Tensor) => loss.forward(x, t, call.epoch));
      // tf.grad runs forward once, so the center is updated once per call, as the official loss.
      const grad = g(s);
      const centerAfter = loss.center.dataSync();
      // the loss value, recomputed with the same center: re-running forward would update it again
      expect(maxRelErr(grad.dataSync(), call.grad)).toBeLessThan(1e-5);
      expect(maxRelErr(centerAfter, call.centerAfter)).toBeLessThan(1e-6);
      tf.dispose([s, t, grad]);
    }
    loss.dispose();
  });

  it('returns the official loss values call after call', () => {
    const loss = new DINOLoss(dino.options);
    const { outDim, nCrops } = dino.options;
    for (const call of dino.calls) {
      const value = tf.tidy(() => {
        const s = tf.tensor2d(call.student, [nCrops * dino.batch, outDim]);
        const t = tf.tensor2d(call.teacher, [2 * dino.batch, outDim]);
        return loss.forward(s, t, call.epoch).dataSync()[0] as number;
      });
      expect(Math.abs(value - call.loss) / Math.abs(call.loss)).toBeLessThan(1e-5);
    }
    loss.dispose();
  });

  it('works inside tf.variableGrads and saves/restores the center', () => {
    const { outDim, nCrops } = dino.options;
    const call = dino.calls[0] as DinoCall;
    const a = new DINOLoss(dino.options);
    const v = tf.variable(tf.tensor2d(call.student, [nCrops * dino.batch, outDim]));
    const t = tf.tensor2d(call.teacher, [2 * dino.batch, outDim]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const { value, grads } = tf.variableGrads(() => a.forward(v, t, 0), [v]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const state = a.getState();
    const b = new DINOLoss(dino.options);
    b.setState(state);
    expect(Array.from(b.center.dataSync())).toEqual(Array.from(a.center.dataSync()));
    expect(() => b.setState({ center: tf.zeros([1, 3]) })).toThrow(/center must be a \[1, 16\]/);
    tf.dispose([v, t, state.center]);
    a.dispose();
    b.dispose();
  });

  it('allocates only the center and frees it on dispose', () => {
    const before = tf.memory().numTensors;
    const loss = new DINOLoss(dino.options);
    expect(tf.memory().numTensors).toBe(before + 1);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad shapes and epochs with clear errors', () => {
    const loss = new DINOLoss(dino.options);
    const s = tf.zeros([8, 16]);
    const t = tf.zeros([4, 16]);
    expect(() => loss.forward(tf.zeros([7, 16]), t, 0)).toThrow(/studentOutput must be \[nCrops\*B, 16\]/);
    expect(() => loss.forward(s, tf.zeros([6, 16]), 0)).toThrow(/teacherOutput must be \[2\*B, 16\]/);
    expect(() => loss.forward(s, t, 6)).toThrow(/epoch must be an integer in \[0, 6\)/);
    expect(() => new DINOLoss({ ...dino.options, warmupTeacherTempEpochs: 7 })).toThrow(/warmupTeacherTempEpochs/);
    expect(() => new DINOLoss({ ...dino.options, nCrops: 1 })).toThrow(/nCrops must be >= 2/);
    tf.dispose([s, t]);
    loss.dispose();
  });
});
