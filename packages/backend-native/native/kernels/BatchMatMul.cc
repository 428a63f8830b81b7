// BatchMatMul and _FusedMatMul through gemm.h: transposes are GEMM flags, never materialised.
#include <cblas.h>

#include <cmath>
#include <exception>

#include "../common.h"
#include "../gemm.h"

namespace sslnative {
namespace {

// Activation codes shared with src/kernels/_FusedMatMul.ts.
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
//             bias: Float32Array|null, activation, alpha, mode, [aBf16, aReady, bBf16, bReady, aSums, bSums])
// out[i] = act(op(a[aIndex[i]]) @ op(b[bIndex[i]]) + bias), bias of length N (one per column);
// mode: GemmMode (gemm.h), float32 on OpenBLAS or oneDNN, or bf16 inputs on oneDNN. aBf16/bBf16:
// Uint16Array|null, the bf16 copy the caller keeps for a/b (GemmExtras), with whether it is filled;
// aSums/bSums: Float32Array|null, the sums filled with a copy (GemmExtras).
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
  const auto mode = static_cast<GemmMode>(Int(info, 13));

  const std::size_t mn = static_cast<std::size_t>(M * N);
  const std::size_t mk = static_cast<std::size_t>(M * K), kn = static_cast<std::size_t>(K * N);
  const std::size_t aCount = mk == 0 ? 0 : Len(info, 0) / mk, bCount = kn == 0 ? 0 : Len(info, 1) / kn;
  GemmExtras extras;
  extras.bias = bias;
  // A kept bf16 copy must hold every value of its operand: it is written (when not ready) in full.
  const auto copyOf = [&](std::size_t i, std::size_t values, uint16_t*& data, bool& ready) {
    if (info.Length() <= i + 1 || info[i].IsNull()) return true;
    auto copy = info[i].As<Napi::Uint16Array>();
    if (copy.ElementLength() < values) return false;
    data = copy.Data();
    ready = info[i + 1].As<Napi::Boolean>().Value();
    return true;
  };
  if (!copyOf(14, aCount * mk, extras.aBf16, extras.aReady) || !copyOf(16, bCount * kn, extras.bBf16, extras.bReady)) {
    Napi::Error::New(info.Env(), "batchMatMul: a bf16 copy is shorter than its operand").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  // Sums over all but the innermost axis, filled with a copy (GemmExtras): their length is that axis.
  const auto sumsOf = [&](std::size_t i, std::size_t values, float*& data, std::size_t& width) {
    if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return true;
    auto sums = info[i].As<Napi::Float32Array>();
    width = sums.ElementLength();
    data = sums.Data();
    return width > 0 && values % width == 0;
  };
  if (!sumsOf(18, aCount * mk, extras.aSums, extras.aSumsWidth) || !sumsOf(19, bCount * kn, extras.bSums, extras.bSumsWidth)) {
    Napi::Error::New(info.Env(), "batchMatMul: the length of a sums array must divide its operand's size").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  try {
    Gemm(mode, batch, transA, transB, M, N, K, a, aCount, aIndex, b, bCount, bIndex, 0.f, out, extras);
  } catch (const std::exception& e) {
    Napi::Error::New(info.Env(), e.what()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
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

// roundBf16(x, out): out = x rounded to bf16 (nearest even), as float32: the tests' reference.
Napi::Value RoundBf16(const Napi::CallbackInfo& info) {
  RoundToBf16(F32(info, 0), F32(info, 1), Len(info, 0));
  return info.Env().Undefined();
}

}  // namespace

void InitBatchMatMul(Napi::Env env, Napi::Object exports) {
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("roundBf16", Napi::Function::New(env, RoundBf16));
}

}  // namespace sslnative
