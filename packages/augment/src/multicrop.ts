import { Rng } from '@ssl/tensor';
import { gaussianBlur } from './blur.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, equalize, grayscale, hflip, solarize } from './color.js';
import { assertImage, convertChannels, type Channels, type ImageU8 } from './image.js';
import { normalizeInto, normalizeTables } from './normalize.js';
import { centerCropBox, colorJitterParams, randomResizedCropParams, shorterSideSize } from './params.js';
import { resizedCrop, type Interpolation } from './resample.js';

/**
 * One view of a multi-crop pipeline as plain data (serialisable, so a worker can rebuild it).
 * The steps run in this order, each as the torchvision / official transform of the same name:
 * RandomResizedCrop (or Resize + CenterCrop when `center` is set), RandomHorizontalFlip,
 * RandomApply(ColorJitter), RandomGrayscale, GaussianBlur, Solarization, Equalize, ToTensor,
 * Normalize.
 */
export interface ViewSpec {
  /** Output side (square views). */
  size: number;
  /** How many views of this kind (consecutive crop indices). Default 1. */
  count?: number;
  /** RandomResizedCrop area range. Default [0.08, 1]. */
  scale?: [number, number];
  /** RandomResizedCrop aspect range. Default [3/4, 4/3]. */
  ratio?: [number, number];
  interpolation?: Interpolation;
  /** Deterministic eval view: Resize(shorter side = `center.resize`) then CenterCrop(size). */
  center?: { resize: number };
  /** RandomHorizontalFlip probability. Default 0 (off). */
  flip?: number;
  colorJitter?: { brightness: number; contrast: number; saturation: number; hue: number; p: number };
  /** RandomGrayscale probability. */
  grayscale?: number;
  /** Pillow GaussianBlur with radius ~ U(radiusMin, radiusMax), applied with probability p. */
  blur?: { p: number; radiusMin?: number; radiusMax?: number };
  /** Solarization with probability p at `threshold` (default 128) or, with `randomThreshold`, at U(0, 256) (PAWS CIFAR). */
  solarize?: { p: number; threshold?: number; randomThreshold?: boolean };
  /** ImageOps.equalize with probability p (PAWS CIFAR). */
  equalize?: { p: number };
}

export interface MultiCropSpec {
  /** Channels of every view; the input is converted (PIL's rules) when it differs. */
  channels: Channels;
  mean: number[];
  std: number[];
  views: ViewSpec[];
}

/** Shape of one output view, [H, W, C]. */
export type ViewShape = [number, number, number];

/** Where to write one view: a float buffer and the offset of this sample's view in it. */
export interface ViewTarget {
  data: Float32Array;
  offset: number;
}

/**
 * A multi-crop transform: one uint8 image in, one normalised float32 HWC array per crop index out.
 * The random draws of crop `k` come from `rng.fork(k)` only, so a view does not depend on the
 * others or on which worker computes it.
 */
export class MultiCrop {
  readonly spec: MultiCropSpec;
  /** One entry per crop index: [H, W, C]. Crops of one size are consecutive. */
  readonly shapes: ViewShape[];
  private readonly flat: ViewSpec[];
  private readonly tables: Float32Array;
  private readonly scratch = new Map<number, Uint8Array>();
  private resizeScratch = new Uint8Array(0);

  constructor(spec: MultiCropSpec) {
    if (spec.channels !== 1 && spec.channels !== 3) throw new RangeError(`MultiCrop: channels must be 1 or 3, got ${spec.channels}`);
    if (spec.mean.length !== spec.channels || spec.std.length !== spec.channels) {
      throw new RangeError(
        `MultiCrop: mean/std need ${spec.channels} values for ${spec.channels}-channel views, got ${spec.mean.length}/${spec.std.length}`,
      );
    }
    if (!Array.isArray(spec.views) || spec.views.length === 0) throw new RangeError('MultiCrop: need at least one view');
    this.spec = spec;
    this.flat = [];
    for (const v of spec.views) {
      const count = v.count ?? 1;
      if (!Number.isInteger(v.size) || v.size <= 0) throw new RangeError(`MultiCrop: view size must be a positive integer, got ${v.size}`);
      if (!Number.isInteger(count) || count < 0) throw new RangeError(`MultiCrop: view count must be an integer >= 0, got ${count}`);
      const [s0, s1] = v.scale ?? [0.08, 1];
      if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) throw new RangeError(`MultiCrop: scale must satisfy 0 < lo <= hi <= 1, got [${s0}, ${s1}]`);
      for (let i = 0; i < count; i++) this.flat.push(v);
    }
    this.shapes = this.flat.map((v) => [v.size, v.size, spec.channels]);
    this.tables = normalizeTables(spec.mean, spec.std);
  }

  get numViews(): number {
    return this.flat.length;
  }

  /**
   * All views of `image`. With `targets`, view k is written into `targets[k].data` at
   * `targets[k].offset` (the loader's batch buffers) and those arrays are returned.
   */
  apply(image: ImageU8, rng: Rng, targets?: ViewTarget[]): Float32Array[] {
    assertImage(image);
    const src = convertChannels(image, this.spec.channels);
    const out: Float32Array[] = [];
    for (let k = 0; k < this.flat.length; k++) {
      const view = this.applyView(src, k, rng.fork(k));
      const t = targets?.[k];
      out.push(normalizeInto(view, this.tables, t?.data, t?.offset ?? 0));
    }
    return out;
  }

  /** Crop `k` as uint8 before normalisation (for pictures and tests). The buffer is reused. */
  applyView(src: ImageU8, k: number, rng: Rng): ImageU8 {
    const v = this.flat[k];
    if (!v) throw new RangeError(`MultiCrop: crop index ${k} out of range (${this.flat.length} views)`);
    const C = src.channels;
    const n = v.size * v.size * C;
    let buf = this.scratch.get(n);
    if (!buf) this.scratch.set(n, (buf = new Uint8Array(n)));
    const interp = v.interpolation ?? 'bilinear';
    let img: ImageU8;
    if (v.center) {
      const [rh, rw] = shorterSideSize(src.height, src.width, v.center.resize);
      if (this.resizeScratch.length < rh * rw * C) this.resizeScratch = new Uint8Array(rh * rw * C);
      const full = { top: 0, left: 0, height: src.height, width: src.width };
      const resized = resizedCrop(src, full, rh, rw, interp, this.resizeScratch.subarray(0, rh * rw * C));
      img = resizedCrop(resized, centerCropBox(rh, rw, v.size, v.size), v.size, v.size, interp, buf);
    } else {
      const box = randomResizedCropParams(src.height, src.width, v.scale ?? [0.08, 1], v.ratio ?? [3 / 4, 4 / 3], rng);
      img = resizedCrop(src, box, v.size, v.size, interp, buf);
    }
    if (v.flip && rng.random() < v.flip) hflip(img);
    const cj = v.colorJitter;
    if (cj && rng.random() < cj.p) {
      const p = colorJitterParams(cj.brightness, cj.contrast, cj.saturation, cj.hue, rng);
      for (const op of p.order) {
        if (op === 0 && cj.brightness) adjustBrightness(img, p.brightness);
        else if (op === 1 && cj.contrast) adjustContrast(img, p.contrast);
        else if (op === 2 && cj.saturation) adjustSaturation(img, p.saturation);
        else if (op === 3 && cj.hue) adjustHue(img, p.hue);
      }
    }
    if (v.grayscale && rng.random() < v.grayscale) grayscale(img);
    if (v.blur && rng.random() < v.blur.p) gaussianBlur(img, rng.uniform(v.blur.radiusMin ?? 0.1, v.blur.radiusMax ?? 2));
    if (v.solarize && rng.random() < v.solarize.p) {
      solarize(img, v.solarize.randomThreshold ? rng.uniform(0, 256) : (v.solarize.threshold ?? 128));
    }
    if (v.equalize && rng.random() < v.equalize.p) equalize(img);
    return img;
  }
}

/**
 * The shorter side at which an image still gives every view of `spec` at least as many source
 * pixels as output pixels, whatever its aspect: for RandomResizedCrop the smallest crop is
 * sqrt(scale_min * min(ratio_min, 1 / ratio_max)) of the shorter side (DINO's 96-pixel local crops
 * at scale 0.05: 496); a Resize + CenterCrop view needs its resize. The `minDecodedSide` of the
 * fast decode.
 */
export function multiCropDecodeSide(spec: MultiCropSpec): number {
  let side = 0;
  for (const v of spec.views) {
    if ((v.count ?? 1) === 0) continue;
    if (v.center) {
      side = Math.max(side, v.center.resize);
      continue;
    }
    const [scaleMin] = v.scale ?? [0.08, 1];
    const [ratioMin, ratioMax] = v.ratio ?? [3 / 4, 4 / 3];
    side = Math.max(side, Math.ceil(v.size / Math.sqrt(scaleMin * Math.min(ratioMin, 1 / ratioMax))));
  }
  return side;
}
