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
