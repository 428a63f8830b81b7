import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readRevisitedGnd, retrievalCommand, thumbnailSize } from './retrieval-cli.js';
import { bundledPhotosDir } from './suite.js';

const MODEL = ['--random-init', '--arch', 'vit_tiny', '--depth', '1', '--patch-size', '8', '--imsize', '48', '--json'];

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ssl-retrieval-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function run(args: string[]): Promise<any> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  await retrievalCommand(args);
  vi.restoreAllMocks();
  return JSON.parse(out);
}

describe('ssl-eval retrieval', () => {
  it('thumbnails to the size PIL Image.thumbnail gives (values from Pillow)', () => {
    expect(thumbnailSize(640, 480, 224)).toEqual([224, 168]);
    expect(thumbnailSize(500, 333, 224)).toEqual([224, 149]);
    expect(thumbnailSize(333, 500, 224)).toEqual([149, 224]);
    expect(thumbnailSize(225, 10, 224)).toEqual([224, 10]);
    expect(thumbnailSize(100, 100, 224)).toEqual([100, 100]);
    expect(thumbnailSize(1000, 999, 224)).toEqual([224, 224]);
  });

  it('reads the official gnd pickle layout, with lists or numpy arrays, without executing it', () => {
    for (const name of ['gnd_lists.pkl', 'gnd_numpy.pkl']) {
      const g = readRevisitedGnd(new URL(`../fixtures/${name}`, import.meta.url).pathname);
      expect(g.imlist).toEqual(['all_souls_000013', 'all_souls_000026', 'oxford_003410', 'radcliffe_camera_000519']);
      expect(g.qimlist).toEqual(['all_souls_000013', 'radcliffe_camera_000519']);
      expect(g.gnd).toEqual([
        { easy: [0, 1], hard: [], junk: [2] },
        { easy: [3], hard: [2], junk: [] },
      ]);
    }
  });

  it('folder mode: the database itself as queries retrieves each image first (mAP 1), labels from sub-folders', async () => {
    const photos = readdirSync(bundledPhotosDir()).filter((f) => f.endsWith('.jpg')).slice(0, 3);
    const db = join(root, 'db');
    photos.forEach((f, i) => {
      mkdirSync(join(db, `class${i}`), { recursive: true });
      cpSync(join(bundledPhotosDir(), f), join(db, `class${i}`, f));
    });
    for (const extra of [[], ['--multiscale']]) {
      const r = await run([...MODEL, ...extra, '--queries', db, '--database', db, '--k', '1,2']);
      expect(r).toMatchObject({ queries: 3, database: 3, map: 1, recallAt: { 1: 1, 2: 1 }, skipped: 0, multiscale: extra.length > 0 });
    }
    // a labels file that puts two photos in one class: their queries have 2 positives each
    const labels = join(root, 'labels.txt');
    writeFileSync(labels, photos.map((f, i) => `class${i}/${f} ${i < 2 ? 'same' : 'other'}`).join('\n'));
    const r = await run([...MODEL, '--queries', db, '--database', db, '--labels', labels]);
    expect(r.recallAt[1]).toBe(1);
    expect(r.map).toBeLessThanOrEqual(1);
  });

  it('revisited mode: Easy/Medium/Hard from a gnd JSON; refuses a gnd that points outside the database', async () => {
    const dir = join(root, 'rox', 'roxford5k');
    mkdirSync(join(dir, 'jpg'), { recursive: true });
    const photos = readdirSync(bundledPhotosDir()).filter((f) => f.endsWith('.jpg')).slice(0, 4);
    photos.forEach((f) => cpSync(join(bundledPhotosDir(), f), join(dir, 'jpg', f)));
    const names = photos.map((f) => f.replace(/\.jpg$/, ''));
    // queries are database images 0 and 1; query 0's easy positive is itself, hard is image 3
    const gnd = { imlist: names, qimlist: names.slice(0, 2), gnd: [{ easy: [0], hard: [], junk: [] }, { easy: [1], hard: [], junk: [2] }] };
    writeFileSync(join(dir, 'gnd_roxford5k.json'), JSON.stringify(gnd));
    const r = await run([...MODEL, '--data-path', join(root, 'rox'), '--dataset', 'roxford5k']);
    expect(r.easy.map).toBe(1);
    expect(r.medium.map).toBe(1);
    expect(r.hard.map).toBeNull(); // no query has hard positives: NaN, as the official mean over zero queries
    expect(r.easy.mpr).toEqual([1, 1, 1]);

    writeFileSync(join(dir, 'gnd_roxford5k.json'), JSON.stringify({ ...gnd, gnd: [{ easy: [9], hard: [], junk: [] }, gnd.gnd[1]] }));
    await expect(run([...MODEL, '--data-path', join(root, 'rox'), '--dataset', 'roxford5k'])).rejects.toThrow(/gnd\[0\]\.easy must list database indices in \[0, 4\)/);
  });
});
