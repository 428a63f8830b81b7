import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fashionMnistFixtureDir } from './fixtures.js';
import { parseIdx, readIdx } from './idx.js';

describe('IDX reader', () => {
  it('reads the committed Fashion-MNIST training subset', async () => {
    const dir = fashionMnistFixtureDir();
    const images = await readIdx(join(dir, 'train-images-idx3-ubyte.gz'));
    const labels = await readIdx(join(dir, 'train-labels-idx1-ubyte.gz'));
    expect(images.type).toBe('uint8');
    expect(images.dims).toEqual([2000, 28, 28]);
    expect(images.data.length).toBe(2000 * 28 * 28);
    expect(labels.dims).toEqual([2000]);
    // Known values of the original file (checked with Python's gzip + struct).
    expect(Array.from(labels.data.subarray(0, 20))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4]);
    let firstImageSum = 0;
    for (let i = 0; i < 784; i++) firstImageSum += images.data[i] as number;
    expect(firstImageSum).toBe(76247);
    const row14 = Buffer.from(images.data.subarray(14 * 28, 15 * 28)).toString('hex');
    expect(row14).toBe('000001040607020000000000ede2d9dfdedbdeddd8dfe5d7daff4d00');
    for (const v of labels.data) expect(v).toBeGreaterThanOrEqual(0), expect(v).toBeLessThan(10);
  });

  it('reads the test subset', async () => {
    const dir = fashionMnistFixtureDir();
    const images = await readIdx(join(dir, 't10k-images-idx3-ubyte.gz'));
    const labels = await readIdx(join(dir, 't10k-labels-idx1-ubyte.gz'));
    expect(images.dims).toEqual([500, 28, 28]);
    expect(labels.dims).toEqual([500]);
  });

  it('decodes big-endian multi-byte types, raw or gzipped', () => {
    const bytes = new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 3, 0x00, 0x01, 0xff, 0xfe, 0x01, 0x00]);
    for (const input of [bytes, new Uint8Array(gzipSync(bytes))]) {
      const arr = parseIdx(input);
      expect(arr.type).toBe('int16');
      expect(Array.from(arr.data)).toEqual([1, -2, 256]);
    }
  });

  it('names the input in errors', async () => {
    expect(() => parseIdx(new Uint8Array([1, 2, 3, 4]), 'x.idx')).toThrow(/x\.idx: not an IDX file/);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 9, 1]), 'y.idx')).toThrow(/y\.idx: truncated IDX data/);
    await expect(readIdx('/nonexistent/file.gz')).rejects.toThrow(/cannot read IDX file \/nonexistent\/file\.gz/);
  });
});
