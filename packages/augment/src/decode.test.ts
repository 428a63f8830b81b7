import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './decode.js';
import { luma } from './image.js';

// A 3x2 (h x w) RGB test pattern: distinct colours so orientation and channel order are visible.
const H = 3;
const W = 2;
const PIXELS = [
  [255, 0, 0], [0, 255, 0],
  [0, 0, 255], [255, 255, 0],
  [0, 255, 255], [40, 80, 120],
];
const raw = Buffer.from(PIXELS.flat());
const rawInput = { raw: { width: W, height: H, channels: 3 as const } };

describe('decodeImage', () => {
  it('decodes PNG losslessly to RGB HWC', async () => {
    const png = await sharp(raw, rawInput).png().toBuffer();
    const img = await decodeImage(png);
    expect([img.height, img.width, img.channels]).toEqual([H, W, 3]);
    expect(Array.from(img.data)).toEqual(PIXELS.flat());
  });

  it('reduces to one channel with PIL luma', async () => {
    const png = await sharp(raw, rawInput).png().toBuffer();
    const img = await decodeImage(png, { channels: 1 });
    expect(img.channels).toBe(1);
    expect(Array.from(img.data)).toEqual(PIXELS.map(([r, g, b]) => luma(r!, g!, b!)));
  });

  it('applies EXIF orientation', async () => {
    // Orientation 6: the stored pixels must be rotated 90 degrees clockwise for display.
    const png = await sharp(raw, rawInput).withMetadata({ orientation: 6 }).png().toBuffer();
    const img = await decodeImage(png);
    expect([img.height, img.width]).toEqual([W, H]);
    // Rotating clockwise: the first displayed row is the first stored column read bottom-up.
    const px = (y: number, x: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
    expect(px(0, 0)).toEqual([0, 255, 255]);
    expect(px(0, 2)).toEqual([255, 0, 0]);
  });

  it('drops alpha, converts 16-bit, grayscale and CMYK to 8-bit sRGB', async () => {
    const rgba = Buffer.from(PIXELS.flatMap((p) => [...p, 100]));
    const withAlpha = await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer();
    expect(Array.from((await decodeImage(withAlpha)).data)).toEqual(PIXELS.flat());

    const png16 = await sharp(raw, rawInput).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const img16 = await decodeImage(png16);
    expect(Array.from(img16.data)).toEqual(PIXELS.flat());

    const grey = Buffer.from([0, 50, 100, 150, 200, 250]);
    const greyPng = await sharp(grey, { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
    const g3 = await decodeImage(greyPng);
    expect(Array.from(g3.data)).toEqual(Array.from(grey).flatMap((v) => [v, v, v]));
    expect(Array.from((await decodeImage(greyPng, { channels: 1 })).data)).toEqual(Array.from(grey));

    const flat = Buffer.alloc(16 * 16 * 3, 0);
    for (let i = 0; i < 256; i++) flat.set([200, 60, 30], i * 3);
    const cmyk = await sharp(flat, { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const back = await decodeImage(cmyk);
    expect(back.channels).toBe(3);
    // Colour-managed round trip through CMYK: close to the original colour.
    const [r, g, b] = Array.from(back.data.subarray(8 * 48 + 24, 8 * 48 + 27));
    expect(Math.abs(r! - 200) + Math.abs(g! - 60) + Math.abs(b! - 30)).toBeLessThan(60);
  });

  it('names the file on corrupt, truncated or oversized input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'decode-'));
    const bad = join(dir, 'not-an-image.jpg');
    writeFileSync(bad, 'hello');
    await expect(decodeImage(bad)).rejects.toThrow(/cannot decode .*not-an-image\.jpg/);
    const jpeg = await sharp(Buffer.alloc(64 * 64 * 3, 128), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const truncated = join(dir, 'truncated.jpg');
    writeFileSync(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await expect(decodeImage(truncated)).rejects.toThrow(/truncated\.jpg/);
    await expect(decodeImage(jpeg, { limitInputPixels: 100, name: 'big.jpg' })).rejects.toThrow(/big\.jpg.*pixel limit/i);
    await expect(decodeImage(join(dir, 'missing.png'))).rejects.toThrow(/missing\.png/);
  });

  it('minDecodedSide: decodes large images at reduced size (shorter side kept), leaves small ones alone', async () => {
    // A smooth 1600x1200 gradient as JPEG: shrink-on-load (DCT 1/4) then Lanczos gives the full decode's resize.
    const w = 1600;
    const h = 1200;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 255) / w, (y * 255) / h, 128], (y * w + x) * 3);
    const jpeg = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const small = await decodeImage(jpeg, { minDecodedSide: 300 });
    expect([small.height, small.width]).toEqual([300, 400]);
    const full = await decodeImage(jpeg);
    expect([full.height, full.width]).toEqual([h, w]);
    const ref = await sharp(Buffer.from(full.data), { raw: { width: w, height: h, channels: 3 } }).resize(400, 300).raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff += Math.abs((ref[i] as number) - (small.data[i] as number));
    expect(diff / ref.length).toBeLessThan(2);
    // Less than a halving to gain: full resolution.
    expect((await decodeImage(jpeg, { minDecodedSide: 700 })).height).toBe(h);
    // EXIF orientation 6: upright 1200 wide, 1600 high; the shorter side is the width.
    const rotated = await sharp(jpeg).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const r = await decodeImage(rotated, { minDecodedSide: 300 });
    expect([r.height, r.width]).toEqual([400, 300]);
    await expect(decodeImage(jpeg, { minDecodedSide: -1 })).rejects.toThrow(/minDecodedSide must be positive/);
  });

  it('ignores an embedded ICC profile as PIL does, unless colorManagement is set (fixtures/make_icc_fixture.py)', async () => {
    const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));
    const ref = JSON.parse(readFileSync(join(dir, 'icc_pil.json'), 'utf8')) as { file: string; width: number; height: number; sha256: string };
    const file = join(dir, ref.file); // a real photo in Adobe RGB with its profile embedded
    const plain = await decodeImage(file);
    expect([plain.width, plain.height]).toEqual([ref.width, ref.height]);
    expect(createHash('sha256').update(plain.data).digest('hex')).toBe(ref.sha256); // PIL's pixels exactly
    const managed = await decodeImage(file, { colorManagement: true });
    let sum = 0;
    let max = 0;
    for (let i = 0; i < plain.data.length; i++) {
      const d = Math.abs((plain.data[i] as number) - (managed.data[i] as number));
      sum += d;
      max = Math.max(max, d);
    }
    const mean = sum / plain.data.length;
    console.log(`ICC profile applied vs ignored (PIL): mean ${mean.toFixed(2)}, max ${max} levels`);
    expect(mean).toBeGreaterThan(1);
    expect(max).toBeGreaterThan(10);
  });
});
