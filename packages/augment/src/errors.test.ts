import { Rng } from '@ssl/tensor';
import { describe, expect, it } from 'vitest';
import { gaussianBlur } from './blur.js';
import { adjustBrightness, adjustHue } from './color.js';
import { decodeImage } from './decode.js';
import { createImage } from './image.js';
import { normalizeTables } from './normalize.js';
import { centerCropBox, randomResizedCropParams } from './params.js';
import { resizedCrop } from './resample.js';

describe('bad input gives errors that say what was expected', () => {
  const img = createImage(10, 12, 3);

  it('images and crops', () => {
    expect(() => createImage(0, 4, 3)).toThrow(/positive integers, got 0x4/);
    expect(() => createImage(2, 2, 2 as 3)).toThrow(/channels must be 1 or 3, got 2/);
    expect(() => createImage(2, 2, 1, new Uint8Array(3))).toThrow(/data has 3 bytes, expected 2x2x1 = 4/);
    expect(() => resizedCrop(img, { top: 5, left: 0, height: 6, width: 4 }, 4, 4)).toThrow(/lies outside the 10x12 image/);
    expect(() => resizedCrop(img, { top: 0, left: 0, height: 4, width: 4 }, 4, 4, 'lanczos' as 'bilinear')).toThrow(/unknown interpolation 'lanczos'/);
    expect(() => resizedCrop(img, { top: 0, left: 0, height: 4, width: 4 }, 2, 2, 'bilinear', new Uint8Array(5))).toThrow(/output buffer has 5 bytes, need 12/);
    expect(() => centerCropBox(10, 12, 11, 4)).toThrow(/larger than the 10x12 image/);
    // A degenerate RandomResizedCrop request still returns a valid box (the fallback).
    const b = randomResizedCropParams(1, 1, [0.08, 1], [3 / 4, 4 / 3], new Rng(0));
    expect(b).toEqual({ top: 0, left: 0, height: 1, width: 1 });
  });

  it('colour and blur parameters', () => {
    expect(() => adjustBrightness(img, -1)).toThrow(/non-negative number, got -1/);
    expect(() => adjustHue(img, 0.6)).toThrow(/\[-0\.5, 0\.5\], got 0\.6/);
    expect(() => gaussianBlur(img, -2)).toThrow(/radius must be >= 0, got -2/);
    expect(() => normalizeTables([0.5, 0.5], [0.5])).toThrow(/same non-zero length, got 2 and 1/);
    expect(() => normalizeTables([0.5], [0])).toThrow(/std must be > 0/);
  });

  it('decoding', async () => {
    await expect(decodeImage(new Uint8Array([1, 2, 3]), { name: 'upload.bin' })).rejects.toThrow(/cannot decode upload\.bin/);
    await expect(decodeImage('x.png', { channels: 2 as 3 })).rejects.toThrow(/channels must be 1 or 3, got 2/);
  });
});
