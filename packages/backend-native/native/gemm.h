// One GEMM entry point for every matmul-shaped kernel (BatchMatMul, _FusedMatMul, Conv2D and its
// backprops): OpenBLAS float32, oneDNN float32, or oneDNN bf16 (inputs rounded to bf16, nearest
// even; float32 accumulation and output), the CPU autocast of PyTorch. oneDNN is optional: without
// it (built without libdnnl-dev, or a CPU without AVX512-BF16/AMX) only kBlas runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace sslnative {

// Codes shared with src/kernels/gemm_mode.ts.
enum class GemmMode : int { kBlas = 0, kOnednnF32 = 1, kBf16 = 2 };

// What a GEMM call may add to the plain product.
struct GemmExtras {
  // Length N, added to every row of C (beta must then be 0): oneDNN adds it in the kernel, OpenBLAS
  // after a copy into C.
  const float* bias = nullptr;
  // bf16 copies of all aCount A / bCount B matrices kept by the caller across calls (a tensor's
  // shadow): used as they are when ready, else filled here. Null: a scratch copy per call.
  uint16_t* aBf16 = nullptr;
  bool aReady = false;
  uint16_t* bBf16 = nullptr;
  bool bReady = false;
  // Where a kept copy is filled now, also the sums of its operand's values over all but the
  // innermost axis (aSumsWidth / bSumsWidth values, which must divide the operand's size): the
  // bias gradient of a linear layer reduces the incoming gradient so, and reading it back saves
  // that reduction its own pass over memory. Null: no sums.
  float* aSums = nullptr;
  std::size_t aSumsWidth = 0;
  float* bSums = nullptr;
  std::size_t bSumsWidth = 0;
};

// C[i] = beta * C[i] + op(A[aIndex[i]]) @ op(B[bIndex[i]]) (+ bias) for i < batch; every matrix is
// contiguous row-major (op(A) is M x K, op(B) is K x N, C is M x N). aIndex/bIndex null: identity.
// aCount/bCount: how many A/B matrices exist (the bf16 path converts each once).
void Gemm(GemmMode mode, std::size_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
          const float* A, std::size_t aCount, const int32_t* aIndex, const float* B, std::size_t bCount,
          const int32_t* bIndex, float beta, float* C, const GemmExtras& extras = GemmExtras{});

// Which modes run here, and why not (the oneDNN version and the ISA it dispatches to).
struct GemmSupport {
  bool onednn;       // built with oneDNN
  bool bf16;         // and it dispatches to bf16 instructions (AVX512-BF16 or AMX)
  std::string isa;   // oneDNN's effective ISA ("avx512_core_bf16", ...) or ""
  std::string version;
  std::string reason;  // why bf16 is off, else ""
};
GemmSupport gemm_support();

// float32 -> bf16 bits, round to nearest even, NaN kept quiet (oneDNN's and PyTorch's rounding).
// A select, not a branch, so loops over it vectorise.
inline uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quietNan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quietNan : rounded);
}

// x rounded to bf16 and widened back to float32: what a bf16 GEMM reads for x.
inline float RoundedBf16(float x) {
  const uint32_t u = static_cast<uint32_t>(ToBf16(x)) << 16;
  float out;
  std::memcpy(&out, &u, 4);
  return out;
}

// Rounds float32 to bf16 (nearest even, NaN kept quiet), stored as float32 again: the tests' reference.
void RoundToBf16(const float* x, float* out, std::size_t n);

void set_onednn_threads(int n);

// Wall seconds spent in Gemm since the addon loaded, summed over calls (bf16 conversion
// included): the bench's share of a train step that a faster GEMM could win.
double gemm_seconds();

// One core's arithmetic peak in GFLOP/s, measured on register-only loops: float32 FMA and the bf16
// dot product (vdpbf16ps), 0 where the build has no such instruction. Their ratio bounds what bf16
// can win over float32 in any GEMM that already runs near the FMA peak.
struct PeakRates {
  double fma;
  double bf16Dot;
};
PeakRates peak_gflops_per_core();

}  // namespace sslnative
