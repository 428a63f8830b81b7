import type { ImageU8 } from './image.js';
import { ensureWasmMemory, wasmKernels, type WasmKernels } from './wasm.js';

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

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Scratch rows reused across calls (the loader calls this per crop; no per-call allocation). */
let tmpBuf = new Uint8Array(0);

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

  const wk = wasmKernels();
  if (wk) {
    resizedCropWasm(wk, src, box, outHeight, outWidth, needH ? coeffs(cw, outWidth, interpolation) : null, vc, rowFirst, rowLast, dst);
    return { data: dst, height: outHeight, width: outWidth, channels: C };
  }

  // Horizontal pass: rows [rowFirst, rowLast) of the crop -> [rows, outWidth, C].
  let mid: Uint8Array;
  let midRow: number;
  let midOffset: number; // row index in `mid` of crop row 0
  let colStart = 0;
  if (needH) {
    const hc = coeffs(cw, outWidth, interpolation);
    const rows = rowLast - rowFirst;
    const tmpSize = rows * outWidth * C;
    if (!needV) mid = dst;
    else {
      if (tmpBuf.length < tmpSize) tmpBuf = new Uint8Array(tmpSize);
      mid = tmpBuf;
    }
    const inStart = ((top + rowFirst) * src.width + left) * C;
    if (C === 3) horizontal3(S, inStart, srcRow, rows, clamped(mid), outWidth, hc);
    else horizontal1(S, inStart, srcRow, rows, clamped(mid), outWidth, hc);
    if (!needV) return { data: dst, height: outHeight, width: outWidth, channels: C };
    midRow = outWidth * C;
    midOffset = -rowFirst;
  } else {
    mid = S;
    midRow = srcRow;
    // Crop row y lives at source row top + y, starting at column `left`.
    midOffset = top;
    colStart = left * C;
  }
  vertical(mid, midRow, midOffset, colStart, clamped(dst), outHeight, outWidth * C, vc as Coeffs);
  return { data: dst, height: outHeight, width: outWidth, channels: C };
}

const align = (n: number) => (n + 15) & ~15;

/** The same two passes in WebAssembly: copy the needed crop rows in, run, copy the result out. */
function resizedCropWasm(
  k: WasmKernels,
  src: ImageU8,
  box: CropBox,
  outHeight: number,
  outWidth: number,
  hc: Coeffs | null,
  vc: Coeffs | null,
  rowFirst: number,
  rowLast: number,
  dst: Uint8Array,
): void {
  const C = src.channels;
  const inRow = box.width * C;
  const rows = rowLast - rowFirst;
  const midRow = hc ? outWidth * C : inRow;
  const inOff = align(k.heapBase);
  const midOff = align(inOff + rows * inRow + 16); // +16: the RGB kernel reads one byte past a pixel
  const outOff = align(midOff + (hc ? rows * midRow : 0));
  const hbOff = align(outOff + outHeight * outWidth * C);
  const hkOff = align(hbOff + (hc ? hc.bounds.length * 4 : 0));
  const vbOff = align(hkOff + (hc ? hc.kk.length * 4 : 0));
  const vkOff = align(vbOff + (vc ? vc.bounds.length * 4 : 0));
  ensureWasmMemory(k, vkOff + (vc ? vc.kk.length * 4 : 0));
  const buf = k.memory.buffer;
  const heap = new Uint8Array(buf);
  const S = src.data;
  for (let r = 0; r < rows; r++) {
    const o = ((box.top + rowFirst + r) * src.width + box.left) * C;
    heap.set(S.subarray(o, o + inRow), inOff + r * inRow);
  }
  if (hc) {
    new Int32Array(buf, hbOff, hc.bounds.length).set(hc.bounds);
    new Int32Array(buf, hkOff, hc.kk.length).set(hc.kk);
    const target = vc ? midOff : outOff;
    if (C === 3) k.horizontal3(inOff, inRow, rows, target, outWidth, hbOff, hkOff, hc.ksize);
    else k.horizontal1(inOff, inRow, rows, target, outWidth, hbOff, hkOff, hc.ksize);
  }
  if (vc) {
    // Bounds relative to the first copied row.
    const vb = new Int32Array(buf, vbOff, vc.bounds.length);
    vb.set(vc.bounds);
    for (let i = 0; i < vb.length; i += 2) vb[i] = (vb[i] as number) - rowFirst;
    new Int32Array(buf, vkOff, vc.kk.length).set(vc.kk);
    k.vertical(hc ? midOff : inOff, midRow, outOff, outHeight, vbOff, vkOff, vc.ksize);
  }
  dst.set(heap.subarray(outOff, outOff + outHeight * outWidth * C));
}

/** A clamping view of the same bytes: storing an int writes min(255, max(0, v)), Pillow's clip8. */
function clamped(a: Uint8Array): Uint8ClampedArray {
  return new Uint8ClampedArray(a.buffer, a.byteOffset, a.length);
}

// The passes are small separate functions so V8 optimises each tight loop on its own. Sums stay
// in int32 (`| 0`; they fit: |sum| <= 255 * 1.25 * 2^22), as Pillow's INT32 accumulators, and
// `>> PRECISION_BITS` then the clamped store is Pillow's clip8.
function horizontal3(S: Uint8Array, inStart: number, inRow: number, rows: number, out: Uint8ClampedArray, outWidth: number, c: Coeffs): void {
  const { ksize, bounds, kk } = c;
  for (let r = 0; r < rows; r++) {
    const inBase = inStart + r * inRow;
    let o = r * outWidth * 3;
    for (let xx = 0; xx < outWidth; xx++, o += 3) {
      const xmax = bounds[xx * 2 + 1] as number;
      const kb = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      let p = inBase + (bounds[xx * 2] as number) * 3;
      let x = 0;
      for (; x + 2 <= xmax; x += 2, p += 6) {
        const k0 = kk[kb + x] as number;
        const k1 = kk[kb + x + 1] as number;
        s0 = (s0 + (S[p] as number) * k0 + (S[p + 3] as number) * k1) | 0;
        s1 = (s1 + (S[p + 1] as number) * k0 + (S[p + 4] as number) * k1) | 0;
        s2 = (s2 + (S[p + 2] as number) * k0 + (S[p + 5] as number) * k1) | 0;
      }
      if (x < xmax) {
        const k = kk[kb + x] as number;
        s0 = (s0 + (S[p] as number) * k) | 0;
        s1 = (s1 + (S[p + 1] as number) * k) | 0;
        s2 = (s2 + (S[p + 2] as number) * k) | 0;
      }
      out[o] = s0 >> PRECISION_BITS;
      out[o + 1] = s1 >> PRECISION_BITS;
      out[o + 2] = s2 >> PRECISION_BITS;
    }
  }
}

function horizontal1(S: Uint8Array, inStart: number, inRow: number, rows: number, out: Uint8ClampedArray, outWidth: number, c: Coeffs): void {
  const { ksize, bounds, kk } = c;
  for (let r = 0; r < rows; r++) {
    const inBase = inStart + r * inRow;
    const o = r * outWidth;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmax = bounds[xx * 2 + 1] as number;
      const kb = xx * ksize;
      let s0 = HALF;
      let p = inBase + (bounds[xx * 2] as number);
      for (let x = 0; x < xmax; x++, p++) s0 = (s0 + (S[p] as number) * (kk[kb + x] as number)) | 0;
      out[o + xx] = s0 >> PRECISION_BITS;
    }
  }
}

function vertical(
  mid: Uint8Array,
  midRow: number,
  midOffset: number,
  colStart: number,
  out: Uint8ClampedArray,
  outHeight: number,
  rowLen: number,
  c: Coeffs,
): void {
  const { ksize, bounds, kk } = c;
  if (vAcc.length < rowLen) vAcc = new Int32Array(rowLen);
  const acc = vAcc;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymax = bounds[yy * 2 + 1] as number;
    const kb = yy * ksize;
    const base = ((bounds[yy * 2] as number) + midOffset) * midRow + colStart;
    acc.fill(HALF, 0, rowLen);
    // Four taps per sweep over the row: fewer accumulator round trips, contiguous reads.
    let y = 0;
    for (; y + 4 <= ymax; y += 4) {
      const k0 = kk[kb + y] as number;
      const k1 = kk[kb + y + 1] as number;
      const k2 = kk[kb + y + 2] as number;
      const k3 = kk[kb + y + 3] as number;
      const b0 = base + y * midRow;
      const b1 = b0 + midRow;
      const b2 = b1 + midRow;
      const b3 = b2 + midRow;
      for (let i = 0; i < rowLen; i++) {
        acc[i] =
          ((acc[i] as number) + (mid[b0 + i] as number) * k0 + (mid[b1 + i] as number) * k1 + (mid[b2 + i] as number) * k2 + (mid[b3 + i] as number) * k3) | 0;
      }
    }
    for (; y < ymax; y++) {
      const k = kk[kb + y] as number;
      const b0 = base + y * midRow;
      for (let i = 0; i < rowLen; i++) acc[i] = ((acc[i] as number) + (mid[b0 + i] as number) * k) | 0;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = (acc[i] as number) >> PRECISION_BITS;
  }
}

let vAcc = new Int32Array(0);

/** Pillow's `img.resize((width, height), filter)` of the whole image. */
export function resize(src: ImageU8, height: number, width: number, interpolation: Interpolation = 'bilinear'): ImageU8 {
  return resizedCrop(src, { top: 0, left: 0, height: src.height, width: src.width }, height, width, interpolation);
}
