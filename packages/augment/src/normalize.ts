import type { ImageU8 } from './image.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** PAWS's CIFAR-10 statistics (suncet src/data_manager.py). */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR10_STD = [0.2023, 0.1994, 0.201] as const;
/** Fashion-MNIST training-set pixel mean and std (of x / 255). */
export const FASHION_MNIST_MEAN = [0.286] as const;
export const FASHION_MNIST_STD = [0.353] as const;

const f32 = Math.fround;

/**
 * Per-channel lookup tables equal to torchvision's `ToTensor()` then `Normalize(mean, std)` in
 * float32: ((v / 255) - mean) / std.
 */
export function normalizeTables(mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== std.length || mean.length === 0) {
    throw new RangeError(`normalize: mean and std need the same non-zero length, got ${mean.length} and ${std.length}`);
  }
  const C = mean.length;
  const t = new Float32Array(C * 256);
  for (let c = 0; c < C; c++) {
    const m = f32(mean[c] as number);
    const s = f32(std[c] as number);
    if (!(s > 0)) throw new RangeError(`normalize: std must be > 0, got ${std[c]}`);
    for (let v = 0; v < 256; v++) t[c * 256 + v] = f32(f32(f32(v / 255) - m) / s);
  }
  return t;
}

/** ToTensor + Normalize into `out` (HWC float32) at `offset`; returns `out`. */
export function normalizeInto(img: ImageU8, tables: Float32Array, out?: Float32Array, offset = 0): Float32Array {
  const C = img.channels;
  if (tables.length !== C * 256) {
    throw new RangeError(`normalize: ${tables.length / 256} channel statistics for a ${C}-channel image`);
  }
  const n = img.data.length;
  const dst = out ?? new Float32Array(n);
  if (offset + n > dst.length) throw new RangeError(`normalize: output has ${dst.length} floats, need ${offset + n}`);
  const d = img.data;
  if (C === 1) for (let i = 0; i < n; i++) dst[offset + i] = tables[d[i] as number] as number;
  else {
    for (let i = 0; i < n; i += 3) {
      dst[offset + i] = tables[d[i] as number] as number;
      dst[offset + i + 1] = tables[256 + (d[i + 1] as number)] as number;
      dst[offset + i + 2] = tables[512 + (d[i + 2] as number)] as number;
    }
  }
  return dst;
}
