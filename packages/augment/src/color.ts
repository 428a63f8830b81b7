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
 */
export function adjustHue(img: ImageU8, hueFactor: number): ImageU8 {
  if (!(hueFactor >= -0.5 && hueFactor <= 0.5)) throw new RangeError(`adjustHue: hue factor must be in [-0.5, 0.5], got ${hueFactor}`);
  if (img.channels === 1) return img;
  // numpy's uint8(x) of a float truncates toward zero, then wraps modulo 256.
  const shift = ((Math.trunc(hueFactor * 255) % 256) + 256) % 256;
  if (shift === 0) return roundTripHsv(img);
  const data = img.data;
  const n = img.height * img.width * 3;
  for (let j = 0; j < n; j += 3) {
    const r = data[j] as number;
    const g = data[j + 1] as number;
    const b = data[j + 2] as number;
    const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (maxc === minc) continue; // s = 0: HSV -> RGB gives back (v, v, v)
    const [h, s] = rgbToHs(r, g, b, maxc, minc);
    hsvToRgbInto(data, j, (h + shift) & 255, s, maxc);
  }
  return img;
}

/** Pillow's RGB -> HSV loses precision; with a zero shift the round trip still applies. */
function roundTripHsv(img: ImageU8): ImageU8 {
  const data = img.data;
  const n = img.height * img.width * 3;
  for (let j = 0; j < n; j += 3) {
    const r = data[j] as number;
    const g = data[j + 1] as number;
    const b = data[j + 2] as number;
    const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (maxc === minc) continue;
    const [h, s] = rgbToHs(r, g, b, maxc, minc);
    hsvToRgbInto(data, j, h, s, maxc);
  }
  return img;
}

const hs: [number, number] = [0, 0];

/** Pillow `rgb2hsv_row` (float32 intermediates): hue and saturation as uint8; v is max(r,g,b). */
function rgbToHs(r: number, g: number, b: number, maxc: number, minc: number): [number, number] {
  const cr = maxc - minc;
  const s = f32(cr / maxc);
  const rc = f32((maxc - r) / cr);
  const gc = f32((maxc - g) / cr);
  const bc = f32((maxc - b) / cr);
  let h: number;
  if (r === maxc) h = f32(bc - gc);
  else if (g === maxc) h = f32(2 + rc - bc); // double arithmetic, stored to float
  else h = f32(4 + gc - rc);
  // fmod(h / 6 + 1, 1) in double, stored to float.
  h = f32((h / 6 + 1) % 1);
  hs[0] = clipByte(Math.trunc(h * 255));
  hs[1] = clipByte(Math.trunc(s * 255));
  return hs;
}

function clipByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Pillow `hsv2rgb`, for s > 0. */
function hsvToRgbInto(out: Uint8Array, j: number, h: number, s: number, v: number): void {
  if (s === 0) {
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
    return;
  }
  const i = Math.floor((h * 6) / 255);
  const f = f32((h * 6) / 255 - i);
  const fs = f32(s / 255);
  const p = clipByte(roundHalfAway(v * (1 - fs)));
  const q = clipByte(roundHalfAway(v * (1 - f32(fs * f))));
  const t = clipByte(roundHalfAway(v * (1 - fs * (1 - f))));
  switch (i % 6) {
    case 0:
      out[j] = v, out[j + 1] = t, out[j + 2] = p;
      break;
    case 1:
      out[j] = q, out[j + 1] = v, out[j + 2] = p;
      break;
    case 2:
      out[j] = p, out[j + 1] = v, out[j + 2] = t;
      break;
    case 3:
      out[j] = p, out[j + 1] = q, out[j + 2] = v;
      break;
    case 4:
      out[j] = t, out[j + 1] = p, out[j + 2] = v;
      break;
    default:
      out[j] = v, out[j + 1] = p, out[j + 2] = q;
  }
}

/** C's round(): halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
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
