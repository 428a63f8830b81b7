import { join } from 'node:path';
import { tf } from '@ssl/tensor';
import type { Tensor } from '@ssl/tensor';
import { readSafetensors } from './safetensors.js';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

export function fixture(name: string): Promise<Record<string, Tensor>> {
  return readSafetensors(join(FIXTURES, name));
}

/** Entries under `prefix.` with the prefix removed. */
export function section(dict: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(dict)) if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = v;
  return out;
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (!tf.util.arraysEqual(a.shape, b.shape)) throw new Error(`shape [${a.shape}] vs [${b.shape}]`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

export function get(dict: Record<string, Tensor>, key: string): Tensor {
  const t = dict[key];
  if (!t) throw new Error(`fixture has no '${key}'`);
  return t;
}

/**
 * The closed-form weights of fixtures/make_fixtures.py (`formula_state_dict`), for models too big to
 * commit: entry t, element i (flat, PyTorch layout), s = sin(0.7071067811865476 i + 0.001 i^2 + 1.3 t + 0.25).
 */
export function formulaStateDict(keys: Array<[string, number[], string]>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  keys.forEach(([k, shape, dtype], t) => {
    const n = shape.reduce((a, d) => a * d, 1);
    if (dtype === 'int64') {
      out[k] = tf.zeros(shape, 'int32');
      return;
    }
    const v = new Float32Array(n);
    const fan = n / (shape[0] ?? 1);
    for (let i = 0; i < n; i++) {
      const s = Math.sin(0.7071067811865476 * i + 0.001 * (i * i) + 1.3 * t + 0.25);
      if (k.endsWith('running_mean')) v[i] = 0.1 * s;
      else if (k.endsWith('running_var')) v[i] = 1 + 0.5 * s * s;
      else if (k.endsWith('bias')) v[i] = 0.1 * s;
      else if (shape.length === 1) v[i] = k.endsWith('bn3.weight') ? 0.2 * (1 + 0.2 * s) : 1 + 0.2 * s;
      else v[i] = (s * 1.6) / Math.sqrt(fan);
    }
    out[k] = tf.tensor(v, shape);
  });
  return out;
}
