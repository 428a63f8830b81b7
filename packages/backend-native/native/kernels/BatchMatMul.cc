// BatchMatMul and _FusedMatMul on cblas_sgemm: transposes are BLAS flags, never materialised.
#include <cblas.h>

#include <cmath>
#include <cstring>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// Activation codes shared with src/kernels/_FusedMatMul.ts.
// OpenBLAS's own threshold (M*N*K <= 65536 * GEMM_MULTITHREAD_THRESHOLD) for single-threaded GEMM.
constexpr int64_t kSmallGemm = 65536 * 4;

enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kSigmoid = 4, kLeakyRelu = 5 };

void ApplyActivation(float* y, std::size_t n, int act, float alpha) {
  switch (act) {
    case kRelu:
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] < 0.f ? 0.f : y[i];
      break;
    case kRelu6:
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] < 0.f ? 0.f : (y[i] > 6.f ? 6.f : y[i]);
      break;
    case kElu:
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] >= 0.f ? y[i] : std::expm1(y[i]);
      break;
    case kSigmoid:
      for (std::size_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + std::exp(-y[i]));
      break;
    case kLeakyRelu:
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] < 0.f ? alpha * y[i] : y[i];
      break;
    default:
      break;
  }
}

// batchMatMul(a, b, out, aIndex: Int32Array, bIndex: Int32Array, M, N, K, transA, transB,
//             bias: Float32Array|null, activation, alpha)
// out[i] = act(op(a[aIndex[i]]) @ op(b[bIndex[i]]) + bias), bias of length N (one per column).
Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  const float* a = F32(info, 0);
  const float* b = F32(info, 1);
  float* out = F32(info, 2);
  const int32_t* aIndex = I32(info, 3);
  const int32_t* bIndex = I32(info, 4);
  const std::size_t batch = Len(info, 3);
  const int64_t M = Int(info, 5), N = Int(info, 6), K = Int(info, 7);
  const bool transA = info[8].As<Napi::Boolean>().Value();
  const bool transB = info[9].As<Napi::Boolean>().Value();
  const float* bias = info[10].IsNull() ? nullptr : F32(info, 10);
  const int act = static_cast<int>(Int(info, 11));
  const float alpha = static_cast<float>(Num(info, 12));

  const std::size_t mn = static_cast<std::size_t>(M * N);
  auto one = [&](std::size_t i, bool blasThreads) {
    (void)blasThreads;
    float* c = out + i * mn;
    float beta = 0.f;
    if (bias != nullptr) {
      for (int64_t r = 0; r < M; ++r) std::memcpy(c + r * N, bias, sizeof(float) * N);
      beta = 1.f;
    }
    if (K == 0) {
      if (bias == nullptr) std::memset(c, 0, sizeof(float) * mn);
    } else if (M > 0 && N > 0) {
      cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                  static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f,
                  a + static_cast<std::size_t>(aIndex[i]) * M * K, transA ? M : K,
                  b + static_cast<std::size_t>(bIndex[i]) * K * N, transB ? K : N, beta, c, N);
    }
  };
  // OpenBLAS runs a GEMM this small on the calling thread alone, so a batch of them (attention
  // heads) is spread over the pool instead; larger GEMMs keep OpenBLAS's own threads.
  if (batch > 1 && M * N * K <= kSmallGemm) {
    parallel_for(batch, 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) one(i, false);
    });
  } else {
    for (std::size_t i = 0; i < batch; ++i) one(i, true);
  }
  ApplyActivation(out, batch * mn, act, alpha);
  return info.Env().Undefined();
}

// sgemm(a, b, c, M, N, K): plain row-major C = A @ B, the bench's direct-OpenBLAS reference.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const int64_t M = Int(info, 3), N = Int(info, 4), K = Int(info, 5);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), 1.f, F32(info, 0), K, F32(info, 1), N, 0.f, F32(info, 2), N);
  return info.Env().Undefined();
}

}  // namespace

void InitBatchMatMul(Napi::Env env, Napi::Object exports) {
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
}

}  // namespace sslnative
