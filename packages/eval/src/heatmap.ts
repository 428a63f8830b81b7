import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { tf } from '@ssl/tensor';
import { meanHeadMap, thresholdMask, upsampleNearest, type AttentionMaps } from './attention.js';
import { VIRIDIS } from './viridis.js';

/**
 * Colour a row-major `[h, w]` map with viridis after min-max normalisation, as `plt.imsave`
 * (default colour map, index = min(255, floor(256 * (v - min) / (max - min))); a constant map is
 * all index 0). Returns RGB bytes.
 */
export function colorize(map: ArrayLike<number>): Uint8Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  const out = new Uint8Array(map.length * 3);
  for (let i = 0; i < map.length; i++) {
    const t = range > 0 ? ((map[i] as number) - min) / range : 0;
    const idx = Math.min(255, Math.max(0, Math.floor(t * 256)));
    out[i * 3] = VIRIDIS[idx * 3] as number;
    out[i * 3 + 1] = VIRIDIS[idx * 3 + 1] as number;
    out[i * 3 + 2] = VIRIDIS[idx * 3 + 2] as number;
  }
  return out;
}

/**
 * An image as RGB bytes for display, min-max normalised over all its values as the official
 * script's `make_grid(normalize=True, scale_each=True)` + `save_image` (x * 255 + 0.5, clamped).
 * `image` is `[H, W, C]` with C = 1 (grey, repeated) or 3.
 */
export async function imageToRgb(image: tf.Tensor3D): Promise<Uint8Array> {
  const [H, W, C] = image.shape;
  if (C !== 1 && C !== 3) throw new Error(`image: expected 1 or 3 channels, got ${C}`);
  const v = await image.data();
  let min = Infinity;
  let max = -Infinity;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const scale = max > min ? 1 / (max - min) : 0;
  const out = new Uint8Array(H * W * 3);
  for (let p = 0; p < H * W; p++) {
    for (let c = 0; c < 3; c++) {
      const x = ((v[p * C + (C === 1 ? 0 : c)] as number) - min) * scale;
      out[p * 3 + c] = Math.min(255, Math.max(0, Math.floor(x * 255 + 0.5)));
    }
  }
  return out;
}

/**
 * Paint `mask` over an RGB image as the official `apply_mask` (alpha 0.5, colour red: the one
 * colour `random_colors(1)` yields): pixel * (1 - alpha * m) + alpha * m * colour, truncated to
 * bytes; with `contour`, mask pixels with a 4-neighbour outside the mask are drawn in the full
 * colour (the official script outlines the mask with matplotlib polygons).
 */
export function maskOverlay(
  rgb: Uint8Array,
  h: number,
  w: number,
  mask: ArrayLike<number>,
  options: { color?: [number, number, number]; alpha?: number; contour?: boolean } = {},
): Uint8Array {
  if (rgb.length !== h * w * 3) throw new Error(`maskOverlay: rgb has ${rgb.length} bytes, expected ${h}x${w}x3`);
  if (mask.length !== h * w) throw new Error(`maskOverlay: mask has ${mask.length} values, expected ${h}x${w}`);
  const color = options.color ?? [255, 0, 0];
  const alpha = options.alpha ?? 0.5;
  const out = new Uint8Array(rgb);
  const inMask = (y: number, x: number): boolean => y >= 0 && y < h && x >= 0 && x < w && (mask[y * w + x] as number) > 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const m = mask[y * w + x] as number;
      if (!(m > 0)) continue;
      const edge = options.contour !== false && (!inMask(y - 1, x) || !inMask(y + 1, x) || !inMask(y, x - 1) || !inMask(y, x + 1));
      for (let c = 0; c < 3; c++) {
        const p = (y * w + x) * 3 + c;
        out[p] = edge ? (color[c] as number) : Math.floor((rgb[p] as number) * (1 - alpha * m) + alpha * m * (color[c] as number));
      }
    }
  }
  return out;
}

/** Encode RGB bytes as PNG, optionally enlarged by an integer factor (nearest) for viewing. */
export async function rgbToPng(rgb: Uint8Array, h: number, w: number, enlarge = 1): Promise<Buffer> {
  const img = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: w, height: h, channels: 3 } });
  const sized = enlarge > 1 ? img.resize(w * enlarge, h * enlarge, { kernel: 'nearest' }) : img;
  return sized.png().toBuffer();
}

export interface AttentionPngOptions {
  patchSize: number;
  /** Mass kept by the threshold masks; official default when given on the command line: 0.6. */
  threshold?: number;
  /** Integer enlargement of every written PNG (small images such as 28x28 are hard to see). */
  enlarge?: number;
  /** File name prefix, e.g. `img3-`. */
  prefix?: string;
}

/**
 * Write the official visualisation set for one image into `dir`: `img.png`, `attn-head{j}.png`
 * (viridis heat maps upsampled nearest by the patch size) and `mask_th{t}_head{j}.png` overlays,
 * plus `attn-mean.png` / `mask_th{t}_mean.png` for the head-averaged map. Returns the paths.
 */
export async function writeAttentionPngs(
  dir: string,
  image: tf.Tensor3D,
  maps: AttentionMaps,
  options: AttentionPngOptions,
): Promise<string[]> {
  const { patchSize } = options;
  const threshold = options.threshold ?? 0.6;
  const enlarge = options.enlarge ?? 1;
  const prefix = options.prefix ?? '';
  const H = maps.gridH * patchSize;
  const W = maps.gridW * patchSize;
  if (image.shape[0] !== H || image.shape[1] !== W) {
    throw new Error(`image is ${image.shape[0]}x${image.shape[1]}, attention grid covers ${H}x${W}; crop with cropToPatchMultiple`);
  }
  await mkdir(dir, { recursive: true });
  const rgb = await imageToRgb(image);
  const n = maps.gridH * maps.gridW;
  const written: string[] = [];
  const save = async (name: string, data: Uint8Array): Promise<void> => {
    const path = join(dir, `${prefix}${name}`);
    await sharp(await rgbToPng(data, H, W, enlarge)).toFile(path);
    written.push(path);
  };
  await save('img.png', rgb);
  const heads: [string, Float32Array][] = [];
  for (let j = 0; j < maps.heads; j++) heads.push([`head${j}`, maps.maps.subarray(j * n, (j + 1) * n)]);
  heads.push(['mean', meanHeadMap(maps)]);
  for (const [tag, map] of heads) {
    const up = upsampleNearest(map, maps.gridH, maps.gridW, patchSize);
    await save(`attn-${tag}.png`, colorize(up));
    const mask = upsampleNearest(thresholdMask(map, threshold), maps.gridH, maps.gridW, patchSize);
    await save(`mask_th${threshold}_${tag}.png`, maskOverlay(rgb, H, W, mask));
  }
  return written;
}
