import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { boundaryF, boundaryMap, davisScore, regionJ } from './davis-metrics.js';
import { davisPalette, decodeLabelPng, encodeIndexedPng } from './indexed-png.js';
import { davisFrameSize, videoSegCommand } from './video-seg-cli.js';

const root = mkdtempSync(join(tmpdir(), 'ssl-davis-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('DAVIS metrics', () => {
  it('J is IoU (1 for two empty masks); the boundary map and F follow seg2bmap / f_measure', () => {
    const a = Uint8Array.from([1, 1, 0, 0]);
    const b = Uint8Array.from([0, 1, 1, 0]);
    expect(regionJ(a, b)).toBeCloseTo(1 / 3, 12);
    expect(regionJ(new Uint8Array(4), new Uint8Array(4))).toBe(1);
    // a 2x2 square in a 4x4 image: seg2bmap marks pixels whose east/south/south-east neighbour differs
    const sq = new Uint8Array(16);
    for (const i of [5, 6, 9, 10]) sq[i] = 1;
    expect(Array.from(boundaryMap(sq, 4, 4))).toEqual([1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(boundaryF(sq, sq, 4, 4)).toBe(1);
    expect(boundaryF(new Uint8Array(16), sq, 4, 4)).toBe(0); // nothing predicted: precision 1, recall 0
    // a square shifted far beyond the 1-pixel tolerance of a 100x100 image (ceil(0.008 * 141.4) = 2)
    const big = (x0: number): Uint8Array => {
      const m = new Uint8Array(100 * 100);
      for (let y = 10; y < 30; y++) for (let x = x0; x < x0 + 20; x++) m[y * 100 + x] = 1;
      return m;
    };
    expect(boundaryF(big(10), big(60), 100, 100)).toBe(0);
    expect(boundaryF(big(10), big(12), 100, 100)).toBeGreaterThan(0.5);
    const s = davisScore([sq, sq, new Uint8Array(16), sq], [sq, sq, sq, sq], 4, 4);
    expect(s.frames).toBe(2); // first and last frames are not scored
    expect(s.J).toBeCloseTo(0.5, 12);
  });

  it('writes palette PNGs that decode to the same labels (and reads them through sharp as DAVIS colours)', async () => {
    const labels = Uint8Array.from({ length: 6 * 5 }, (_, i) => i % 4);
    const png = encodeIndexedPng(labels, 6, 5);
    expect(Array.from((await decodeLabelPng(png)).labels)).toEqual(Array.from(labels));
    const rgb = await sharp(png).removeAlpha().raw().toBuffer();
    const pal = davisPalette();
    expect(Array.from(rgb.subarray(3, 6))).toEqual(Array.from(pal.subarray(3, 6))); // label 1
    expect(Array.from(pal.subarray(3, 9))).toEqual([128, 0, 0, 0, 128, 0]);
    const asRgbPng = await sharp(rgb, { raw: { width: 5, height: 6, channels: 3 } }).png().toBuffer();
    expect(Array.from((await decodeLabelPng(asRgbPng)).labels)).toEqual(Array.from(labels));
  });

  it('sizes frames as the official read_frame (short side 480, long side floored to 64)', () => {
    expect(davisFrameSize(480, 854)).toEqual([480, 832]);
    expect(davisFrameSize(1080, 1920)).toEqual([480, 832]);
    expect(davisFrameSize(854, 480)).toEqual([832, 480]);
  });
});

describe('ssl-eval video-seg', () => {
  it('propagates the first mask through a DAVIS-layout clip, writes palette PNGs and scores J/F', async () => {
    // a bright square sliding right over a dark textured background, 5 frames of 64x96
    const video = 'square';
    mkdirSync(join(root, 'JPEGImages', video), { recursive: true });
    mkdirSync(join(root, 'Annotations', video), { recursive: true });
    for (let t = 0; t < 5; t++) {
      const rgb = new Uint8Array(64 * 96 * 3);
      const mask = new Uint8Array(64 * 96);
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 96; x++) {
          const inside = y >= 16 && y < 48 && x >= 8 + 8 * t && x < 40 + 8 * t;
          const v = inside ? 230 : 30 + ((x * 7 + y * 13) % 40);
          rgb.set([v, inside ? 60 : v, inside ? 40 : v], (y * 96 + x) * 3);
          mask[y * 96 + x] = inside ? 1 : 0;
        }
      }
      const name = String(t).padStart(5, '0');
      writeFileSync(join(root, 'JPEGImages', video, `${name}.jpg`), await sharp(rgb, { raw: { width: 96, height: 64, channels: 3 } }).jpeg({ quality: 95 }).toBuffer());
      writeFileSync(join(root, 'Annotations', video, `${name}.png`), encodeIndexedPng(mask, 64, 96));
    }
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await videoSegCommand([
        '--random-init', '--arch', 'vit_tiny', '--depth', '2', '--patch-size', '8', '--short-side', '64',
        '--size-mask-neighborhood', '3', '--data-path', root, '--out', join(root, 'out'), '--json',
      ]);
    } finally {
      vi.restoreAllMocks();
    }
    const r = JSON.parse(out);
    expect(r.videos[0]).toMatchObject({ video, frames: 5 });
    expect(r.videos[0].score.frames).toBe(3);
    for (const k of ['J', 'F', 'JF']) expect(r.mean[k]).toBeGreaterThanOrEqual(0);
    // even random features follow a high-contrast square better than chance
    expect(r.mean.J).toBeGreaterThan(0.3);
    const last = await decodeLabelPng(readFileSync(join(root, 'out', video, '00004.png')));
    expect([last.height, last.width]).toEqual([64, 96]);
    expect(new Set(last.labels).size).toBeLessThanOrEqual(2);
  });
});
