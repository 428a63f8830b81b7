import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '@ssl/tensor';
import { emaUpdate } from './ema.js';

const fx = JSON.parse(readFileSync(new URL('../fixtures/ema.json', import.meta.url), 'utf8'));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('emaUpdate', () => {
  it('teacher <- m teacher + (1 - m) student over parameters, as main_dino.py', () => {
    const e = fx.ema as { student: number[][]; teacher: number[][]; shapes: number[][]; momenta: number[]; after: number[][][] };
    const s = e.student.map((v, i) => tf.variable(tf.tensor(v, e.shapes[i])));
    const t = e.teacher.map((v, i) => tf.variable(tf.tensor(v, e.shapes[i])));
    const before = tf.memory().numTensors;
    e.momenta.forEach((m, k) => {
      emaUpdate(s, t, m);
      t.forEach((tv, i) => expect(maxAbs(tv.dataSync(), (e.after[k] as number[][])[i] as number[])).toBeLessThan(1e-6));
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => emaUpdate(s, t.slice(1), 0.9)).toThrow(/student has 2 parameters, teacher 1/);
    tf.dispose([...s, ...t]);
  });
});
