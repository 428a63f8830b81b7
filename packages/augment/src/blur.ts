import type { ImageU8 } from './image.js';

/**
 * Pillow's `ImageFilter.GaussianBlur(radius)` (BoxBlur.c): three passes of an extended box blur
 * per axis whose fractional radius gives the Gaussian's variance (Gwosdek et al. 2011), in 8.24
 * fixed point with edge pixels repeated, horizontal passes first, each pass rounding to uint8.
 */

const f32 = Math.fround;
const PASSES = 3;

/** Box radius of one pass (float arithmetic as Pillow's `_gaussian_blur_radius`). */
export function boxRadiusForGaussian(radius: number, passes = PASSES): number {
  const sigma2 = f32(f32(f32(radius) * f32(radius)) / passes);
  const L = f32(Math.sqrt(12 * sigma2 + 1));
  const l = f32(Math.floor((L - 1) / 2));
  let a = f32(f32(2 * l + 1) * f32(f32(l * f32(l + 1)) - f32(3 * sigma2)));
  a = f32(a / f32(6 * f32(sigma2 - f32(f32(l + 1) * f32(l + 1)))));
  return f32(l + a);
}

let lineIn = new Uint8Array(0);

/**
 * One extended-box pass along a line of `n` samples spaced `stride` apart (per channel), in place.
 * ww: weight of the inner 2r+1 taps, fw: weight of the two outer taps (8.24 fixed point).
 */
function boxLine(data: Uint8Array, start: number, stride: number, n: number, r: number, ww: number, fw: number): void {
  if (lineIn.length < n) lineIn = new Uint8Array(n * 2);
  const src = lineIn;
  for (let x = 0, p = start; x < n; x++, p += stride) src[x] = data[p] as number;
  const last = n - 1;
  // Running sum over the 2r+1 inner taps with edge replication.
  let acc = 0;
  for (let k = -r; k <= r; k++) acc += src[k < 0 ? 0 : k > last ? last : k] as number;
  for (let x = 0, p = start; x < n; x++, p += stride) {
    const lo = x - r - 1;
    const hi = x + r + 1;
    const far = (src[lo < 0 ? 0 : lo] as number) + (src[hi > last ? last : hi] as number);
    const bulk = acc * ww + far * fw;
    data[p] = Math.floor((bulk + 8388608) / 16777216);
    // Slide the inner window: drop x - r, add x + r + 1.
    const drop = x - r;
    acc += (src[hi > last ? last : hi] as number) - (src[drop < 0 ? 0 : drop > last ? last : drop] as number);
  }
}

/** Gaussian blur with Pillow's radius semantics, in place. */
export function gaussianBlur(img: ImageU8, radius: number): ImageU8 {
  if (!(radius >= 0) || !Number.isFinite(radius)) throw new RangeError(`gaussianBlur: radius must be >= 0, got ${radius}`);
  const fr = boxRadiusForGaussian(radius);
  if (fr === 0) return img;
  const r = Math.trunc(fr);
  const ww = Math.trunc(f32(16777216 / f32(f32(fr * 2) + 1)));
  const fw = Math.trunc((16777216 - (r * 2 + 1) * ww) / 2);
  const { data, height: H, width: W, channels: C } = img;
  for (let y = 0; y < H; y++) {
    for (let c = 0; c < C; c++) for (let i = 0; i < PASSES; i++) boxLine(data, y * W * C + c, C, W, r, ww, fw);
  }
  for (let x = 0; x < W; x++) {
    for (let c = 0; c < C; c++) for (let i = 0; i < PASSES; i++) boxLine(data, x * C + c, W * C, H, r, ww, fw);
  }
  return img;
}
