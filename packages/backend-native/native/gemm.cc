#include "gemm.h"

#include <cblas.h>
#if defined(__AVX512F__) || defined(__AVX512BF16__)
#include <immintrin.h>  // x86 only: the bf16 conversion and the peak probe below
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "pool.h"

#ifdef SSL_HAVE_ONEDNN
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace sslnative {
namespace {

// OpenBLAS's own threshold (M*N*K <= 65536 * GEMM_MULTITHREAD_THRESHOLD) for single-threaded GEMM.
constexpr int64_t kSmallGemm = 65536 * 4;

// ToBf16 over a range. With AVX512-BF16 one instruction rounds 16 floats (nearest even, NaN kept
// quiet: the same bits as ToBf16) where the integer form takes about twelve; it reads subnormal
// inputs as zero, so a block holding one takes the exact scalar path.
void ConvertBf16Range(const float* x, uint16_t* out, std::size_t n) {
  std::size_t i = 0;
#ifdef __AVX512BF16__
  const __m512i expBits = _mm512_set1_epi32(0x7f800000), mantissaBits = _mm512_set1_epi32(0x007fffff);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512i u = _mm512_castps_si512(v);
    const __mmask16 subnormal = _mm512_testn_epi32_mask(u, expBits) & _mm512_test_epi32_mask(u, mantissaBits);
    if (subnormal != 0) {
      for (std::size_t j = i; j < i + 16; ++j) out[j] = ToBf16(x[j]);
      continue;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  }
#endif
  for (; i < n; ++i) out[i] = ToBf16(x[i]);
}

void ConvertBf16(const float* x, uint16_t* out, std::size_t n) {
  parallel_for(n, 1 << 16, [&](std::size_t b, std::size_t e) { ConvertBf16Range(x + b, out + b, e - b); });
}

// ConvertBf16 that also writes sums[c] = the sum over rows r of x[r * width + c]. Blocks of rows
// are summed apart and then in block order, so the sums do not depend on the thread count.
void ConvertBf16WithSums(const float* x, uint16_t* out, std::size_t n, std::size_t width, float* sums) {
  constexpr std::size_t kBlockRows = 64;
  const std::size_t rows = n / width, blocks = (rows + kBlockRows - 1) / kBlockRows;
  std::vector<float> partial(blocks * width);
  parallel_for(blocks, std::max<std::size_t>(1, (1 << 16) / (kBlockRows * width)), [&](std::size_t b0, std::size_t b1) {
    for (std::size_t block = b0; block < b1; ++block) {
      float* p = partial.data() + block * width;
      std::fill(p, p + width, 0.f);
      for (std::size_t r = block * kBlockRows; r < std::min(rows, (block + 1) * kBlockRows); ++r) {
        const float* row = x + r * width;
        ConvertBf16Range(row, out + r * width, width);
        for (std::size_t c = 0; c < width; ++c) p[c] += row[c];
      }
    }
  });
  std::fill(sums, sums + width, 0.f);
  for (std::size_t block = 0; block < blocks; ++block) {
    const float* p = partial.data() + block * width;
    for (std::size_t c = 0; c < width; ++c) sums[c] += p[c];
  }
}

void BlasGemm(std::size_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A,
              const int32_t* aIndex, const float* B, const int32_t* bIndex, float beta, float* C) {
  const std::size_t mk = static_cast<std::size_t>(M * K), kn = static_cast<std::size_t>(K * N),
                    mn = static_cast<std::size_t>(M * N);
  auto one = [&](std::size_t i) {
    const std::size_t ia = aIndex ? static_cast<std::size_t>(aIndex[i]) : i;
    const std::size_t ib = bIndex ? static_cast<std::size_t>(bIndex[i]) : i;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f, A + ia * mk, transA ? M : K,
                B + ib * kn, transB ? K : N, beta, C + i * mn, N);
  };
  // OpenBLAS runs a GEMM this small on the calling thread alone, so a batch of them (attention
  // heads) is spread over the pool instead; larger GEMMs keep OpenBLAS's own threads.
  if (batch > 1 && M * N * K <= kSmallGemm) {
    parallel_for(batch, 1, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) one(i);
    });
  } else {
    for (std::size_t i = 0; i < batch; ++i) one(i);
  }
}

#ifdef SSL_HAVE_ONEDNN

struct Onednn {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

Onednn& onednn() {
  static Onednn o;
  return o;
}

// A matmul primitive and its memory objects for one shape; creating a primitive costs far more
// than a small GEMM, so each shape is built once and its memories get new data handles per call.
struct MatmulEntry {
  dnnl::matmul prim;
  dnnl::memory src, wei, dst, bias;
  bool hasBias = false;
};

using Key = std::tuple<int, int64_t, bool, bool, int64_t, int64_t, int64_t, bool, bool>;
std::map<Key, std::unique_ptr<MatmulEntry>> cache;

// dims {batch, rows, cols} of a row-major matrix stack; `trans` reads it as its transpose.
dnnl::memory::desc Desc(int64_t batch, int64_t rows, int64_t cols, bool trans, dnnl::memory::data_type dt) {
  // op(X) is rows x cols; X itself is stored cols x rows when transposed.
  const dnnl::memory::dims strides = trans ? dnnl::memory::dims{rows * cols, 1, rows} : dnnl::memory::dims{rows * cols, cols, 1};
  return dnnl::memory::desc({batch, rows, cols}, dt, strides);
}

MatmulEntry& Entry(GemmMode mode, int64_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K, bool accumulate,
                   bool bias) {
  const Key key{static_cast<int>(mode), batch, transA, transB, M, N, K, accumulate, bias};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  using dt = dnnl::memory::data_type;
  const dt in = mode == GemmMode::kBf16 ? dt::bf16 : dt::f32;
  auto src = Desc(batch, M, K, transA, in);
  auto wei = Desc(batch, K, N, transB, in);
  auto dst = Desc(batch, M, N, false, dt::f32);
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  auto& o = onednn();
  auto e = std::make_unique<MatmulEntry>();
  if (bias) {
    // One float32 bias row broadcast over rows and batch, added inside the kernel: no pass over C.
    const dnnl::memory::desc biasDesc({1, 1, N}, dt::f32, dnnl::memory::dims{N, N, 1});
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, biasDesc, dst), attr, o.engine);
    e->prim = dnnl::matmul(pd);
    e->bias = dnnl::memory(biasDesc, o.engine, nullptr);
    e->hasBias = true;
  } else {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), attr, o.engine);
    e->prim = dnnl::matmul(pd);
  }
  e->src = dnnl::memory(src, o.engine, nullptr);
  e->wei = dnnl::memory(wei, o.engine, nullptr);
  e->dst = dnnl::memory(dst, o.engine, nullptr);
  auto& ref = *e;
  cache.emplace(key, std::move(e));
  return ref;
}

// bf16 copies of the inputs without a caller-kept copy, reused call to call (grown, never shrunk).
std::vector<uint16_t> scratchA, scratchB;

void Run(MatmulEntry& e, const void* a, const void* b, float* c, const float* bias) {
  e.src.set_data_handle(const_cast<void*>(a));
  e.wei.set_data_handle(const_cast<void*>(b));
  e.dst.set_data_handle(c);
  auto& o = onednn();
  if (e.hasBias) {
    e.bias.set_data_handle(const_cast<float*>(bias));
    e.prim.execute(o.stream, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, e.wei}, {DNNL_ARG_BIAS, e.bias}, {DNNL_ARG_DST, e.dst}});
  } else {
    e.prim.execute(o.stream, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, e.wei}, {DNNL_ARG_DST, e.dst}});
  }
  o.stream.wait();
}

bool IsIdentity(const int32_t* index, std::size_t batch) {
  if (index == nullptr) return true;
  for (std::size_t i = 0; i < batch; ++i) {
    if (index[i] != static_cast<int32_t>(i)) return false;
  }
  return true;
}

// The bf16 values of n floats: the caller's copy (filled now unless ready, with the sums when
// asked) or a scratch one.
const uint16_t* Bf16Of(const float* x, std::size_t n, uint16_t* kept, bool ready, float* sums, std::size_t sumsWidth,
                       std::vector<uint16_t>& scratch) {
  uint16_t* dst = kept;
  if (dst == nullptr) {
    if (scratch.size() < n) scratch.resize(n);
    dst = scratch.data();
  } else if (ready) {
    return dst;
  } else if (sums != nullptr && sumsWidth > 0) {
    ConvertBf16WithSums(x, dst, n, sumsWidth, sums);
    return dst;
  }
  ConvertBf16(x, dst, n);
  return dst;
}

void OnednnGemm(GemmMode mode, std::size_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                const float* A, std::size_t aCount, const int32_t* aIndex, const float* B, std::size_t bCount,
                const int32_t* bIndex, float beta, float* C, const GemmExtras& x) {
  const std::size_t mk = static_cast<std::size_t>(M * K), kn = static_cast<std::size_t>(K * N),
                    mn = static_cast<std::size_t>(M * N);
  const void* a = A;
  const void* b = B;
  std::size_t elt = sizeof(float);
  if (mode == GemmMode::kBf16) {
    a = Bf16Of(A, aCount * mk, x.aBf16, x.aReady, x.aSums, x.aSumsWidth, scratchA);
    b = Bf16Of(B, bCount * kn, x.bBf16, x.bReady, x.bSums, x.bSumsWidth, scratchB);
    elt = sizeof(uint16_t);
  }
  const bool accumulate = beta != 0.f, bias = x.bias != nullptr;
  if (IsIdentity(aIndex, batch) && IsIdentity(bIndex, batch)) {
    Run(Entry(mode, static_cast<int64_t>(batch), transA, transB, M, N, K, accumulate, bias), a, b, C, x.bias);
    return;
  }
  // Broadcast batches: one 2-D GEMM per output matrix.
  auto& e = Entry(mode, 1, transA, transB, M, N, K, accumulate, bias);
  for (std::size_t i = 0; i < batch; ++i) {
    const std::size_t ia = aIndex ? static_cast<std::size_t>(aIndex[i]) : i;
    const std::size_t ib = bIndex ? static_cast<std::size_t>(bIndex[i]) : i;
    Run(e, static_cast<const char*>(a) + ia * mk * elt, static_cast<const char*>(b) + ib * kn * elt, C + i * mn, x.bias);
  }
}

const char* IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

#endif  // SSL_HAVE_ONEDNN

}  // namespace

GemmSupport gemm_support() {
  GemmSupport s{false, false, "", "", ""};
#ifdef SSL_HAVE_ONEDNN
  s.onednn = true;
  const dnnl_version_t* v = dnnl_version();
  s.version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  s.isa = IsaName(isa);
  const auto bits = static_cast<unsigned>(isa), bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  // Below avx512_core_bf16 oneDNN would emulate bf16, slower than float32.
  s.bf16 = (bits & bf16) == bf16;
  if (!s.bf16) s.reason = "oneDNN " + s.version + " dispatches to " + s.isa + ", which has no bf16 instructions (AVX512-BF16 or AMX)";
#else
  s.reason = "the addon was built without oneDNN (install libdnnl-dev and rebuild)";
#endif
  return s;
}

namespace {
std::atomic<uint64_t> gemmNanos{0};

// Gemm without its timing.
void GemmUntimed(GemmMode mode, std::size_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                 const float* A, std::size_t aCount, const int32_t* aIndex, const float* B, std::size_t bCount,
                 const int32_t* bIndex, float beta, float* C, const GemmExtras& extras) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (extras.bias != nullptr && beta != 0.f) throw std::invalid_argument("Gemm: a bias needs beta 0");
  const std::size_t total = batch * static_cast<std::size_t>(M * N);
  const auto fillBias = [&] {
    for (std::size_t r = 0; r < batch * static_cast<std::size_t>(M); ++r) std::memcpy(C + r * N, extras.bias, sizeof(float) * N);
  };
  if (K == 0) {
    if (extras.bias != nullptr) {
      fillBias();
    } else if (beta == 0.f) {
      std::memset(C, 0, sizeof(float) * total);
    }
    return;
  }
#ifdef SSL_HAVE_ONEDNN
  if (mode != GemmMode::kBlas) {
    static const bool bf16 = gemm_support().bf16;
    if (mode == GemmMode::kBf16 && !bf16) throw std::runtime_error("bf16 GEMM requested but " + gemm_support().reason);
    OnednnGemm(mode, batch, transA, transB, M, N, K, A, aCount, aIndex, B, bCount, bIndex, beta, C, extras);
    return;
  }
#else
  (void)aCount;
  (void)bCount;
  if (mode != GemmMode::kBlas) throw std::runtime_error(gemm_support().reason);
#endif
  if (extras.bias != nullptr) {
    fillBias();
    beta = 1.f;
  }
  BlasGemm(batch, transA, transB, M, N, K, A, aIndex, B, bIndex, beta, C);
}
}  // namespace

double gemm_seconds() { return static_cast<double>(gemmNanos.load()) * 1e-9; }

void Gemm(GemmMode mode, std::size_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
          const float* A, std::size_t aCount, const int32_t* aIndex, const float* B, std::size_t bCount,
          const int32_t* bIndex, float beta, float* C, const GemmExtras& extras) {
  // Counted on the way out, thrown errors included.
  struct Stop {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    ~Stop() {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
      gemmNanos += static_cast<uint64_t>(ns.count());
    }
  } stop;
  GemmUntimed(mode, batch, transA, transB, M, N, K, A, aCount, aIndex, B, bCount, bIndex, beta, C, extras);
}

namespace {
using Clock = std::chrono::steady_clock;
constexpr long kPeakIterations = 2'000'000;  // ~20 ms a loop

// Twelve independent accumulators, each a register, hide the instruction's latency.
#ifdef __AVX512F__
double FmaSeconds() {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
  const auto t0 = Clock::now();
  for (long i = 0; i < kPeakIterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_fmadd_ps(x, y, acc[j]);
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  float sink = 0.f;
  for (auto& a : acc) sink += _mm512_cvtss_f32(a);
  asm volatile("" : : "x"(sink));  // the sums are used: the loop stays
  return s;
}
#endif

#ifdef __AVX512BF16__
double Bf16DotSeconds() {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3f803f80));
  const auto t0 = Clock::now();
  for (long i = 0; i < kPeakIterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], x, x);
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  float sink = 0.f;
  for (auto& a : acc) sink += _mm512_cvtss_f32(a);
  asm volatile("" : : "x"(sink));
  return s;
}
#endif
}  // namespace

PeakRates peak_gflops_per_core() {
  PeakRates rates{0., 0.};
  // The best of five runs each, alternated: a run the OS interrupted or that met a lower clock is slower.
  for (int run = 0; run < 5; ++run) {
#ifdef __AVX512F__
    rates.fma = std::max(rates.fma, kPeakIterations * 12. * 32. / FmaSeconds() * 1e-9);  // 16 lanes x (multiply, add)
#endif
#ifdef __AVX512BF16__
    rates.bf16Dot = std::max(rates.bf16Dot, kPeakIterations * 12. * 64. / Bf16DotSeconds() * 1e-9);  // 16 lanes x (2 products, 2 adds)
#endif
  }
  return rates;
}

void RoundToBf16(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = RoundedBf16(x[i]);
}

void set_onednn_threads(int n) {
#ifdef SSL_HAVE_ONEDNN
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace sslnative
