import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { photosFixtureDir } from './fixtures.js';

/** Layouts of `writePhotoFolder`: images directly in the root, nested by date, or one folder per class. */
export type PhotoFolderLayout = 'flat' | 'nested' | 'classes';

export interface PhotoFolderOptions {
  layout: PhotoFolderLayout;
  /** Images cut from each committed photograph. Default 8. */
  perPhoto?: number;
  /** Longer side of each image in pixels. Default 96. */
  size?: number;
  /** Add the debris of a real collection (see `PhotoFolder`). Default true. */
  debris?: boolean;
}

export interface PhotoFolder {
  root: string;
  /** Relative paths of the good images, in the order written. */
  images: string[];
  /** Class of each good image (the photograph it was cut from). */
  classes: string[];
  /** Files with an image extension that cannot be decoded: truncated JPEG, garbage, zero bytes, a PNG claiming 100000x100000 pixels. */
  broken: string[];
  /** Entries a scan leaves out: a text file and hidden files. */
  ignored: string[];
}

/** The formats of a real collection, cycled through: JPEG, PNG as RGB / RGBA / palette / grey, WebP. */
const FORMATS = [
  { ext: 'jpg', encode: (s: Sharp) => s.jpeg({ quality: 90 }) },
  { ext: 'png', encode: (s: Sharp) => s.png() },
  { ext: 'png', encode: (s: Sharp) => s.ensureAlpha(0.8).png() },
  { ext: 'png', encode: (s: Sharp) => s.png({ palette: true, colours: 64 }) },
  { ext: 'png', encode: (s: Sharp) => s.greyscale().png() },
  { ext: 'webp', encode: (s: Sharp) => s.webp({ quality: 90 }) },
] as const;

/**
 * A PNG whose header claims `width` x `height` pixels over a few bytes of data: a decompression
 * bomb that a decoder must refuse from the header, before allocating anything.
 */
export function pngClaiming(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, adaptive filtering, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

/** Where image `i` of photograph `photo` goes in each layout. */
function placeImage(layout: PhotoFolderLayout, photo: string, p: number, i: number, ext: string): string {
  if (layout === 'flat') return `${photo}-${i}.${ext}`;
  if (layout === 'classes') return join(photo, `${i}.${ext}`);
  return join(`${2021 + (i % 3)}`, String(1 + p).padStart(2, '0'), `${photo}-${i}.${ext}`);
}

/** Where the debris goes: among the images (so the loader meets it), plus a note beside the folders. */
function debrisDir(layout: PhotoFolderLayout, firstPhoto: string): string {
  return layout === 'flat' ? '' : layout === 'classes' ? firstPhoto : join('2022', '02');
}

/**
 * Writes an image folder made from the committed photographs (`photosFixtureDir()`) in one layout:
 * `perPhoto` crops of each, flipped every other time, in every format of `FORMATS`, plus (with
 * `debris`) a truncated JPEG, garbage named .jpg, a zero-byte .png, a PNG header claiming
 * 100000x100000 pixels, a notes.txt and hidden files. Fast (tens of milliseconds for the default).
 */
export async function writePhotoFolder(root: string, options: PhotoFolderOptions): Promise<PhotoFolder> {
  const { layout, perPhoto = 8, size = 96, debris = true } = options;
  const dir = photosFixtureDir();
  const photos = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).sort();
  const images: string[] = [];
  const classes: string[] = [];
  let n = 0;
  for (let p = 0; p < photos.length; p++) {
    const file = photos[p] as string;
    const photo = file.replace(/\.jpg$/, '');
    const meta = await sharp(join(dir, file)).metadata();
    for (let i = 0; i < perPhoto; i++, n++) {
      const format = FORMATS[n % FORMATS.length] as (typeof FORMATS)[number];
      // A different 80% window of the photograph each time.
      const w = Math.floor(meta.width * 0.8);
      const h = Math.floor(meta.height * 0.8);
      const left = Math.floor(((meta.width - w) * i) / Math.max(1, perPhoto - 1));
      const top = Math.floor(((meta.height - h) * (perPhoto - 1 - i)) / Math.max(1, perPhoto - 1));
      const img = sharp(join(dir, file)).extract({ left, top, width: w, height: h }).flop(i % 2 === 1).resize(size, size, { fit: 'inside' });
      const rel = placeImage(layout, photo, p, i, format.ext);
      await mkdir(dirname(join(root, rel)), { recursive: true });
      await format.encode(img).toFile(join(root, rel));
      images.push(rel);
      classes.push(photo);
    }
  }
  const broken: string[] = [];
  const ignored: string[] = [];
  if (debris) {
    const d = debrisDir(layout, (photos[0] as string).replace(/\.jpg$/, ''));
    await mkdir(join(root, d), { recursive: true });
    const jpeg = await sharp(join(dir, photos[0] as string)).jpeg({ quality: 90 }).toBuffer();
    const bad: [string, Uint8Array][] = [
      ['broken.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.6))],
      // Deterministic bytes that are no image format.
      ['garbage.jpg', Uint8Array.from({ length: 3000 }, (_, k) => (k * 7919 + 13) & 0xff)],
      ['empty.png', new Uint8Array(0)],
      ['huge.png', pngClaiming(100_000, 100_000)],
    ];
    for (const [name, bytes] of bad) {
      await writeFile(join(root, d, name), bytes);
      broken.push(join(d, name));
    }
    const skip: [string, string | Uint8Array][] = [
      [join(d, 'notes.txt'), 'shot list: beach, cat, coffee\n'],
      [join(d, '.DS_Store'), new Uint8Array(64)],
      [join(d, '._chelsea.jpg'), new Uint8Array(82)],
    ];
    for (const [rel, content] of skip) {
      await writeFile(join(root, rel), content);
      ignored.push(rel);
    }
  }
  return { root, images, classes, broken, ignored };
}
