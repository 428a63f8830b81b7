import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DINO_FASHION_MNIST } from '@ssl/augment';
import { ImageFolder } from './image-folder.js';
import { DataLoader } from './loader.js';
import { writePhotoFolder, type PhotoFolderLayout } from './photo-folder.js';

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `${name}-`));
const rel = (ds: ImageFolder) => ds.samples.map(([p]) => p.slice(ds.root.length + 1));

describe('ImageFolder on a real collection', () => {
  for (const layout of ['flat', 'nested', 'classes'] as PhotoFolderLayout[]) {
    it(`${layout}: finds every image, labels only class folders, counts hidden and other files`, async () => {
      const folder = await writePhotoFolder(tmp(`photos-${layout}`), { layout, perPhoto: 4, size: 48 });
      const ds = await ImageFolder.create(folder.root);
      expect(ds.labelled).toBe(layout === 'classes');
      expect(new Set(rel(ds))).toEqual(new Set([...folder.images, ...folder.broken]));
      expect(ds.length).toBe(12 + 4);
      expect(ds.ignored).toMatchObject({ hidden: 2, other: 1 });
      expect(ds.ignored.examples.sort()).toEqual([...folder.ignored].sort());
      if (layout === 'classes') {
        expect(ds.classes).toEqual(['astronaut', 'chelsea', 'coffee']);
        folder.images.forEach((f, i) => expect(ds.targets[rel(ds).indexOf(f)]).toBe(ds.classes.indexOf(folder.classes[i] as string)));
      } else {
        expect(ds.classes).toEqual([]);
        expect(Array.from(new Set(ds.targets))).toEqual([-1]);
      }
      // Every good image decodes (RGBA, palette, grey and WebP included); every broken one fails with its name.
      for (let i = 0; i < ds.length; i++) {
        const name = rel(ds)[i] as string;
        if (folder.broken.includes(name)) await expect(ds.get(i)).rejects.toThrow(name.split('/').pop() as string);
        else expect((await ds.get(i)).image.channels).toBe(3);
      }
    });
  }

  it('labels: none reads a class layout as unlabelled; classes forces class folders', async () => {
    const folder = await writePhotoFolder(tmp('photos-force'), { layout: 'classes', perPhoto: 2, size: 32, debris: false });
    const none = await ImageFolder.create(folder.root, { labels: 'none' });
    expect([none.labelled, none.length]).toEqual([false, 6]);
    const nested = await writePhotoFolder(tmp('photos-force-nested'), { layout: 'nested', perPhoto: 3, size: 32, debris: false });
    const years = await ImageFolder.create(nested.root, { labels: 'classes' });
    expect(years.classes).toEqual(['2021', '2022', '2023']);
  });

  it('the loader skips and counts the broken files and trains on the rest', async () => {
    const folder = await writePhotoFolder(tmp('photos-loader'), { layout: 'flat', perPhoto: 4, size: 48 });
    const ds = await ImageFolder.create(folder.root, { channels: 1 });
    const skipped: string[] = [];
    const loader = new DataLoader({
      dataset: ds, transform: { kind: 'dino', ...DINO_FASHION_MNIST }, batchSize: 4, dropLast: false, maxSkipRatio: 0.5,
      onSkip: (f) => skipped.push(f.name),
    });
    let n = 0;
    for await (const b of loader.epoch(0)) n += b.indices.length;
    expect(n).toBe(12);
    expect([loader.skipped, loader.seen]).toEqual([4, 16]);
    expect(skipped.map((s) => s.slice(folder.root.length + 1)).sort()).toEqual([...folder.broken].sort());
  });
});

describe('ImageFolder file-list cache', () => {
  it('reads the cached list without listing, and detects and reports a changed folder', async () => {
    const folder = await writePhotoFolder(tmp('photos-cache'), { layout: 'nested', perPhoto: 3, size: 32 });
    const cacheFile = join(tmp('run'), 'file-list.json');
    const first = await ImageFolder.create(folder.root, { cacheFile });
    expect([first.fromCache, first.change]).toEqual([false, null]);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { files: string[]; dirs: [string, number][] };
    expect(cached.files).toEqual(rel(first));
    const again = await ImageFolder.create(folder.root, { cacheFile });
    expect([again.fromCache, again.change, again.samples]).toEqual([true, null, first.samples]);
    expect(again.ignored).toEqual(first.ignored);

    // The cache is trusted while no folder's mtime moved: proof that it was not rescanned.
    const sneaky = join(folder.root, '2021', '01', 'added-behind-its-back.png');
    writeFileSync(sneaky, readFileSync(join(folder.root, folder.images[0] as string)));
    const [dirRel, mtime] = cached.dirs.find(([d]) => d === join('2021', '01')) as [string, number];
    utimesSync(join(folder.root, dirRel), mtime / 1000, mtime / 1000);
    expect((await ImageFolder.create(folder.root, { cacheFile })).length).toBe(first.length);

    // A new file in a new folder: rescanned and reported.
    mkdirSync(join(folder.root, '2024', '05'), { recursive: true });
    writeFileSync(join(folder.root, '2024', '05', 'new.png'), readFileSync(join(folder.root, folder.images[1] as string)));
    const changed = await ImageFolder.create(folder.root, { cacheFile });
    expect(changed.fromCache).toBe(false);
    expect(changed.change).toEqual({ added: 2, removed: 0, examples: [`+${join('2021', '01', 'added-behind-its-back.png')}`, `+${join('2024', '05', 'new.png')}`] });
    expect(changed.length).toBe(first.length + 2);
    // A different option (labels) is a different list: no stale reuse.
    const other = await ImageFolder.create(folder.root, { cacheFile, labels: 'none' });
    expect([other.fromCache, other.change]).toEqual([false, null]);
  });
});
