// Scaled dot-product attention of @ssl/tensor's `attention` and `selfAttention` ops, one
// batch-head per task: the scores, softmax and weighted sum of a head stay in cache instead of
// passes over memory with transposes between GEMMs, and the packed qkv of a ViT block is read in
// place. It computes what the ops' composite computes, operand for operand:
//   qs = q * scale, S = qs k^T, P = softmax(S), O = P v
// and, backward (P recomputed from q and k, not stored by the forward; dS as tfjs's softmax gradient):
//   dP = dO v^T, dV = P^T dO, dS = dP P - P sum(dP P), dqs = dS k, dK = dS^T qs, dq = dqs * scale.
// With `bf16` every product reads its operands rounded to bf16 and sums in float32, what a bf16
// GEMM does (PyTorch's CPU autocast); the softmax and its gradient stay float32. Each sum runs in
// order over the inner dimension, so results differ from a GEMM's only by summation order.
// Where the CPU has AVX512-BF16 the bf16 products run on its dot-product instruction, as oneDNN's
// bf16 GEMMs do: 32 multiply-adds per instruction instead of 16, on the same operands (a product
// of two bf16 values is exact in float32), summed two inner indices at a time.
#ifdef __AVX512BF16__
#include <immintrin.h>  // x86 only: the bf16 products below
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../common.h"
#include "../fastmath.h"
#include "../gemm.h"
#include "../pool.h"

// The products are contracted to FMAs, as a GEMM's are (ISO C++ mode leaves contraction off).
#pragma GCC optimize("fp-contract=fast")

namespace sslnative {
namespace {

inline std::size_t Padded(std::size_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Y[r][0, ld) = sum over t < T of A[r][t] * B[t][0, ld) for r < rows: A row-major (stride lda), B
// and Y with row stride ld / ldy (ld a multiple of 16). Four rows by 64 columns at a time: 16
// accumulators in registers share each load of B, so the FMAs are not waiting on one another.
// Kept out of line, as RowBlockBf16: with every tile size inlined into one caller the bf16
// attention measured ~5% slower.
template <int R, int NV>
__attribute__((noinline)) void RowBlock(const float* A, std::size_t lda, const float* B, std::size_t T, std::size_t ld, float* Y, std::size_t ldy) {
  Vec acc[R][NV] = {};
  for (std::size_t t = 0; t < T; ++t) {
    const float* b = B + t * ld;
    Vec bv[NV];
    for (int c = 0; c < NV; ++c) bv[c] = LoadVec(b + c * kLanes);
    for (int r = 0; r < R; ++r) {
      const float w = A[r * lda + t];
      for (int c = 0; c < NV; ++c) acc[r][c] += w * bv[c];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < NV; ++c) StoreVec(Y + r * ldy + c * kLanes, acc[r][c]);
  }
}

template <int V>
using Count = std::integral_constant<int, V>;

// Calls tile(r, j, R, NV) for each tile of a rows x ld output (ld a multiple of 16): columns in
// blocks of 64 (the last one may be 16, 32 or 48 wide), rows in fours and then ones. R and NV are Count<>s, so
// every tile size is its own register-blocked kernel.
template <typename Tile>
void ForEachTile(std::size_t rows, std::size_t ld, Tile&& tile) {
  for (std::size_t j = 0; j < ld; j += 4 * kLanes) {
    const auto columns = [&](auto nv) {
      std::size_t r = 0;
      for (; r + 4 <= rows; r += 4) tile(r, j, Count<4>{}, nv);
      for (; r < rows; ++r) tile(r, j, Count<1>{}, nv);
    };
    switch (std::min<std::size_t>(4, (ld - j) / kLanes)) {
      case 4: columns(Count<4>{}); break;
      case 3: columns(Count<3>{}); break;
      case 2: columns(Count<2>{}); break;
      default: columns(Count<1>{}); break;
    }
  }
}

void MatTimesMatrix(const float* A, std::size_t lda, std::size_t rows, const float* B, std::size_t T, std::size_t ld, float* Y, std::size_t ldy) {
  ForEachTile(rows, ld, [&](std::size_t r, std::size_t j, auto R, auto NV) {
    RowBlock<decltype(R)::value, decltype(NV)::value>(A + r * lda, lda, B + j, T, ld, Y + r * ldy + j, ldy);
  });
}

#ifdef __AVX512BF16__
// The bf16 bits of a float that already holds a bf16 value (RoundedBf16): exact.
inline uint32_t Bf16Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u >> 16;
}

// A (rows x T, row stride lda) as rows of (t, t + 1) pairs, t even in the low half; zero past T.
void PackRowPairs(const float* A, std::size_t lda, std::size_t rows, std::size_t T, uint32_t* out) {
  const std::size_t pairs = (T + 1) / 2;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* a = A + r * lda;
    for (std::size_t p = 0; p < pairs; ++p) {
      const uint32_t hi = 2 * p + 1 < T ? Bf16Bits(a[2 * p + 1]) : 0u;
      out[r * pairs + p] = Bf16Bits(a[2 * p]) | (hi << 16);
    }
  }
}

// B (T x ld, row stride ld) with rows t and t + 1 interleaved column by column: 16 columns of a
// pair of rows are one vdpbf16ps operand.
void PackColumnPairs(const float* B, std::size_t T, std::size_t ld, uint32_t* out) {
  for (std::size_t p = 0; 2 * p < T; ++p) {
    const float* lo = B + 2 * p * ld;
    const float* hi = 2 * p + 1 < T ? lo + ld : nullptr;
    for (std::size_t c = 0; c < ld; ++c) out[p * ld + c] = Bf16Bits(lo[c]) | ((hi ? Bf16Bits(hi[c]) : 0u) << 16);
  }
}

// RowBlock on packed pairs: Y[r][0, 16 NV) = sum over pairs p of A[r][p] . B[p][0, 16 NV).
template <int R, int NV>
__attribute__((noinline)) void RowBlockBf16(const uint32_t* A, std::size_t pairs, const uint32_t* B, std::size_t ld, float* Y, std::size_t ldy) {
  __m512 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < pairs; ++p) {
    __m512bh bv[NV];
    for (int c = 0; c < NV; ++c) bv[c] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(B + p * ld + c * kLanes));
    for (int r = 0; r < R; ++r) {
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(A[r * pairs + p])));
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], a, bv[c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(Y + r * ldy + c * kLanes, acc[r][c]);
}
#endif

// Per-task buffers of the packed bf16 operands (empty without AVX512-BF16).
struct Packed {
  std::vector<uint32_t> a, b;
};

// MatTimesMatrix, with operands that hold bf16 values (bf16) on the dot-product instruction where
// the CPU has one.
void Product(const float* A, std::size_t lda, std::size_t rows, const float* B, std::size_t T, std::size_t ld, float* Y,
             std::size_t ldy, bool bf16, Packed& packed) {
#ifdef __AVX512BF16__
  if (bf16) {
    const std::size_t pairs = (T + 1) / 2;
    if (packed.a.size() < rows * pairs) packed.a.resize(rows * pairs);
    if (packed.b.size() < pairs * ld) packed.b.resize(pairs * ld);
    PackRowPairs(A, lda, rows, T, packed.a.data());
    PackColumnPairs(B, T, ld, packed.b.data());
    const uint32_t* a = packed.a.data();
    const uint32_t* b = packed.b.data();
    ForEachTile(rows, ld, [&](std::size_t r, std::size_t j, auto R, auto NV) {
      RowBlockBf16<decltype(R)::value, decltype(NV)::value>(a + r * pairs, pairs, b + j, ld, Y + r * ldy + j, ldy);
    });
    return;
  }
#endif
  (void)bf16;
  (void)packed;
  MatTimesMatrix(A, lda, rows, B, T, ld, Y, ldy);
}

inline float Operand(float x, bool bf16) { return bf16 ? RoundedBf16(x) : x; }

// x (rows of cols, row stride ldx) * scale, rounded when bf16, into out with row stride ld (zero padded).
void LoadRows(const float* x, std::size_t ldx, std::size_t rows, std::size_t cols, float scale, bool bf16, float* out, std::size_t ld) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* o = out + r * ld;
    const float* xr = x + r * ldx;
    if (bf16) {
      for (std::size_t c = 0; c < cols; ++c) o[c] = RoundedBf16(xr[c] * scale);
    } else {
      for (std::size_t c = 0; c < cols; ++c) o[c] = xr[c] * scale;
    }
    std::fill(o + cols, o + ld, 0.f);
  }
}

// out (cols x rows, row stride ld, zero padded) = x (rows x cols, row stride ldx) transposed.
void TransposeRows(const float* x, std::size_t rows, std::size_t cols, std::size_t ldx, float* out, std::size_t ld) {
  for (std::size_t c = 0; c < cols; ++c) {
    float* o = out + c * ld;
    for (std::size_t r = 0; r < rows; ++r) o[r] = x[r * ldx + c];
    std::fill(o + rows, o + ld, 0.f);
  }
}

// y (rows of cols, row stride ldy) = x (row stride ldx) * scale.
void StoreRows(const float* x, std::size_t ldx, std::size_t rows, std::size_t cols, float scale, float* y, std::size_t ldy) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) y[r * ldy + c] = x[r * ldx + c] * scale;
  }
}

// Where a batch-head's rows lie: row i of batch b, head h starts at
// base + b * batchStride + h * headStride + i * rowStride, its d values contiguous. [BH, N, d]
// tensors are heads = 1; a packed qkv [B, N, 3, H, d] has q, k, v at bases 0, H d, 2 H d.
struct Layout {
  std::size_t batchStride, headStride, rowStride;
  std::size_t At(std::size_t b, std::size_t h) const { return b * batchStride + h * headStride; }
};

// geometry: Float64Array [batch, heads, n, d, in: batchStride, headStride, rowStride, qBase,
// kBase, vBase, out: batchStride, headStride, rowStride]; "in" is q/k/v (and dq/dk/dv), "out" is
// the output (and dy).
struct Geometry {
  std::size_t batch, heads, n, d, ldn, ldd;
  Layout in, out;
  std::size_t qBase, kBase, vBase;
  explicit Geometry(const Napi::Float64Array& g)
      : batch(static_cast<std::size_t>(g[0])), heads(static_cast<std::size_t>(g[1])), n(static_cast<std::size_t>(g[2])),
        d(static_cast<std::size_t>(g[3])), ldn(Padded(n)), ldd(Padded(d)),
        in{static_cast<std::size_t>(g[4]), static_cast<std::size_t>(g[5]), static_cast<std::size_t>(g[6])},
        out{static_cast<std::size_t>(g[10]), static_cast<std::size_t>(g[11]), static_cast<std::size_t>(g[12])},
        qBase(static_cast<std::size_t>(g[7])), kBase(static_cast<std::size_t>(g[8])), vBase(static_cast<std::size_t>(g[9])) {}
};

// Per-task scratch for one batch-head at a time (sized once per task).
struct Scratch {
  std::vector<float> qs, k, kT, v, vT, dO, P, PT, dS, dST, out;
  Packed packed;
  Scratch(const Geometry& g, bool backward)
      : qs(g.n * g.ldd), k(g.n * g.ldd), kT(g.d * g.ldn), v(g.n * g.ldd), P(g.n * g.ldn), out(g.n * g.ldd) {
    if (backward) {
      vT.resize(g.d * g.ldn);
      dO.resize(g.n * g.ldd);
      PT.resize(g.n * g.ldn);
      dS.resize(g.n * g.ldn);
      dST.resize(g.n * g.ldn);
    }
  }
};

// One head into the scratch: qs = q scale, k (and k^T), v, each rounded when bf16, and
// P = softmax(qs k^T) (float32).
void LoadHead(const Geometry& g, const float* q, const float* k, const float* v, std::size_t at, float scale, bool bf16, Scratch& s) {
  const std::size_t n = g.n, d = g.d, rs = g.in.rowStride;
  LoadRows(q + g.qBase + at, rs, n, d, scale, bf16, s.qs.data(), g.ldd);
  LoadRows(k + g.kBase + at, rs, n, d, 1.f, bf16, s.k.data(), g.ldd);
  TransposeRows(s.k.data(), n, d, g.ldd, s.kT.data(), g.ldn);
  LoadRows(v + g.vBase + at, rs, n, d, 1.f, bf16, s.v.data(), g.ldd);
  Product(s.qs.data(), g.ldd, n, s.kT.data(), d, g.ldn, s.P.data(), g.ldn, bf16, s.packed);
  for (std::size_t i = 0; i < n; ++i) SoftmaxRow(s.P.data() + i * g.ldn, s.P.data() + i * g.ldn, n);
}

// attention(q, k, v, out, geometry, scale, bf16): q, k, v may be one packed array.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  const float* q = F32(info, 0);
  const float* k = F32(info, 1);
  const float* v = F32(info, 2);
  float* out = F32(info, 3);
  const Geometry g(info[4].As<Napi::Float64Array>());
  const float scale = static_cast<float>(Num(info, 5));
  const bool bf16 = info[6].As<Napi::Boolean>().Value();
  const std::size_t n = g.n, d = g.d, ldn = g.ldn, ldd = g.ldd;
  parallel_for(g.batch * g.heads, 1, [&](std::size_t begin, std::size_t end) {
    Scratch s(g, false);
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t b = t / g.heads, h = t % g.heads, at = g.in.At(b, h);
      LoadHead(g, q, k, v, at, scale, bf16, s);
      if (bf16) {
        for (std::size_t i = 0; i < n; ++i) {
          float* p = s.P.data() + i * ldn;
          for (std::size_t j = 0; j < n; ++j) p[j] = RoundedBf16(p[j]);
        }
      }
      Product(s.P.data(), ldn, n, s.v.data(), n, ldd, s.out.data(), ldd, bf16, s.packed);
      StoreRows(s.out.data(), ldd, n, d, 1.f, out + g.out.At(b, h), g.out.rowStride);
    }
  });
  return info.Env().Undefined();
}

// attentionGrad(dy, q, k, v, dq, dk, dv, geometry, scale, bf16): dq, dk, dv may be one packed
// array (disjoint parts), laid out as q, k, v; dy as the output.
Napi::Value AttentionGrad(const Napi::CallbackInfo& info) {
  const float* dy = F32(info, 0);
  const float* q = F32(info, 1);
  const float* k = F32(info, 2);
  const float* v = F32(info, 3);
  float* dq = F32(info, 4);
  float* dk = F32(info, 5);
  float* dv = F32(info, 6);
  const Geometry g(info[7].As<Napi::Float64Array>());
  const float scale = static_cast<float>(Num(info, 8));
  const bool bf16 = info[9].As<Napi::Boolean>().Value();
  const std::size_t n = g.n, d = g.d, ldn = g.ldn, ldd = g.ldd, rs = g.in.rowStride;
  parallel_for(g.batch * g.heads, 1, [&](std::size_t begin, std::size_t end) {
    Scratch s(g, true);
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t b = t / g.heads, h = t % g.heads, at = g.in.At(b, h);
      LoadHead(g, q, k, v, at, scale, bf16, s);
      TransposeRows(s.v.data(), n, d, ldd, s.vT.data(), ldn);
      LoadRows(dy + g.out.At(b, h), g.out.rowStride, n, d, 1.f, bf16, s.dO.data(), ldd);
      Product(s.dO.data(), ldd, n, s.vT.data(), d, ldn, s.dS.data(), ldn, bf16, s.packed);  // dP
      for (std::size_t i = 0; i < n; ++i) {
        const float* p = s.P.data() + i * ldn;
        float* dSi = s.dS.data() + i * ldn;
        float sum = 0.f;
        for (std::size_t j = 0; j < n; ++j) {
          dSi[j] *= p[j];
          sum += dSi[j];
        }
        for (std::size_t j = 0; j < n; ++j) dSi[j] = Operand(dSi[j] - sum * p[j], bf16);
      }
      // P^T (rounded, as dV's GEMM reads it) and dS^T, rows of n.
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          s.PT[j * ldn + i] = Operand(s.P[i * ldn + j], bf16);
          s.dST[j * ldn + i] = s.dS[i * ldn + j];
        }
      }
      Product(s.PT.data(), ldn, n, s.dO.data(), n, ldd, s.out.data(), ldd, bf16, s.packed);
      StoreRows(s.out.data(), ldd, n, d, 1.f, dv + g.vBase + at, rs);
      Product(s.dST.data(), ldn, n, s.qs.data(), n, ldd, s.out.data(), ldd, bf16, s.packed);
      StoreRows(s.out.data(), ldd, n, d, 1.f, dk + g.kBase + at, rs);
      Product(s.dS.data(), ldn, n, s.k.data(), n, ldd, s.out.data(), ldd, bf16, s.packed);
      StoreRows(s.out.data(), ldd, n, d, scale, dq + g.qBase + at, rs);
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
}

}  // namespace sslnative
