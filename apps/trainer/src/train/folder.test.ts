import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTransform } from '@ssl/augment';
import { ImageFolder, writePhotoFolder } from '@ssl/data';
import type { PhotoFolder, PhotoFolderLayout } from '@ssl/data';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../config/load.js';
import { cropGrid } from '../commands/show-crops.js';
import { runDino } from './dino.js';
import { dinoTransformSpec } from './run.js';
import { folderOptions } from './runner.js';
import { argv, child, maxWeightDiff, printed, readLog } from './run.test-helpers.js';

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `${name}-`));

/** 8 crops of each of the 3 photographs (JPEG, RGB/RGBA/palette/grey PNG, WebP) and the debris: 28 files. */
const photos = (layout: PhotoFolderLayout): Promise<PhotoFolder> => writePhotoFolder(tmp(`photos-${layout}`), { layout, perPhoto: 8, size: 64 });

// A 2-block ViT on 28px global / 12px local crops, batches of 8, 2 epochs. 4 unreadable files of 28
// are 14%: above the default skip ratio of 5%, so the flag raises it (and is tested below).
const flags = (data: string, out: string) => ({
  dataset: 'folder',
  data_path: data,
  output_dir: out,
  train_images: 0,
  knn_train_images: 0,
  knn_k: 5,
  batch_size_per_gpu: 8,
  epochs: 2,
  log_every: 1,
  progress: 'none',
  attention_images: 2,
  max_skip_ratio: 0.25,
});

const dino = (f: Record<string, unknown>) => runDino(resolveConfig('dino', { preset: 'fmnist_tiny', flags: f }));
const skippedNames = (out: string) => new Set(readLog(out).filter((r) => r.type === 'skip').map((r) => (r as unknown as { name: string }).name));

afterEach(() => vi.restoreAllMocks());

describe('ssl-train dino on a folder of real photos with the debris of a real collection', () => {
  it('class folders, no --val-data-path: trains to the end, k-NN on a held-out stratified split, skips and reports the bad files', async () => {
    const folder = await photos('classes');
    const out = tmp('dino-classes');
    const [summary, said] = await printed(() => dino(flags(folder.root, out)));
    expect(summary).toMatchObject({ stopReason: 'finished', epochs: 2, exitCode: 0 });
    expect(summary.knn).not.toBeNull();
    expect(summary.baseline).not.toBeNull();
    // 3 classes, 10% held out of each (at least one): 3 images never trained on are the k-NN queries
    expect(summary.knn?.testImages).toBe(3);
    expect(said).toContain('data: 28 images, 3 class folders; ignored 2 hidden and 1 other files');
    expect(said).toContain('data: k-NN on a seeded held-out 10% of each class (3 images, not trained on; --val-split)');
    // every unreadable file is named once, with its error, and listed in the report
    const bad = folder.broken.map((b) => join(folder.root, b));
    expect(skippedNames(out)).toEqual(new Set(bad));
    for (const b of bad) expect(said).toContain(`skipped ${b}`);
    expect(said).toMatch(/huge\.png \([^)]*\): decodeImage: cannot decode .*huge\.png: Input image exceeds pixel limit/);
    const report = readFileSync(join(out, 'report.html'), 'utf8');
    expect(report).toContain('Skipped files (4)');
    expect(report).toContain('4 files could not be read and were skipped');
    expect(report).toContain('<h2>k-NN evaluations</h2>');
    // the step count: ceil-free batches of 8 over the 25 training files (held-out ones excluded), 2 epochs
    expect(summary.steps).toBe(2 * Math.floor(25 / 8));
  });

  it('no labels anywhere (flat): completes, the report has no k-NN section and says why, and shows what needs no labels', async () => {
    const folder = await photos('flat');
    const out = tmp('dino-flat');
    const [summary, said] = await printed(() => dino(flags(folder.root, out)));
    expect(summary).toMatchObject({ stopReason: 'finished', epochs: 2, exitCode: 0, knn: null, baseline: null });
    expect(summary.steps).toBe(2 * Math.floor(28 / 8));
    expect(said).toContain('data: 28 images, no class folders: unlabelled');
    expect(said.match(/no labelled images .*k-NN evaluation skipped/g)).toHaveLength(1);
    expect(readLog(out).some((r) => r.type === 'eval')).toBe(false);
    const report = readFileSync(join(out, 'report.html'), 'utf8');
    expect(report).not.toContain('<h2>k-NN evaluations</h2>');
    expect(report).not.toContain('k-NN accuracy on the test split');
    expect(report).toContain('<h2>No k-NN evaluation</h2>');
    expect(report).toContain('no labelled images (the folder has no class sub-folders and no --val-data-path was given)');
    expect(report).toContain('Training loss');
    expect(report).toContain('Skipped files (4)');
    // attention maps and nearest-neighbour strips of training images
    expect(readdirSync(join(out, 'attention')).some((f) => f.startsWith('img0-'))).toBe(true);
    expect(readdirSync(join(out, 'neighbours'))).toEqual(['img0-neighbours.png', 'img1-neighbours.png', 'img2-neighbours.png', 'img3-neighbours.png']);
    expect(report).toContain('Nearest neighbours');
    expect(report).toContain('<h2>Feature space map</h2>');
  });

  it('stops a run whose data is mostly broken, naming the flag', async () => {
    const folder = await photos('flat');
    await expect(dino({ ...flags(folder.root, tmp('dino-ratio')), max_skip_ratio: 0.05 })).rejects.toThrow(
      /DataLoader: \d+ of \d+ samples failed to load .*maxSkipRatio 5%.*accept more with --max-skip-ratio/,
    );
  });

  it('nested folders: resumes after kill -9 from the last checkpoint, reads the cached file list, ends with the weights of an uninterrupted run', async () => {
    const folder = await photos('nested');
    const straight = tmp('dino-nested-straight');
    const first = await dino(flags(folder.root, straight));
    expect(first.steps).toBe(6);
    const killed = tmp('dino-nested-killed');
    const { code } = await child(argv('fmnist_tiny', flags(folder.root, killed)), (c) => {
      const state = join(killed, 'checkpoint', 'state.json');
      if (!existsSync(state) || (JSON.parse(readFileSync(state, 'utf8')) as { epoch: number }).epoch < 1) return false;
      c.kill('SIGKILL');
      return true;
    });
    expect(code).toBeNull();
    expect(existsSync(join(killed, 'file-list.json'))).toBe(true);
    const [summary, said] = await printed(() => dino(flags(folder.root, killed)));
    expect(summary).toMatchObject({ stopReason: 'finished', steps: 6 });
    expect(said).toContain('(file list from the cache in the output directory)');
    expect(said).toContain('resumed from');
    expect(await maxWeightDiff(straight, killed)).toBeLessThan(1e-6);
    expect(skippedNames(killed)).toEqual(new Set(folder.broken.map((b) => join(folder.root, b))));
  });
});

describe('the other roads through a messy folder', () => {
  it('show-crops takes the next readable image in place of a broken one, and names it', async () => {
    const folder = await writePhotoFolder(tmp('photos-crops'), { layout: 'flat', perPhoto: 8, size: 48 });
    const ds = await ImageFolder.create(folder.root);
    const config = resolveConfig('dino', { preset: 'fmnist_tiny', flags: { dataset: 'folder' } });
    const spec = { channels: 3 as const, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    // sorted: astronaut-0..7, broken.jpg, chelsea-0..: the 9th file is broken, the 10th row is chelsea-0
    const grid = await cropGrid(ds, buildTransform(dinoTransformSpec(config.data, spec)), { images: 10, seed: 0, scale: 1, ...spec });
    expect(grid.skipped.map((f) => f.name)).toEqual([join(folder.root, 'broken.jpg')]);
    // ten rows of the largest cell (the 48 px originals) with 4 px gutters
    expect(grid.height).toBe(4 + 10 * (48 + 4));
  });

  it('--fast-decode decodes at the shorter side DINO\'s crops need (496 for the official crops), off by default', () => {
    const official = (f: Record<string, unknown>) => folderOptions(resolveConfig('dino', { flags: { dataset: 'folder', ...f } }));
    expect(official({ fast_decode: true }).minDecodedSide).toBe(496);
    expect(official({}).minDecodedSide).toBeUndefined();
    // 28 px global / 12 px local crops at scale 0.05: 12 / sqrt(0.05 * 0.75) = 62
    expect(folderOptions(resolveConfig('dino', { preset: 'fmnist_tiny', flags: { fast_decode: true } })).minDecodedSide).toBe(62);
  });
});
