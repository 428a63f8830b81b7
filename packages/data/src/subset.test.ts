import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset, Sample } from './dataset.js';
import { FashionMNIST } from './fashion-mnist.js';
import { fashionMnistFixtureDir } from './fixtures.js';
import { openDataset } from './open.js';
import { ClassStratifiedSampler } from './stratified.js';
import { coinFlipSubset, perClassSubset, readLabelSubset, stratifiedSplit, Subset } from './subset.js';

const dir = mkdtempSync(join(tmpdir(), 'subset-'));

function named(names: string[]): Dataset {
  return {
    length: names.length,
    get: (i): Sample => ({ image: { data: new Uint8Array(1), height: 1, width: 1, channels: 1 }, label: i }),
    describe: (i) => `/imagenet/train/${(names[i] as string).split('_')[0]}/${names[i]}`,
  };
}

describe('label subsets', () => {
  it('reads index files (CIFAR-10 4000-label format) and name files (ImageNet 1% format)', async () => {
    const idx = join(dir, 'spc.4000_split.1.txt');
    writeFileSync(idx, '17\n3\n250\n');
    const fm = await FashionMNIST.load({ root: fashionMnistFixtureDir() });
    expect(Array.from(await readLabelSubset(idx, fm))).toEqual([17, 3, 250]);

    const names = ['n01440764_10026.JPEG', 'n01440764_10027.JPEG', 'n01443537_2.JPEG'];
    const file = join(dir, '1percent.txt');
    writeFileSync(file, 'n01443537_2.JPEG\r\nn01440764_10026.JPEG\n\n');
    expect(Array.from(await readLabelSubset(file, named(names)))).toEqual([2, 0]);
    writeFileSync(file, 'n01443537_2.JPEG\nn09999999_1.JPEG\n');
    await expect(readLabelSubset(file, named(names))).rejects.toThrow(/1 of 2 names are not in the dataset \(first: n09999999_1\.JPEG\)/);
    writeFileSync(idx, '5000\n');
    await expect(readLabelSubset(idx, fm)).rejects.toThrow(/index 5000 out of range for a dataset of 2000/);
  });

  it('seeded per-class subsets: k per class, stable per seed', async () => {
    const fm = await FashionMNIST.load({ root: fashionMnistFixtureDir() });
    const a = perClassSubset(fm.targets, 7, 1);
    expect(a.length).toBe(70);
    const counts = new Array(10).fill(0);
    for (const i of a) counts[fm.targets[i]!]++;
    expect(counts).toEqual(new Array(10).fill(7));
    expect(a).toEqual(perClassSubset(fm.targets, 7, 1));
    expect(a).not.toEqual(perClassSubset(fm.targets, 7, 2));
    expect(() => perClassSubset(fm.targets, 10000)).toThrow(/fewer than 10000/);
    const coins = coinFlipSubset(2000, 0.9, 0);
    expect(Math.abs(coins.length - 200)).toBeLessThan(45);
  });

  it('Subset keeps targets and a spec that reopens it', async () => {
    const fm = await FashionMNIST.load({ root: fashionMnistFixtureDir() });
    const sub = new Subset(fm, [5, 1, 9]);
    expect(Array.from(sub.targets!)).toEqual([fm.targets[5], fm.targets[1], fm.targets[9]]);
    const again = await openDataset(sub.spec!);
    expect((await again.get(1)).image.data).toEqual(fm.get(1).image.data);
    expect(() => new Subset(fm, [2000])).toThrow(/index 2000 out of range/);
  });
});

describe('ClassStratifiedSampler', () => {
  // 6 classes with 8, 9, ..., 13 samples, interleaved.
  const targets = Int32Array.from([0, 1, 2, 3, 4, 5].flatMap((c) => Array.from({ length: 8 + c }, () => c)));

  it('lays out batches as the official zip: k classes x n images, each class once per inner epoch', () => {
    const s = new ClassStratifiedSampler({ targets, batchSize: 3, classesPerBatch: 2, epochs: 2, seed: 1 });
    expect(s.length()).toBe(6);
    const batches = [...s.batches(0)].map((b) => Array.from(b));
    expect(batches.length).toBe(6);
    for (let inner = 0; inner < 2; inner++) {
      const seenClasses: number[] = [];
      const used = new Set<number>();
      for (const b of batches.slice(inner * 3, inner * 3 + 3)) {
        expect(b.length).toBe(6);
        const [c0, c1] = [targets[b[0]!]!, targets[b[1]!]!];
        // [a, b, a, b, a, b]
        b.forEach((idx, j) => expect(targets[idx]).toBe(j % 2 === 0 ? c0 : c1));
        seenClasses.push(c0, c1);
        for (const i of b) {
          expect(used.has(i)).toBe(false); // without replacement within an inner epoch
          used.add(i);
        }
      }
      expect(seenClasses.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    }
    // The two inner epochs reshuffle; a new outer epoch differs; the same epoch repeats exactly.
    expect(batches.slice(0, 3)).not.toEqual(batches.slice(3, 6));
    expect([...s.batches(0)].map((b) => Array.from(b))).toEqual(batches);
    expect([...s.batches(1)].map((b) => Array.from(b))).not.toEqual(batches);
  });

  it('checks its configuration like the official asserts', () => {
    expect(() => new ClassStratifiedSampler({ targets, batchSize: 2, classesPerBatch: 4 })).toThrow(/not a multiple of classesPerBatch 4/);
    expect(() => new ClassStratifiedSampler({ targets, batchSize: 9, classesPerBatch: 2 })).toThrow(/class 0 has 8 samples on this rank, fewer than batchSize 9/);
  });
});

describe('stratifiedSplit', () => {
  it('holds out round(fraction x class size) of each class (at least one), seeded, disjoint and complete', () => {
    const targets = Int32Array.from([...Array(20).fill(0), ...Array(7).fill(1), 2, ...Array(3).fill(3)]);
    const { train, held } = stratifiedSplit(targets, 0.2, 5);
    const count = (idx: Int32Array, c: number) => Array.from(idx).filter((i) => targets[i] === c).length;
    expect([0, 1, 2, 3].map((c) => count(held, c))).toEqual([4, 1, 0, 1]);
    expect([...train, ...held].sort((a, b) => a - b)).toEqual(Array.from({ length: targets.length }, (_, i) => i));
    expect(stratifiedSplit(targets, 0.2, 5)).toEqual({ train, held });
    expect(Array.from(stratifiedSplit(targets, 0.2, 6).held)).not.toEqual(Array.from(held));
    expect(() => stratifiedSplit(targets, 1)).toThrow(/fraction must be in \(0, 1\)/);
  });
});
