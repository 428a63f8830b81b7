/** An 8-bit image in HWC order: `data[(y * width + x) * channels + c]`. */
export interface ImageU8 {
  data: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
}

export type Channels = 1 | 3;

/** A zeroed image, or a view over `data` when given (no copy). */
export function createImage(height: number, width: number, channels: Channels, data?: Uint8Array): ImageU8 {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new RangeError(`createImage: height and width must be positive integers, got ${height}x${width}`);
  }
  if (channels !== 1 && channels !== 3) throw new RangeError(`createImage: channels must be 1 or 3, got ${channels}`);
  const n = height * width * channels;
  if (data && data.length !== n) {
    throw new RangeError(`createImage: data has ${data.length} bytes, expected ${height}x${width}x${channels} = ${n}`);
  }
  return { data: data ?? new Uint8Array(n), height, width, channels };
}

/** Throws unless `img` is a well-formed ImageU8; `what` names it in the message. */
export function assertImage(img: ImageU8, what = 'image'): void {
  if (!img || !(img.data instanceof Uint8Array)) throw new TypeError(`${what}: expected { data: Uint8Array, height, width, channels }`);
  if (img.channels !== 1 && img.channels !== 3) throw new RangeError(`${what}: channels must be 1 or 3, got ${img.channels}`);
  if (img.data.length !== img.height * img.width * img.channels) {
    throw new RangeError(`${what}: data has ${img.data.length} bytes, expected ${img.height}x${img.width}x${img.channels}`);
  }
}

/**
 * PIL's RGB -> L conversion (ITU-R 601-2 luma, 16-bit fixed point with rounding), which is what
 * `Image.convert('L')` computes and hence torchvision's grayscale on PIL images.
 */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/** Convert between 1 and 3 channels the way PIL does (RGB -> L by `luma`, L -> RGB by copying). */
export function convertChannels(img: ImageU8, channels: Channels): ImageU8 {
  if (img.channels === channels) return img;
  const n = img.height * img.width;
  const src = img.data;
  if (channels === 1) {
    const out = new Uint8Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = luma(src[j] as number, src[j + 1] as number, src[j + 2] as number);
    return { data: out, height: img.height, width: img.width, channels: 1 };
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const v = src[i] as number;
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
  }
  return { data: out, height: img.height, width: img.width, channels: 3 };
}
