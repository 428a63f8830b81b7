import type { ImageU8 } from '@ssl/augment';
import sharp, { type Sharp } from 'sharp';
import type { EntryImages } from './vector-index.js';

/** Side of the square index thumbnails: a grid cell of the web page, sharp on 2x screens up to ~48 CSS px. */
export const THUMBNAIL_SIZE = 96;

function raw(img: ImageU8): Sharp {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 },
  });
}

/**
 * What the index keeps of an image: the model-input crop as PNG (lossless, and already at the crop
 * size, so re-running it skips the resize and gives the same embedding) and a WebP thumbnail
 * (a few KiB, so a page of the index grid fits in one small response).
 */
export async function entryImages(crop: ImageU8): Promise<EntryImages> {
  const [png, thumbnail] = await Promise.all([
    raw(crop).png().toBuffer(),
    raw(crop).resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', kernel: 'lanczos3' }).webp({ quality: 75 }).toBuffer(),
  ]);
  return { crop: png, thumbnail };
}

export const dataUrl = (mime: string, bytes: Uint8Array): string => `data:${mime};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
