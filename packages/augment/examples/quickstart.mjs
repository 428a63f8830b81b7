// DINO multi-crop of a JPEG: 2 global + N local normalised views.
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { DataAugmentationDINO, decodeImage } from '@ssl/augment';
import { Rng } from '@ssl/tensor';

// A 96x64 JPEG with a gradient, made here so the example needs no file.
const pixels = Buffer.alloc(96 * 64 * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) % 256;
const jpeg = await sharp(pixels, { raw: { width: 96, height: 64, channels: 3 } }).jpeg().toBuffer();

const img = await decodeImage(jpeg, { channels: 3 });
assert.equal(img.width, 96);
const aug = new DataAugmentationDINO({ globalSize: 32, localSize: 16, localCropsNumber: 4 });
const views = aug.apply(img, new Rng(0).fork(0, 0));
assert.equal(views.length, 6);
assert.equal(views[0].length, 32 * 32 * 3);
assert.equal(views[5].length, 16 * 16 * 3);
console.log(`multi-crop of a ${jpeg.length}-byte JPEG: ${views.length} views, shapes ${JSON.stringify(aug.shapes)}`);
