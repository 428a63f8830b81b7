import type { ImageU8 } from './image.js';
import { ensureWasmMemory, wasmKernels } from './wasm.js';

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

let scratch = new Uint8Array(0);

/**
 * One extended-box pass along rows, all channels, in place (`tmp` holds a copy of the input row).
 * Inner taps [x-r, x+r] weigh `ww`, the two outer taps x-r-1 and x+r+1 weigh `fw` (8.24 fixed
 * point); indices outside the row repeat the edge pixel, as Pillow.
 */
function rowPass(data: Uint8Array, H: number, W: number, C: number, r: number, ww: number, fw: number): void {
  const rowLen = W * C;
  if (scratch.length < rowLen) scratch = new Uint8Array(rowLen);
  const src = scratch;
  const last = W - 1;
  for (let y = 0; y < H; y++) {
    const base = y * rowLen;
    src.set(data.subarray(base, base + rowLen));
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let k = -r; k <= r; k++) acc += src[(k < 0 ? 0 : k > last ? last : k) * C + c] as number;
      for (let x = 0; x < W; x++) {
        const lo = x - r - 1;
        const hi = x + r + 1;
        const hiV = src[(hi > last ? last : hi) * C + c] as number;
        const bulk = acc * ww + ((src[(lo < 0 ? 0 : lo) * C + c] as number) + hiV) * fw;
        data[base + x * C + c] = (bulk + 8388608) / 16777216;
        const drop = x - r;
        acc += hiV - (src[(drop < 0 ? 0 : drop > last ? last : drop) * C + c] as number);
      }
    }
  }
}

/** The same pass down the columns, row by row so memory is read contiguously. */
function columnPass(data: Uint8Array, H: number, W: number, C: number, r: number, ww: number, fw: number): void {
  const rowLen = W * C;
  const n = H * rowLen;
  if (scratch.length < n) scratch = new Uint8Array(n);
  const src = scratch;
  src.set(data.subarray(0, n));
  const last = H - 1;
  if (colAcc.length < rowLen) colAcc = new Float64Array(rowLen);
  const acc = colAcc;
  acc.fill(0, 0, rowLen);
  for (let k = -r; k <= r; k++) {
    const row = (k < 0 ? 0 : k > last ? last : k) * rowLen;
    for (let i = 0; i < rowLen; i++) acc[i] = (acc[i] as number) + (src[row + i] as number);
  }
  for (let y = 0; y < H; y++) {
    const lo = y - r - 1;
    const hi = y + r + 1;
    const drop = y - r;
    const loRow = (lo < 0 ? 0 : lo) * rowLen;
    const hiRow = (hi > last ? last : hi) * rowLen;
    const dropRow = (drop < 0 ? 0 : drop > last ? last : drop) * rowLen;
    const out = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const hiV = src[hiRow + i] as number;
      const a = acc[i] as number;
      data[out + i] = (a * ww + ((src[loRow + i] as number) + hiV) * fw + 8388608) / 16777216;
      acc[i] = a + hiV - (src[dropRow + i] as number);
    }
  }
}

let colAcc = new Float64Array(0);

/** Gaussian blur with Pillow's radius semantics, in place. */
export function gaussianBlur(img: ImageU8, radius: number): ImageU8 {
  if (!(radius >= 0) || !Number.isFinite(radius)) throw new RangeError(`gaussianBlur: radius must be >= 0, got ${radius}`);
  const fr = boxRadiusForGaussian(radius);
  if (fr === 0) return img;
  const r = Math.trunc(fr);
  const ww = Math.trunc(f32(16777216 / f32(f32(fr * 2) + 1)));
  const fw = Math.trunc((16777216 - (r * 2 + 1) * ww) / 2);
  const { data, height: H, width: W, channels: C } = img;
  const k = wasmKernels();
  if (k) {
    const n = H * W * C;
    const dataOff = (k.heapBase + 15) & ~15;
    const tmpOff = (dataOff + n + 15) & ~15;
    const accOff = (tmpOff + n + 15) & ~15;
    ensureWasmMemory(k, accOff + W * C * 4);
    const heap = new Uint8Array(k.memory.buffer);
    heap.set(data, dataOff);
    k.box_blur(dataOff, H, W, C, r, ww, fw, PASSES, tmpOff, accOff);
    data.set(heap.subarray(dataOff, dataOff + n));
    return img;
  }
  // Storing a float into a Uint8Array truncates toward zero: Pillow's `(bulk + 2^23) >> 24`.
  for (let i = 0; i < PASSES; i++) rowPass(data, H, W, C, r, ww, fw);
  for (let i = 0; i < PASSES; i++) columnPass(data, H, W, C, r, ww, fw);
  return img;
}
