import { luma, type ImageU8 } from './image.js';

/**
 * Colour operations equal to what torchvision runs on PIL images (ImageEnhance, ImageOps and
 * Pillow's HSV conversion), in place on uint8 HWC data.
 */

const f32 = Math.fround;

/**
 * Pillow's `Image.blend(degenerate, image, alpha)` for one value: float32 arithmetic, truncation
 * inside [0, 1] and clipping when extrapolating (alpha outside [0, 1]).
 */
function blendValue(deg: number, v: number, alpha: number, extrapolate: boolean): number {
  const t = f32(deg + f32(alpha * (v - deg)));
  if (!extrapolate) return Math.trunc(t);
  if (t <= 0) return 0;
  if (t >= 255) return 255;
  return Math.trunc(t);
}

const lut = new Uint8Array(256);

function applyLut(data: Uint8Array, table: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] = table[data[i] as number] as number;
}

/** torchvision `adjust_brightness` (PIL ImageEnhance.Brightness): blend with black. */
export function adjustBrightness(img: ImageU8, factor: number): ImageU8 {
  checkFactor('adjustBrightness', factor);
  const alpha = f32(factor);
  const ex = alpha < 0 || alpha > 1;
  for (let v = 0; v < 256; v++) lut[v] = blendValue(0, v, alpha, ex);
  applyLut(img.data, lut);
  return img;
}

/** Mean luma rounded as PIL's ImageEnhance.Contrast: `int(mean + 0.5)`. */
export function meanLuma(img: ImageU8): number {
  const d = img.data;
  let sum = 0;
  const n = img.height * img.width;
  if (img.channels === 1) for (let i = 0; i < n; i++) sum += d[i] as number;
  else for (let i = 0, j = 0; i < n; i++, j += 3) sum += luma(d[j] as number, d[j + 1] as number, d[j + 2] as number);
  return Math.trunc(sum / n + 0.5);
}

/** torchvision `adjust_contrast` (PIL ImageEnhance.Contrast): blend with the mean grey. */
export function adjustContrast(img: ImageU8, factor: number): ImageU8 {
  checkFactor('adjustContrast', factor);
  const mean = meanLuma(img);
  const alpha = f32(factor);
  const ex = alpha < 0 || alpha > 1;
  for (let v = 0; v < 256; v++) lut[v] = blendValue(mean, v, alpha, ex);
  applyLut(img.data, lut);
  return img;
}

const blendTable = new Float32Array(511);

/** torchvision `adjust_saturation` (PIL ImageEnhance.Color): blend each pixel with its luma. */
export function adjustSaturation(img: ImageU8, factor: number): ImageU8 {
  checkFactor('adjustSaturation', factor);
  if (img.channels === 1) return img; // grey blended with itself is unchanged
  const alpha = f32(factor);
  const ex = alpha < 0 || alpha > 1;
  // alpha * (v - L) for every difference -255..255, in float32 as Pillow.
  for (let d = -255; d <= 255; d++) blendTable[d + 255] = alpha * d;
  const data = img.data;
  const n = img.height * img.width * 3;
  for (let j = 0; j < n; j += 3) {
    const r = data[j] as number;
    const g = data[j + 1] as number;
    const b = data[j + 2] as number;
    const L = luma(r, g, b);
    let t = f32(L + (blendTable[r - L + 255] as number));
    data[j] = ex ? (t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t)) : Math.trunc(t);
    t = f32(L + (blendTable[g - L + 255] as number));
    data[j + 1] = ex ? (t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t)) : Math.trunc(t);
    t = f32(L + (blendTable[b - L + 255] as number));
    data[j + 2] = ex ? (t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t)) : Math.trunc(t);
  }
  return img;
}

/**
 * torchvision `adjust_hue` on PIL: RGB -> HSV (Pillow, uint8 hue), add `uint8(hue * 255)` with
 * wrap-around, HSV -> RGB (Pillow). Grey images are returned unchanged, as torchvision does.
 * A zero shift still applies the (lossy) round trip, as torchvision does.
 */
export function adjustHue(img: ImageU8, hueFactor: number): ImageU8 {
  if (!(hueFactor >= -0.5 && hueFactor <= 0.5)) throw new RangeError(`adjustHue: hue factor must be in [-0.5, 0.5], got ${hueFactor}`);
  if (img.channels === 1) return img;
  // numpy's uint8(x) of a float truncates toward zero, then wraps modulo 256.
  const shift = ((Math.trunc(hueFactor * 255) % 256) + 256) % 256;
  const div = divTable();
  const hsv = hsvTables();
  const data = img.data;
  const n = img.height * img.width * 3;
  for (let j = 0; j < n; j += 3) {
    const r = data[j] as number;
    const g = data[j + 1] as number;
    const b = data[j + 2] as number;
    const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (maxc === minc) continue; // s = 0: HSV -> RGB gives back (v, v, v)
    // Pillow rgb2hsv_row: float32 quotients (the table), the hue sum in double stored to float.
    const cr = maxc - minc;
    const rc = div[((maxc - r) << 8) | cr] as number;
    const gc = div[((maxc - g) << 8) | cr] as number;
    const bc = div[((maxc - b) << 8) | cr] as number;
    let h: number;
    if (r === maxc) h = f32(bc - gc);
    else if (g === maxc) h = f32(2 + rc - bc);
    else h = f32(4 + gc - rc);
    let x = h / 6 + 1; // fmod(x, 1) for x in [0, 2)
    if (x >= 1) x -= 1;
    let uh = Math.trunc(f32(x) * 255);
    if (uh > 255) uh = 255;
    const us = Math.trunc((div[(cr << 8) | maxc] as number) * 255);
    if (us === 0) {
      data[j] = maxc;
      data[j + 1] = maxc;
      data[j + 2] = maxc;
      continue;
    }
    // Pillow hsv2rgb via per-(h, s) factors: p = round(v a), q = round(v b), t = round(v c).
    const e = (((uh + shift) & 255) << 8) | us;
    const v = maxc;
    const p = Math.round(v * (hsv.a[e] as number));
    const q = Math.round(v * (hsv.b[e] as number));
    const t = Math.round(v * (hsv.c[e] as number));
    switch (hsv.sector[e]) {
      case 0:
        data[j] = v, data[j + 1] = t, data[j + 2] = p;
        break;
      case 1:
        data[j] = q, data[j + 1] = v, data[j + 2] = p;
        break;
      case 2:
        data[j] = p, data[j + 1] = v, data[j + 2] = t;
        break;
      case 3:
        data[j] = p, data[j + 1] = q, data[j + 2] = v;
        break;
      case 4:
        data[j] = t, data[j + 1] = p, data[j + 2] = v;
        break;
      default:
        data[j] = v, data[j + 1] = p, data[j + 2] = q;
    }
  }
  return img;
}

let divCache: Float32Array | null = null;

/** f32(a / b) for bytes a, b (b > 0), indexed (a << 8) | b: Pillow's float quotients. */
function divTable(): Float32Array {
  if (divCache) return divCache;
  const t = new Float32Array(65536);
  for (let a = 0; a < 256; a++) for (let b = 1; b < 256; b++) t[(a << 8) | b] = a / b;
  return (divCache = t);
}

let hsvCache: { a: Float64Array; b: Float64Array; c: Float64Array; sector: Uint8Array } | null = null;

/**
 * Pillow hsv2rgb's multipliers for every (h, s), indexed (h << 8) | s: with
 * i = floor(6h / 255), f = float(6h / 255 - i), fs = float(s / 255):
 * a = 1 - fs, b = 1 - float(fs f), c = 1 - fs (1 - f), all in double as the C code.
 */
function hsvTables() {
  if (hsvCache) return hsvCache;
  const a = new Float64Array(65536);
  const b = new Float64Array(65536);
  const c = new Float64Array(65536);
  const sector = new Uint8Array(65536);
  for (let h = 0; h < 256; h++) {
    const i = Math.floor((h * 6) / 255);
    const f = f32((h * 6) / 255 - i);
    for (let s = 0; s < 256; s++) {
      const fs = f32(s / 255);
      const e = (h << 8) | s;
      a[e] = 1 - fs;
      b[e] = 1 - f32(fs * f);
      c[e] = 1 - fs * (1 - f);
      sector[e] = i % 6;
    }
  }
  return (hsvCache = { a, b, c, sector });
}

/** torchvision RandomGrayscale on PIL: `convert('L')`, replicated to the image's channel count. */
export function grayscale(img: ImageU8): ImageU8 {
  if (img.channels === 1) return img;
  const data = img.data;
  const n = img.height * img.width * 3;
  for (let j = 0; j < n; j += 3) {
    const L = luma(data[j] as number, data[j + 1] as number, data[j + 2] as number);
    data[j] = L;
    data[j + 1] = L;
    data[j + 2] = L;
  }
  return img;
}

/** PIL `ImageOps.solarize`: values >= threshold are inverted (threshold may be fractional). */
export function solarize(img: ImageU8, threshold = 128): ImageU8 {
  for (let v = 0; v < 256; v++) lut[v] = v < threshold ? v : 255 - v;
  applyLut(img.data, lut);
  return img;
}

const hist = new Float64Array(256);

/** PIL `ImageOps.equalize`, per channel. */
export function equalize(img: ImageU8): ImageU8 {
  const C = img.channels;
  const data = img.data;
  const luts: Uint8Array[] = [];
  for (let c = 0; c < C; c++) {
    hist.fill(0);
    for (let i = c; i < data.length; i += C) hist[data[i] as number] = (hist[data[i] as number] as number) + 1;
    const table = new Uint8Array(256);
    let nonzero = 0;
    let last = 0;
    let total = 0;
    for (let v = 0; v < 256; v++) {
      const h = hist[v] as number;
      if (h) nonzero++, last = h, total += h;
    }
    const step = Math.floor((total - last) / 255);
    if (nonzero <= 1 || step === 0) {
      for (let v = 0; v < 256; v++) table[v] = v;
    } else {
      let n = Math.floor(step / 2);
      for (let v = 0; v < 256; v++) {
        table[v] = Math.min(255, Math.floor(n / step));
        n += hist[v] as number;
      }
    }
    luts.push(table);
  }
  for (let c = 0; c < C; c++) {
    const table = luts[c] as Uint8Array;
    for (let i = c; i < data.length; i += C) data[i] = table[data[i] as number] as number;
  }
  return img;
}

/** torchvision `hflip`, in place. */
export function hflip(img: ImageU8): ImageU8 {
  const { data, width: W, height: H, channels: C } = img;
  for (let y = 0; y < H; y++) {
    let a = y * W * C;
    let b = a + (W - 1) * C;
    while (a < b) {
      for (let c = 0; c < C; c++) {
        const t = data[a + c] as number;
        data[a + c] = data[b + c] as number;
        data[b + c] = t;
      }
      a += C;
      b -= C;
    }
  }
  return img;
}

function checkFactor(fn: string, factor: number): void {
  if (!Number.isFinite(factor) || factor < 0) throw new RangeError(`${fn}: factor must be a non-negative number, got ${factor}`);
}
