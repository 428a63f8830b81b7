import { decodeImage } from '@ssl/augment';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { pngClaiming } from './photo-folder.js';

describe('pngClaiming', () => {
  it('is a valid PNG header claiming 100000x100000 pixels, refused from the header without allocating', async () => {
    const bomb = pngClaiming(100_000, 100_000);
    expect(await sharp(bomb, { limitInputPixels: false }).metadata()).toMatchObject({ format: 'png', width: 100_000, height: 100_000 });
    const rss0 = process.memoryUsage().rss;
    // 10^10 RGB pixels would be 30 GB; the refusal must come from the header, before any allocation.
    await expect(decodeImage(bomb, { name: 'huge.png' })).rejects.toThrow(/huge\.png.*pixel limit/i);
    await expect(decodeImage(bomb, { name: 'huge.png', minDecodedSide: 496 })).rejects.toThrow(/huge\.png.*pixel limit/i);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 2 ** 20);
  });
});
