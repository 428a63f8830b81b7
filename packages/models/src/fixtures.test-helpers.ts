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
