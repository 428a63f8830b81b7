import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { convertChannels, type Channels, type ImageU8 } from './image.js';

export interface DecodeOptions {
  /** Channels of the result: 3 (RGB, as PIL's `convert('RGB')`) or 1 (PIL's `convert('L')`). Default 3. */
  channels?: Channels;
  /**
   * Refuse images with more pixels than this (decompression bombs). Default 178,956,970, PIL's own
   * `MAX_IMAGE_PIXELS` * 2 (the point where PIL raises rather than warns).
   */
  limitInputPixels?: number;
  /**
   * How strict to be with damaged files (sharp's `failOn`). Default 'error': a truncated or corrupt
   * file is an error (the loader skips and counts it) instead of silently yielding grey pixels.
   */
  failOn?: 'none' | 'truncated' | 'error' | 'warning';
  /** Name used in error messages when `input` is bytes. */
  name?: string;
  /**
   * Opt-in fast decode of large photos: when set, an image whose shorter side is at least twice
   * this value is decoded at reduced size, its shorter side brought to this value (aspect kept):
   * sharp's shrink-on-load (libjpeg's DCT scaling by 1/2, 1/4 or 1/8 for JPEG, likewise WebP),
   * then a Lanczos-3 resize for the rest. `multiCropDecodeSide(spec)` gives the value at which no
   * crop of a multi-crop transform has fewer source pixels than output pixels. Default: full
   * resolution (the official pipeline).
   */
  minDecodedSide?: number;
  /**
   * Apply an embedded ICC profile (convert to sRGB). Default false: the profile is ignored and the
   * stored values are used as they are, as PIL's `Image.open(p).convert('RGB')` (torchvision's
   * loader, so the official pipeline) does. A photo with a non-sRGB profile (common from cameras
   * and phones) otherwise gets other pixels than the model was trained on.
   */
  colorManagement?: boolean;
}

export const DEFAULT_LIMIT_INPUT_PIXELS = 2 * 89_478_485;

/** Resize on load so that the shorter side is `side`, when that at least halves the image. */
async function shrinkOnLoad(img: Sharp, side: number): Promise<Sharp> {
  if (!(side > 0)) throw new RangeError(`decodeImage: minDecodedSide must be positive, got ${side}`);
  // The header only: a decompression bomb is refused by the decode that follows, never allocated here.
  const meta = await img.metadata();
  if (!meta.width || !meta.height) return img;
  const factor = side / Math.min(meta.width, meta.height);
  if (factor > 0.5) return img;
  // Upright sides (EXIF orientations 5-8 swap them); 'outside' keeps the aspect with both sides >= these.
  const { width, height } = meta.autoOrient ?? meta;
  return img.resize({ width: Math.ceil(width * factor), height: Math.ceil(height * factor), fit: 'outside', kernel: 'lanczos3', fastShrinkOnLoad: true });
}

/**
 * Decode JPEG/PNG/WebP/TIFF/GIF (first frame) into an 8-bit HWC image.
 *
 * EXIF orientation is applied; CMYK, 16-bit, palette and grayscale inputs go to 8-bit sRGB; alpha is
 * dropped (as PIL's `convert('RGB')`, which torchvision's ImageFolder loader calls). An embedded ICC
 * profile is ignored unless `colorManagement` is set, as PIL ignores it. For one
 * channel, the RGB result is reduced with PIL's luma formula so grayscale matches PIL.
 */
export async function decodeImage(input: string | Uint8Array, options: DecodeOptions = {}): Promise<ImageU8> {
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`decodeImage: channels must be 1 or 3, got ${channels}`);
  const name = typeof input === 'string' ? input : (options.name ?? `<${input.length} bytes>`);
  let raw: { data: Buffer; info: OutputInfo };
  try {
    let img = sharp(input, {
      failOn: options.failOn ?? 'error',
      limitInputPixels: options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS,
      autoOrient: true,
      pages: 1,
      ignoreIcc: !(options.colorManagement ?? false),
    });
    if (options.minDecodedSide) img = await shrinkOnLoad(img, options.minDecodedSide);
    raw = await img
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`decodeImage: cannot decode ${name}: ${(err as Error).message}`);
  }
  const { width, height, channels: got } = raw.info;
  if (got !== 3) throw new Error(`decodeImage: ${name}: expected 3 channels after sRGB conversion, got ${got}`);
  // Own the bytes: sharp's Buffer may sit in a shared pool, and we want a transferable ArrayBuffer.
  const data = new Uint8Array(raw.data.length);
  data.set(raw.data);
  return convertChannels({ data, height, width, channels: 3 }, channels);
}
