import type { ImageU8 } from './image.js';

/**
 * Resampling equal to Pillow's `Image.resize` (Resample.c), which is what torchvision's Resize and
 * RandomResizedCrop run on PIL images (DINO and PAWS feed PIL images). Pillow's filters are
 * antialiased: when shrinking, the kernel is stretched by the scale factor. Coefficients are
 * turned into 22-bit fixed point, each pass rounds to uint8, horizontal pass first: all as Pillow.
 */
export type Interpolation = 'bilinear' | 'bicubic';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  fn: (x: number) => number;
}

const FILTERS: Record<Interpolation, Filter> = {
  bilinear: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      // Keys cubic with a = -0.5, as Pillow.
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

interface Coeffs {
  ksize: number;
  /** [outSize * 2]: first input index and tap count per output index. */
  bounds: Int32Array;
  /** [outSize * ksize] fixed-point weights. */
  kk: Int32Array;
}

const coeffCache = new Map<string, Coeffs>();

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for an input span of `inSize` pixels. */
function coeffs(inSize: number, outSize: number, interpolation: Interpolation): Coeffs {
  const key = `${inSize},${outSize},${interpolation}`;
  const hit = coeffCache.get(key);
  if (hit) return hit;
  const filter = FILTERS[interpolation];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const v = filter.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      total += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = total !== 0 ? (w[x] as number) / total : (w[x] as number);
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  const c = { ksize, bounds, kk };
  if (coeffCache.size > 4096) coeffCache.clear();
  coeffCache.set(key, c);
  return c;
}

function clip8(v: number): number {
  if (v >= ONE << 8) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Scratch rows reused across calls (the loader calls this per crop; no per-call allocation). */
let tmpBuf = new Uint8Array(0);
let accBuf = new Float64Array(0);

/**
 * Crop `box` out of `src` and resize it to `outHeight` x `outWidth`, writing into `out` when
 * given (must be `outHeight * outWidth * channels` bytes). Equals Pillow's
 * `img.crop(box).resize((outWidth, outHeight), filter)`, including the edge clamping at the crop
 * border, without materialising the crop.
 */
export function resizedCrop(
  src: ImageU8,
  box: CropBox,
  outHeight: number,
  outWidth: number,
  interpolation: Interpolation = 'bilinear',
  out?: Uint8Array,
): ImageU8 {
  const { top, left, height: ch, width: cw } = box;
  const C = src.channels;
  if (top < 0 || left < 0 || ch <= 0 || cw <= 0 || top + ch > src.height || left + cw > src.width) {
    throw new RangeError(
      `resizedCrop: box top=${top} left=${left} ${ch}x${cw} lies outside the ${src.height}x${src.width} image`,
    );
  }
  if (!FILTERS[interpolation]) throw new RangeError(`resizedCrop: unknown interpolation '${interpolation}'`);
  const n = outHeight * outWidth * C;
  const dst = out ?? new Uint8Array(n);
  if (dst.length !== n) throw new RangeError(`resizedCrop: output buffer has ${dst.length} bytes, need ${n}`);
  const S = src.data;
  const srcRow = src.width * C;
  const needH = outWidth !== cw;
  const needV = outHeight !== ch;

  if (!needH && !needV) {
    for (let y = 0; y < ch; y++) {
      const o = ((top + y) * src.width + left) * C;
      dst.set(S.subarray(o, o + cw * C), y * cw * C);
    }
    return { data: dst, height: outHeight, width: outWidth, channels: C };
  }

  // Vertical coefficients first: they tell which source rows the horizontal pass must produce.
  const vc = needV ? coeffs(ch, outHeight, interpolation) : null;
  let rowFirst = 0;
  let rowLast = ch;
  if (vc) {
    rowFirst = vc.bounds[0] as number;
    rowLast = (vc.bounds[(outHeight - 1) * 2] as number) + (vc.bounds[(outHeight - 1) * 2 + 1] as number);
  }

  // Horizontal pass: rows [rowFirst, rowLast) of the crop -> tmp [rows, outWidth, C].
  let mid: Uint8Array;
  let midRow: number;
  let midOffset: number; // index of crop row `rowFirst` in `mid`
  if (needH) {
    const hc = coeffs(cw, outWidth, interpolation);
    const rows = rowLast - rowFirst;
    const tmpSize = rows * outWidth * C;
    if (!needV) mid = dst;
    else {
      if (tmpBuf.length < tmpSize) tmpBuf = new Uint8Array(tmpSize);
      mid = tmpBuf;
    }
    const { ksize, bounds, kk } = hc;
    for (let r = 0; r < rows; r++) {
      const inBase = ((top + rowFirst + r) * src.width + left) * C;
      const outBase = r * outWidth * C;
      if (C === 1) {
        for (let xx = 0; xx < outWidth; xx++) {
          const xmin = bounds[xx * 2] as number;
          const xmax = bounds[xx * 2 + 1] as number;
          const kb = xx * ksize;
          let s0 = HALF;
          let p = inBase + xmin;
          for (let x = 0; x < xmax; x++, p++) s0 += (S[p] as number) * (kk[kb + x] as number);
          mid[outBase + xx] = clip8(s0);
        }
      } else {
        for (let xx = 0; xx < outWidth; xx++) {
          const xmin = bounds[xx * 2] as number;
          const xmax = bounds[xx * 2 + 1] as number;
          const kb = xx * ksize;
          let s0 = HALF;
          let s1 = HALF;
          let s2 = HALF;
          let p = inBase + xmin * 3;
          for (let x = 0; x < xmax; x++, p += 3) {
            const k = kk[kb + x] as number;
            s0 += (S[p] as number) * k;
            s1 += (S[p + 1] as number) * k;
            s2 += (S[p + 2] as number) * k;
          }
          const o = outBase + xx * 3;
          mid[o] = clip8(s0);
          mid[o + 1] = clip8(s1);
          mid[o + 2] = clip8(s2);
        }
      }
    }
    midRow = outWidth * C;
    midOffset = -rowFirst;
    if (!needV) return { data: dst, height: outHeight, width: outWidth, channels: C };
  } else {
    mid = S;
    midRow = srcRow;
    // Crop row y lives at source row top + y, starting at column `left`.
    midOffset = top;
  }

  // Vertical pass: [outHeight, outWidth, C] from `mid`.
  const { ksize, bounds, kk } = vc as Coeffs;
  const rowLen = outWidth * C;
  const colStart = needH ? 0 : left * C;
  if (accBuf.length < rowLen) accBuf = new Float64Array(rowLen);
  const acc = accBuf;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2] as number;
    const ymax = bounds[yy * 2 + 1] as number;
    const kb = yy * ksize;
    acc.fill(HALF, 0, rowLen);
    for (let y = 0; y < ymax; y++) {
      const k = kk[kb + y] as number;
      const base = (ymin + y + midOffset) * midRow + colStart;
      for (let i = 0; i < rowLen; i++) acc[i] = (acc[i] as number) + (mid[base + i] as number) * k;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) dst[o + i] = clip8(acc[i] as number);
  }
  return { data: dst, height: outHeight, width: outWidth, channels: C };
}

/** Pillow's `img.resize((width, height), filter)` of the whole image. */
export function resize(src: ImageU8, height: number, width: number, interpolation: Interpolation = 'bilinear'): ImageU8 {
  return resizedCrop(src, { top: 0, left: 0, height: src.height, width: src.width }, height, width, interpolation);
}
