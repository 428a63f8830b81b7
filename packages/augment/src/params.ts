import type { Rng } from '@ssl/tensor';
import type { CropBox } from './resample.js';

/** Python's round(): halves to even (torchvision computes crop sizes with it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision `RandomResizedCrop.get_params`: up to 10 tries of area ~ U(scale) * area and
 * log-aspect ~ U(log ratio); if none fits, a central crop clamped to the ratio range.
 */
export function randomResizedCropParams(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.integer(0, height - h + 1);
      const left = rng.integer(0, width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  return fallbackCrop(height, width, ratio);
}

/** The central crop RandomResizedCrop falls back to after 10 failed tries. */
export function fallbackCrop(height: number, width: number, ratio: readonly [number, number]): CropBox {
  const inRatio = width / height;
  const lo = Math.min(ratio[0], ratio[1]);
  const hi = Math.max(ratio[0], ratio[1]);
  let w: number;
  let h: number;
  if (inRatio < lo) {
    w = width;
    h = roundHalfEven(w / lo);
  } else if (inRatio > hi) {
    h = height;
    w = roundHalfEven(h * hi);
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** torchvision `center_crop` box (crop no larger than the image). */
export function centerCropBox(height: number, width: number, cropHeight: number, cropWidth: number): CropBox {
  if (cropHeight > height || cropWidth > width) {
    throw new RangeError(`centerCrop: crop ${cropHeight}x${cropWidth} is larger than the ${height}x${width} image`);
  }
  return {
    top: roundHalfEven((height - cropHeight) / 2),
    left: roundHalfEven((width - cropWidth) / 2),
    height: cropHeight,
    width: cropWidth,
  };
}

/** torchvision `Resize(size)` with an int: shorter side to `size`, longer side truncated. */
export function shorterSideSize(height: number, width: number, size: number): [number, number] {
  if (height <= width) return [size, Math.trunc((size * width) / height)];
  return [Math.trunc((size * height) / width), size];
}

export interface ColorJitterParams {
  order: Int32Array;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** torchvision `ColorJitter.get_params`: a random order of the four ops and one factor each. */
export function colorJitterParams(
  brightness: number,
  contrast: number,
  saturation: number,
  hue: number,
  rng: Rng,
): ColorJitterParams {
  const order = rng.permutation(4);
  return {
    order,
    brightness: rng.uniform(Math.max(0, 1 - brightness), 1 + brightness),
    contrast: rng.uniform(Math.max(0, 1 - contrast), 1 + contrast),
    saturation: rng.uniform(Math.max(0, 1 - saturation), 1 + saturation),
    hue: rng.uniform(-hue, hue),
  };
}
