import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { defaultFashionMnistDir, FashionMNIST } from './fashion-mnist.js';
import { fashionMnistFixtureDir } from './fixtures.js';
import { ImageFolder } from './image-folder.js';

describe('FashionMNIST', () => {
  it('reads the fixture: images as 28x28x1 views, labels from the IDX file', async () => {
    const ds = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'train' });
    expect(ds.length).toBe(2000);
    const s = ds.get(0);
    expect([s.image.height, s.image.width, s.image.channels, s.label]).toEqual([28, 28, 1, 9]);
    expect(s.image.data.reduce((a, b) => a + b, 0)).toBe(76247);
    expect(Array.from(ds.targets.subarray(0, 5))).toEqual([9, 0, 0, 3, 0]);
    expect(ds.spec).toEqual({ kind: 'fashion-mnist', root: fashionMnistFixtureDir(), split: 'train', channels: 1 });
    const test = await FashionMNIST.load({ root: fashionMnistFixtureDir(), split: 'test', channels: 3 });
    expect(test.length).toBe(500);
    expect(test.get(0).image.channels).toBe(3);
    expect(() => ds.get(2000)).toThrow(/index 2000 out of range \[0, 2000\)/);
  });

  it('defaults to the installed dataset when present, else the fixture', () => {
    expect([fashionMnistFixtureDir(), '/usr/share/datasets/fashion-mnist']).toContain(defaultFashionMnistDir());
  });

  it('names the missing file', async () => {
    await expect(FashionMNIST.load({ root: '/nonexistent' })).rejects.toThrow(/\/nonexistent\/train-images-idx3-ubyte\(\.gz\) not found/);
  });
});

describe('ImageFolder', () => {
  it('sorts classes and files as torchvision and decodes on get', async () => {
    const root = mkdtempSync(join(tmpdir(), 'imagefolder-'));
    const png = (v: number) => sharp(Buffer.alloc(4 * 5 * 3, v), { raw: { width: 5, height: 4, channels: 3 } }).png().toBuffer();
    // Upper case sorts before lower case (code point order), nested folders are walked.
    for (const c of ['dog', 'Cat', 'bird']) mkdirSync(join(root, c, 'sub'), { recursive: true });
    writeFileSync(join(root, 'dog', 'b.png'), await png(10));
    writeFileSync(join(root, 'dog', 'a.PNG'), await png(20));
    writeFileSync(join(root, 'dog', 'sub', 'c.png'), await png(30));
    writeFileSync(join(root, 'dog', 'notes.txt'), 'not an image');
    writeFileSync(join(root, 'Cat', 'z.png'), await png(40));
    writeFileSync(join(root, 'bird', 'sub', 'y.png'), await png(50));
    writeFileSync(join(root, 'README'), 'top-level file is ignored');
    const ds = await ImageFolder.create(root);
    expect(ds.classes).toEqual(['Cat', 'bird', 'dog']);
    expect(ds.samples.map(([p, c]) => [p.slice(root.length + 1), c])).toEqual([
      ['Cat/z.png', 0],
      ['bird/sub/y.png', 1],
      ['dog/a.PNG', 2],
      ['dog/b.png', 2],
      ['dog/sub/c.png', 2],
    ]);
    const s = await ds.get(2);
    expect([s.image.height, s.image.width, s.image.channels, s.label, s.image.data[0]]).toEqual([4, 5, 3, 2, 20]);
    expect(ds.describe(2)).toBe(join(root, 'dog', 'a.PNG'));
    await expect(ImageFolder.create(join(root, 'nope'))).rejects.toThrow(/cannot read .*nope/);
  });
});
