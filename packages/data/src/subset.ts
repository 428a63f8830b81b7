import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Rng } from '@ssl/tensor';
import { checkIndex, type Dataset, type DatasetSpec, type Sample } from './dataset.js';

/** The samples `indices` of `base`, in that order (torch.utils.data.Subset). */
export class Subset implements Dataset {
  readonly indices: Int32Array;
  readonly length: number;
  readonly classes?: readonly string[];
  readonly targets?: Int32Array;
  readonly spec?: DatasetSpec;

  constructor(
    readonly base: Dataset,
    indices: ArrayLike<number>,
  ) {
    this.indices = Int32Array.from(indices);
    for (const i of this.indices) checkIndex(i, base.length, 'Subset');
    this.length = this.indices.length;
    if (base.classes) this.classes = base.classes;
    if (base.targets) {
      const t = base.targets;
      this.targets = this.indices.map((i) => t[i] as number);
    }
    if (base.spec) this.spec = { kind: 'subset', base: base.spec, indices: Array.from(this.indices) };
  }

  get(index: number): Sample | Promise<Sample> {
    checkIndex(index, this.length, 'Subset');
    return this.base.get(this.indices[index] as number);
  }

  describe(index: number): string {
    const i = this.indices[index] as number;
    return this.base.describe?.(i) ?? `sample ${i}`;
  }
}

/**
 * Read a label-subset file: one entry per line, either dataset indices (PAWS's CIFAR-10
 * `spc.4000_split.*.txt`) or image file names (the official ImageNet `1percent.txt` /
 * `10percent.txt`, e.g. `n01440764_10026.JPEG`). Returns the matching dataset indices in file order.
 * Names are matched against the base names of `dataset.describe(i)` (an ImageFolder's paths).
 */
export async function readLabelSubset(path: string, dataset: Dataset): Promise<Int32Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`readLabelSubset: cannot read ${path}: ${(err as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error(`readLabelSubset: ${path} is empty`);
  if (lines.every((l) => /^\d+$/.test(l))) {
    const out = Int32Array.from(lines, Number);
    for (const i of out) {
      if (i >= dataset.length) throw new RangeError(`readLabelSubset: ${path}: index ${i} out of range for a dataset of ${dataset.length}`);
    }
    return out;
  }
  if (!dataset.describe) throw new Error(`readLabelSubset: ${path} lists file names, but the dataset has no file names (describe)`);
  const byName = new Map<string, number>();
  for (let i = 0; i < dataset.length; i++) byName.set(basename(dataset.describe(i)), i);
  const out = new Int32Array(lines.length);
  const missing: string[] = [];
  lines.forEach((name, k) => {
    const i = byName.get(name);
    if (i === undefined) missing.push(name);
    else out[k] = i;
  });
  if (missing.length) {
    throw new Error(`readLabelSubset: ${path}: ${missing.length} of ${lines.length} names are not in the dataset (first: ${missing[0]})`);
  }
  return out;
}

/**
 * A seeded labelled subset of `perClass` samples from every class (sorted indices), for datasets
 * without an official split file. Class `c`'s choice depends only on (seed, c).
 */
export function perClassSubset(targets: Int32Array, perClass: number, seed = 0): Int32Array {
  if (!Number.isInteger(perClass) || perClass <= 0) throw new RangeError(`perClassSubset: perClass must be a positive integer, got ${perClass}`);
  const byClass = new Map<number, number[]>();
  targets.forEach((t, i) => {
    const list = byClass.get(t);
    if (list) list.push(i);
    else byClass.set(t, [i]);
  });
  const out: number[] = [];
  for (const [c, list] of [...byClass].sort((a, b) => a[0] - b[0])) {
    if (list.length < perClass) throw new RangeError(`perClassSubset: class ${c} has ${list.length} samples, fewer than ${perClass}`);
    const perm = new Rng(seed).fork('label-subset', c).permutation(list.length);
    for (let k = 0; k < perClass; k++) out.push(list[perm[k] as number] as number);
  }
  return Int32Array.from(out.sort((a, b) => a - b));
}

/**
 * PAWS's fallback when no split file is given: keep each sample as labelled with probability
 * 1 - `unlabeledFraction` (an independent seeded coin per sample). Sorted indices.
 */
export function coinFlipSubset(length: number, unlabeledFraction: number, seed = 0): Int32Array {
  if (!(unlabeledFraction >= 0 && unlabeledFraction <= 1)) {
    throw new RangeError(`coinFlipSubset: unlabeledFraction must be in [0, 1], got ${unlabeledFraction}`);
  }
  const rng = new Rng(seed).fork('label-coin');
  const out: number[] = [];
  for (let i = 0; i < length; i++) if (!rng.bernoulli(unlabeledFraction)) out.push(i);
  return Int32Array.from(out);
}

/**
 * A seeded, class-stratified hold-out split (as scikit-learn's `train_test_split(stratify=...)`):
 * round(`fraction` x class size) samples of each class, at least one, held out, the rest kept; a
 * class of one sample stays whole in `train`. Sorted indices.
 */
export function stratifiedSplit(targets: Int32Array, fraction: number, seed = 0): { train: Int32Array; held: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`stratifiedSplit: fraction must be in (0, 1), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  targets.forEach((t, i) => {
    const list = byClass.get(t);
    if (list) list.push(i);
    else byClass.set(t, [i]);
  });
  const held: number[] = [];
  for (const [c, list] of byClass) {
    if (list.length < 2) continue;
    const k = Math.min(list.length - 1, Math.max(1, Math.round(fraction * list.length)));
    const perm = new Rng(seed).fork('held-out', c).permutation(list.length);
    for (let j = 0; j < k; j++) held.push(list[perm[j] as number] as number);
  }
  const isHeld = new Uint8Array(targets.length);
  for (const i of held) isHeld[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < targets.length; i++) if (!isHeld[i]) train.push(i);
  return { train: Int32Array.from(train), held: Int32Array.from(held.sort((a, b) => a - b)) };
}
