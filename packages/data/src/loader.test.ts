import { DataAugmentationDINO, DINO_FASHION_MNIST, type ImageU8 } from '@ssl/augment';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import type { Dataset, Sample } from './dataset.js';
import { FashionMNIST } from './fashion-mnist.js';
import { fashionMnistFixtureDir } from './fixtures.js';
import { DataLoader } from './loader.js';

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

/** A tiny in-memory dataset; `bad` indices throw like a corrupt file. */
function toy(n: number, bad: Set<number> = new Set()): Dataset {
  return {
    length: n,
    get(i: number): Sample {
      if (bad.has(i)) throw new Error('corrupt JPEG data');
      const image: ImageU8 = { data: new Uint8Array(16 * 16).fill(i % 256), height: 16, width: 16, channels: 1 };
      return { image, label: i % 3 };
    },
    describe: (i) => `/data/img${i}.jpg`,
  };
}

const aug = () => new DataAugmentationDINO({ ...DINO_FASHION_MNIST, globalSize: 8, localSize: 4, localCropsNumber: 2 });

describe('DataLoader', () => {
  it('collates one [B, H, W, C] array per crop index, labels and indices', async () => {
    const ds = await FashionMNIST.load({ root: fashionMnistFixtureDir() });
    const loader = new DataLoader({ dataset: ds, transform: { kind: 'dino', ...DINO_FASHION_MNIST, localCropsNumber: 3 }, batchSize: 16, seed: 1 });
    expect(loader.length()).toBe(125);
    const it = loader.epoch(0)[Symbol.asyncIterator]();
    const { value: b } = (await it.next()) as { value: Batch };
    await it.return?.(undefined);
    expect(b.views.map((v) => v.shape)).toEqual([[16, 28, 28, 1], [16, 28, 28, 1], [16, 12, 12, 1], [16, 12, 12, 1], [16, 12, 12, 1]]);
    expect(b.views[0]!.data.length).toBe(16 * 784);
    for (let i = 0; i < 16; i++) expect(b.labels[i]).toBe(ds.targets[b.indices[i]!]);
    // Sample i of view k is the transform of that image with its own (seed, epoch, index) stream.
    const single = loader.transform.apply(ds.get(b.indices[5]!).image, new (await import('@ssl/tensor')).Rng(1).fork(0, b.indices[5]!));
    expect(b.views[2]!.data.subarray(5 * 144, 6 * 144)).toEqual(single[2]);
  });

  it('shuffles per epoch reproducibly, covers each index once, drops the last partial batch', async () => {
    const make = (seed: number) => new DataLoader({ dataset: toy(23), transform: aug(), batchSize: 5, seed });
    const e0 = await collect(make(3).epoch(0));
    const again = await collect(make(3).epoch(0));
    const e1 = await collect(make(3).epoch(1));
    expect(e0.length).toBe(4);
    const idx0 = e0.flatMap((b) => Array.from(b.indices));
    expect(new Set(idx0).size).toBe(20);
    expect(idx0).toEqual(again.flatMap((b) => Array.from(b.indices)));
    expect(idx0).not.toEqual(e1.flatMap((b) => Array.from(b.indices)));
    e0.forEach((b, i) => b.views.forEach((v, k) => expect(v.data).toEqual(again[i]!.views[k]!.data)));
    // resuming mid-epoch: skipping the first batches gives exactly the rest of the epoch
    const rest = await collect(make(3).epoch(0, 2));
    expect(rest.map((b) => b.step)).toEqual([2, 3]);
    rest.forEach((b, i) => {
      expect(b.indices).toEqual(e0[i + 2]!.indices);
      b.views.forEach((v, k) => expect(v.data).toEqual(e0[i + 2]!.views[k]!.data));
    });
    expect(await collect(make(3).epoch(0, 4))).toEqual([]);
    await expect(collect(make(3).epoch(0, -1))).rejects.toThrow(/start must be an integer >= 0, got -1/);
    const keep = await collect(new DataLoader({ dataset: toy(23), transform: aug(), batchSize: 5, shuffle: false, dropLast: false }).epoch(0));
    expect(keep.map((b) => b.indices.length)).toEqual([5, 5, 5, 5, 3]);
    expect(Array.from(keep[4]!.indices)).toEqual([20, 21, 22]);
  });

  it('skips, counts and logs corrupt samples, and stops above the skip ratio', async () => {
    const logged: string[] = [];
    const loader = new DataLoader({
      dataset: toy(200, new Set([3, 150])),
      transform: aug(),
      batchSize: 10,
      shuffle: false,
      onSkip: (f) => logged.push(`${f.name}: ${f.message}`),
    });
    const batches = await collect(loader.epoch(0));
    expect(batches[0]!.indices.length).toBe(9);
    expect(batches[0]!.views[0]!.shape[0]).toBe(9);
    expect(Array.from(batches[0]!.indices)).not.toContain(3);
    expect([loader.skipped, loader.seen]).toEqual([2, 200]);
    expect(logged).toEqual(['/data/img3.jpg: corrupt JPEG data', '/data/img150.jpg: corrupt JPEG data']);

    const bad = new Set(Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 10 === 0));
    const strict = new DataLoader({ dataset: toy(200, bad), transform: aug(), batchSize: 10, shuffle: false, maxSkipRatio: 0.05, onSkip: () => {} });
    await expect(collect(strict.epoch(0))).rejects.toThrow(/10 of 100 samples failed to load \(10\.0% > maxSkipRatio 5%\); last: \/data\/img90\.jpg/);
  });

  it('checks its options', () => {
    expect(() => new DataLoader({ dataset: toy(4), transform: aug(), batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => new DataLoader({ dataset: {} as Dataset, transform: aug(), batchSize: 2 })).toThrow(/dataset must have/);
  });
});

describe('DataLoader on worker threads', () => {
  it('0, 1 and 2 workers give identical batches; buffers arrive whole', async () => {
    const ds = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'test' });
    const run = async (workers: number) => {
      const loader = new DataLoader({
        dataset: ds,
        transform: { kind: 'dino', ...DINO_FASHION_MNIST, localCropsNumber: 2 },
        batchSize: 32,
        seed: 5,
        workers,
      });
      const out: Batch[] = [];
      let n2 = 0;
      for (const e of [0, 1]) {
        let n = 0;
        for await (const b of loader.epoch(e)) if (n++ < 4) out.push(b);
      }
      // skipping batches at the start of an epoch, as a resumed run does
      for await (const b of loader.epoch(1, 2)) {
        out.push(b);
        if (++n2 === 2) break;
      }
      await loader.close();
      return out;
    };
    const [w0, w1, w2] = [await run(0), await run(1), await run(2)];
    expect(w0.length).toBe(10);
    // epoch 1 from batch 2 = batches 2 and 3 of epoch 1
    for (const i of [0, 1]) {
      expect(w0[8 + i]!.step).toBe(2 + i);
      expect(w0[8 + i]!.indices).toEqual(w0[6 + i]!.indices);
      expect(w0[8 + i]!.views[1]!.data).toEqual(w0[6 + i]!.views[1]!.data);
    }
    for (const other of [w1, w2]) {
      expect(other.length).toBe(w0.length);
      other.forEach((b, i) => {
        const ref = w0[i]!;
        expect([b.epoch, b.step]).toEqual([ref.epoch, ref.step]);
        expect(b.indices).toEqual(ref.indices);
        expect(b.labels).toEqual(ref.labels);
        b.views.forEach((v, k) => {
          expect(v.shape).toEqual(ref.views[k]!.shape);
          expect(v.data).toEqual(ref.views[k]!.data);
        });
      });
    }
    // Transferred, not copied into a shared pool: each view owns its buffer.
    expect(w2[0]!.views[0]!.data.buffer.byteLength).toBe(32 * 784 * 4);
  });

  it('needs a dataset spec for workers', () => {
    expect(() => new DataLoader({ dataset: toy(4), transform: aug(), batchSize: 2, workers: 1 })).toThrow(/need a dataset with a `spec`/);
  });
});

describe('corrupt files on worker threads', () => {
  it('are skipped, counted and logged with their path', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const sharp = (await import('sharp')).default;
    const { ImageFolder } = await import('./image-folder.js');
    const root = mkdtempSync(join(tmpdir(), 'corrupt-'));
    mkdirSync(join(root, 'a'));
    for (let i = 0; i < 11; i++) {
      const png = await sharp(Buffer.alloc(20 * 20 * 3, i * 20), { raw: { width: 20, height: 20, channels: 3 } }).png().toBuffer();
      writeFileSync(join(root, 'a', `img${i}.png`), i === 4 ? png.subarray(0, 40) : png);
    }
    const ds = await ImageFolder.create(root, { channels: 1 });
    const logged: string[] = [];
    const loader = new DataLoader({
      dataset: ds,
      transform: aug(),
      batchSize: 11,
      shuffle: false,
      workers: 1,
      maxSkipRatio: 0.5,
      onSkip: (f) => logged.push(f.name),
    });
    const batches = await collect(loader.epoch(0));
    await loader.close();
    expect(batches[0]!.indices.length).toBe(10);
    expect(loader.skipped).toBe(1);
    expect(logged).toEqual([join(root, 'a', 'img4.png')]);
  });
});
