import {
  centerCropBox,
  decodeImage,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeInto,
  normalizeTables,
  resize,
  shorterSideSize,
  type ImageU8,
} from '@ssl/augment';

/** DINO's eval transform: Resize(256, bicubic) -> CenterCrop(224) -> ToTensor -> Normalize(ImageNet). */
export interface PreprocessOptions {
  /** Shorter side after resizing (torchvision `Resize(int)`). Default 256. */
  resize?: number;
  /** Side of the square centre crop. Default 224. */
  crop?: number;
  mean?: number[];
  std?: number[];
  /** Channels the model takes: 3 (RGB) or 1 (grayscale, PIL's luma). Default 3. */
  channels?: 1 | 3;
  /** Refuse images with more pixels than this (checked from the header before decoding). */
  maxPixels?: number;
}

export interface ResolvedPreprocess {
  resize: number;
  crop: number;
  mean: number[];
  std: number[];
  channels: 1 | 3;
  maxPixels: number;
}

export function resolvePreprocess(o: PreprocessOptions = {}): ResolvedPreprocess {
  const channels = o.channels ?? 3;
  const crop = o.crop ?? 224;
  const resizeTo = o.resize ?? Math.round((crop * 256) / 224);
  const mean = o.mean ?? (channels === 3 ? [...IMAGENET_MEAN] : [0.5]);
  const std = o.std ?? (channels === 3 ? [...IMAGENET_STD] : [0.5]);
  if (!Number.isInteger(crop) || crop < 1) throw new RangeError(`preprocess: crop must be a positive integer, got ${crop}`);
  if (!Number.isInteger(resizeTo) || resizeTo < crop) throw new RangeError(`preprocess: resize (${resizeTo}) must be an integer >= crop (${crop})`);
  if (mean.length !== channels || std.length !== channels) {
    throw new RangeError(`preprocess: mean and std need ${channels} values (one per channel), got ${mean.length} and ${std.length}`);
  }
  return { resize: resizeTo, crop, mean, std, channels, maxPixels: o.maxPixels ?? 40_000_000 };
}

/** A decoded and transformed image: CHW float32, ready to stack into an NCHW batch. */
export interface Prepared {
  chw: Float32Array;
  channels: number;
  height: number;
  width: number;
  /** The crop actually fed to the model (HWC uint8), for overlays. */
  image: ImageU8;
}

function crop(img: ImageU8, size: number): ImageU8 {
  const box = centerCropBox(img.height, img.width, size, size);
  const C = img.channels;
  const out = new Uint8Array(size * size * C);
  for (let y = 0; y < size; y++) {
    const src = ((box.top + y) * img.width + box.left) * C;
    out.set(img.data.subarray(src, src + size * C), y * size * C);
  }
  return { data: out, height: size, width: size, channels: C };
}

/**
 * Resize (shorter side, bicubic, Pillow-exact) + centre crop + normalise, as DINO's eval
 * transform. An image that already has the crop size is used as is (no resampling round trip).
 */
export function transformImage(img: ImageU8, p: ResolvedPreprocess): Prepared {
  let x = img;
  if (!(img.height === p.crop && img.width === p.crop)) {
    const [h, w] = shorterSideSize(img.height, img.width, p.resize);
    x = crop(resize(img, h, w, 'bicubic'), p.crop);
  }
  const hwc = normalizeInto(x, normalizeTables(p.mean, p.std));
  // HWC -> CHW for the NCHW ONNX input.
  const C = x.channels;
  const n = x.height * x.width;
  const chw = new Float32Array(hwc.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) chw[c * n + i] = hwc[i * C + c] as number;
  return { chw, channels: C, height: x.height, width: x.width, image: x };
}

/** Decodes bytes or a file and applies the transform. Errors name the input. */
export async function prepareImage(input: string | Uint8Array, p: ResolvedPreprocess, name?: string): Promise<Prepared> {
  const opts: { channels: 1 | 3; limitInputPixels: number; name?: string } = { channels: p.channels, limitInputPixels: p.maxPixels };
  if (name !== undefined) opts.name = name;
  return transformImage(await decodeImage(input, opts), p);
}

/** Stacks prepared images of one size into an NCHW batch. */
export function stack(items: Prepared[]): { data: Float32Array; dims: number[] } {
  const first = items[0];
  if (!first) throw new Error('stack: no images');
  const per = first.chw.length;
  const data = new Float32Array(per * items.length);
  items.forEach((it, i) => {
    if (it.chw.length !== per) throw new Error(`stack: image ${i} is ${it.channels}x${it.height}x${it.width}, expected ${first.channels}x${first.height}x${first.width}`);
    data.set(it.chw, i * per);
  });
  return { data, dims: [items.length, first.channels, first.height, first.width] };
}
