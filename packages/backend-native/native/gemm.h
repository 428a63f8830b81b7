// One GEMM entry point for every matmul-shaped kernel (BatchMatMul, _FusedMatMul, Conv2D and its
// backprops): OpenBLAS float32, oneDNN float32, or oneDNN bf16 (inputs rounded to bf16, nearest
// even; float32 accumulation and output), the CPU autocast of PyTorch. oneDNN is optional: without
// it (built without libdnnl-dev, or a CPU without AVX512-BF16/AMX) only kBlas runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sslnative {

// Codes shared with src/kernels/gemm_mode.ts.
enum class GemmMode : int { kBlas = 0, kOnednnF32 = 1, kBf16 = 2 };

// C[i] = beta * C[i] + op(A[aIndex[i]]) @ op(B[bIndex[i]]) for i < batch; every matrix is
// contiguous row-major (op(A) is M x K, op(B) is K x N, C is M x N). aIndex/bIndex null: identity.
// aCount/bCount: how many A/B matrices exist (the bf16 path converts each once).
void Gemm(GemmMode mode, std::size_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
          const float* A, std::size_t aCount, const int32_t* aIndex, const float* B, std::size_t bCount,
          const int32_t* bIndex, float beta, float* C);

// Which modes run here, and why not (the oneDNN version and the ISA it dispatches to).
struct GemmSupport {
  bool onednn;       // built with oneDNN
  bool bf16;         // and it dispatches to bf16 instructions (AVX512-BF16 or AMX)
  std::string isa;   // oneDNN's effective ISA ("avx512_core_bf16", ...) or ""
  std::string version;
  std::string reason;  // why bf16 is off, else ""
};
GemmSupport gemm_support();

// Rounds float32 to bf16 (nearest even, NaN kept quiet), stored as float32 again: the tests' reference.
void RoundToBf16(const float* x, float* out, std::size_t n);

void set_onednn_threads(int n);

}  // namespace sslnative
