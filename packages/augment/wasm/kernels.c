// Hot loops of @ssl/augment compiled to WebAssembly (SIMD128). Same integer arithmetic as the
// TypeScript versions in src/resample.ts (Pillow's Resample.c, 8 bits per channel): the results
// are bit-identical, only faster. Build: bash wasm/build.sh (clang + lld, wasm32 target).
#include <stdint.h>
#include <wasm_simd128.h>

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))

static inline uint8_t clip8(int32_t v) {
  v >>= PRECISION_BITS;
  return v < 0 ? 0 : (v > 255 ? 255 : (uint8_t)v);
}

// Horizontal pass for 3 interleaved channels. `in` holds `rows` rows of `in_row` bytes and is
// readable 4 bytes past its end (each tap loads one pixel plus the next byte).
void horizontal3(const uint8_t *in, int in_row, int rows, uint8_t *out, int out_w,
                 const int32_t *bounds, const int32_t *kk, int ksize) {
  for (int r = 0; r < rows; r++) {
    const uint8_t *row = in + r * in_row;
    uint8_t *o = out + r * out_w * 3;
    for (int xx = 0; xx < out_w; xx++) {
      const int xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1];
      const int32_t *k = kk + xx * ksize;
      const uint8_t *p = row + xmin * 3;
      v128_t acc = wasm_i32x4_splat(HALF);
      for (int x = 0; x < xmax; x++, p += 3) {
        v128_t px = wasm_v128_load32_zero(p);
        px = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(px));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(px, wasm_i32x4_splat(k[x])));
      }
      o[3 * xx] = clip8(wasm_i32x4_extract_lane(acc, 0));
      o[3 * xx + 1] = clip8(wasm_i32x4_extract_lane(acc, 1));
      o[3 * xx + 2] = clip8(wasm_i32x4_extract_lane(acc, 2));
    }
  }
}

// Horizontal pass for one channel.
void horizontal1(const uint8_t *in, int in_row, int rows, uint8_t *out, int out_w,
                 const int32_t *bounds, const int32_t *kk, int ksize) {
  for (int r = 0; r < rows; r++) {
    const uint8_t *row = in + r * in_row;
    uint8_t *o = out + r * out_w;
    for (int xx = 0; xx < out_w; xx++) {
      const int xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1];
      const int32_t *k = kk + xx * ksize;
      const uint8_t *p = row + xmin;
      int32_t s = HALF;
      for (int x = 0; x < xmax; x++) s += p[x] * k[x];
      o[xx] = clip8(s);
    }
  }
}

// Vertical pass: out row yy = sum over taps of rows bounds[2yy] + y of `in` (row_len bytes each).
void vertical(const uint8_t *in, int row_len, uint8_t *out, int out_h,
              const int32_t *bounds, const int32_t *kk, int ksize) {
  for (int yy = 0; yy < out_h; yy++) {
    const int ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
    const int32_t *k = kk + yy * ksize;
    const uint8_t *base = in + ymin * row_len;
    uint8_t *o = out + yy * row_len;
    int i = 0;
    for (; i + 16 <= row_len; i += 16) {
      v128_t a0 = wasm_i32x4_splat(HALF), a1 = a0, a2 = a0, a3 = a0;
      const uint8_t *p = base + i;
      for (int y = 0; y < ymax; y++, p += row_len) {
        const v128_t kv = wasm_i32x4_splat(k[y]);
        const v128_t b = wasm_v128_load(p);
        const v128_t lo = wasm_u16x8_extend_low_u8x16(b);
        const v128_t hi = wasm_u16x8_extend_high_u8x16(b);
        a0 = wasm_i32x4_add(a0, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(lo), kv));
        a1 = wasm_i32x4_add(a1, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(lo), kv));
        a2 = wasm_i32x4_add(a2, wasm_i32x4_mul(wasm_u32x4_extend_low_u16x8(hi), kv));
        a3 = wasm_i32x4_add(a3, wasm_i32x4_mul(wasm_u32x4_extend_high_u16x8(hi), kv));
      }
      // >> 22 then saturating narrows: exactly clip8 on every lane.
      a0 = wasm_i32x4_shr(a0, PRECISION_BITS);
      a1 = wasm_i32x4_shr(a1, PRECISION_BITS);
      a2 = wasm_i32x4_shr(a2, PRECISION_BITS);
      a3 = wasm_i32x4_shr(a3, PRECISION_BITS);
      const v128_t w0 = wasm_i16x8_narrow_i32x4(a0, a1);
      const v128_t w1 = wasm_i16x8_narrow_i32x4(a2, a3);
      wasm_v128_store(o + i, wasm_u8x16_narrow_i16x8(w0, w1));
    }
    for (; i < row_len; i++) {
      int32_t s = HALF;
      const uint8_t *p = base + i;
      for (int y = 0; y < ymax; y++, p += row_len) s += *p * k[y];
      o[i] = clip8(s);
    }
  }
}

// Pillow's extended box blur (BoxBlur.c), as src/blur.ts: inner taps weigh ww, the two outer taps
// fw, edges repeat, (bulk + 2^23) >> 24 in uint32. `passes` passes along rows, then along columns.
// tmp: scratch of H*W*C bytes; acc: scratch of W*C uint32.
static void box_rows(uint8_t *data, int H, int W, int C, int r, uint32_t ww, uint32_t fw, uint8_t *tmp) {
  const int last = W - 1, row_len = W * C;
  for (int y = 0; y < H; y++) {
    uint8_t *row = data + y * row_len;
    for (int i = 0; i < row_len; i++) tmp[i] = row[i];
    for (int c = 0; c < C; c++) {
      uint32_t acc = 0;
      for (int k = -r; k <= r; k++) acc += tmp[(k < 0 ? 0 : k > last ? last : k) * C + c];
      for (int x = 0; x < W; x++) {
        const int lo = x - r - 1, hi = x + r + 1, drop = x - r;
        const uint32_t hi_v = tmp[(hi > last ? last : hi) * C + c];
        const uint32_t bulk = acc * ww + (tmp[(lo < 0 ? 0 : lo) * C + c] + hi_v) * fw;
        row[x * C + c] = (uint8_t)((bulk + (1u << 23)) >> 24);
        acc += hi_v - tmp[(drop < 0 ? 0 : drop > last ? last : drop) * C + c];
      }
    }
  }
}

static void box_columns(uint8_t *data, int H, int W, int C, int r, uint32_t ww, uint32_t fw, uint8_t *tmp, uint32_t *acc) {
  const int last = H - 1, row_len = W * C, n = H * row_len;
  for (int i = 0; i < n; i++) tmp[i] = data[i];
  for (int i = 0; i < row_len; i++) acc[i] = 0;
  for (int k = -r; k <= r; k++) {
    const uint8_t *row = tmp + (k < 0 ? 0 : k > last ? last : k) * row_len;
    for (int i = 0; i < row_len; i++) acc[i] += row[i];
  }
  const v128_t vww = wasm_i32x4_splat((int32_t)ww), vfw = wasm_i32x4_splat((int32_t)fw);
  const v128_t half = wasm_i32x4_splat(1 << 23);
  for (int y = 0; y < H; y++) {
    const int lo = y - r - 1, hi = y + r + 1, drop = y - r;
    const uint8_t *lo_row = tmp + (lo < 0 ? 0 : lo) * row_len;
    const uint8_t *hi_row = tmp + (hi > last ? last : hi) * row_len;
    const uint8_t *drop_row = tmp + (drop < 0 ? 0 : drop > last ? last : drop) * row_len;
    uint8_t *out = data + y * row_len;
    int i = 0;
    for (; i + 4 <= row_len; i += 4) {
      const v128_t lo_v = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(lo_row + i)));
      const v128_t hi_v = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(hi_row + i)));
      const v128_t dr_v = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(wasm_v128_load32_zero(drop_row + i)));
      const v128_t a = wasm_v128_load(acc + i);
      const v128_t bulk = wasm_i32x4_add(wasm_i32x4_mul(a, vww), wasm_i32x4_mul(wasm_i32x4_add(lo_v, hi_v), vfw));
      const v128_t v = wasm_u32x4_shr(wasm_i32x4_add(bulk, half), 24);
      const v128_t b = wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(v, v), wasm_i16x8_narrow_i32x4(v, v));
      wasm_v128_store32_lane(out + i, b, 0);
      wasm_v128_store(acc + i, wasm_i32x4_sub(wasm_i32x4_add(a, hi_v), dr_v));
    }
    for (; i < row_len; i++) {
      const uint32_t hi_v = hi_row[i];
      const uint32_t bulk = acc[i] * ww + (lo_row[i] + hi_v) * fw;
      out[i] = (uint8_t)((bulk + (1u << 23)) >> 24);
      acc[i] += hi_v - drop_row[i];
    }
  }
}

void box_blur(uint8_t *data, int H, int W, int C, int r, uint32_t ww, uint32_t fw, int passes, uint8_t *tmp, uint32_t *acc) {
  for (int i = 0; i < passes; i++) box_rows(data, H, W, C, r, ww, fw, tmp);
  for (int i = 0; i < passes; i++) box_columns(data, H, W, C, r, ww, fw, tmp, acc);
}
