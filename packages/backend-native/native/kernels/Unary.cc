// Elementwise unary ops over float32: Exp, Log, Sqrt, Rsqrt, Erf, Tanh, Relu, Neg, Square, Abs,
// Sigmoid, Step, Reciprocal, Relu6, Elu, Log1p, Softplus, LeakyRelu.
#include <cmath>
#include <limits>

#include "../common.h"
#include "../fastmath.h"
#include "../pool.h"

namespace sslnative {
namespace {

// Op codes shared with src/kernels/unary.ts.
enum Op {
  kExp = 0, kLog, kSqrt, kRsqrt, kErf, kTanh, kRelu, kNeg, kSquare, kAbs, kSigmoid, kStep,
  kReciprocal, kRelu6, kElu, kLog1p, kSoftplus, kLeakyRelu
};

template <int OP>
inline float Apply(float x, float alpha) {
  if constexpr (OP == kExp) return FastExp(x);
  if constexpr (OP == kLog) return std::log(x);
  if constexpr (OP == kSqrt) return std::sqrt(x);
  if constexpr (OP == kRsqrt) return 1.f / std::sqrt(x);
  if constexpr (OP == kErf) return FastErf(x);
  if constexpr (OP == kTanh) return std::tanh(x);
  if constexpr (OP == kRelu) return x < 0.f ? 0.f : x;
  if constexpr (OP == kNeg) return -x;
  if constexpr (OP == kSquare) return x * x;
  if constexpr (OP == kAbs) return std::fabs(x);
  if constexpr (OP == kSigmoid) return 1.f / (1.f + FastExp(-x));
  if constexpr (OP == kStep) return x != x ? x : (x > 0.f ? 1.f : alpha);
  if constexpr (OP == kReciprocal) return 1.f / x;
  if constexpr (OP == kRelu6) return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
  if constexpr (OP == kElu) return x >= 0.f ? x : std::expm1(x);
  if constexpr (OP == kLog1p) return std::log1p(x);
  if constexpr (OP == kSoftplus) {
    // Same thresholds as the JS kernel: large x is x, very negative x is exp(x).
    const float threshold = std::log(std::numeric_limits<float>::epsilon()) + 2.f;
    if (x > -threshold) return x;
    if (x < threshold) return std::exp(x);
    return std::log1p(std::exp(x));
  }
  if constexpr (OP == kLeakyRelu) return x < 0.f ? alpha * x : x;
  return x;
}

template <int OP>
void Run(const float* x, float* out, std::size_t n, float alpha) {
  parallel_for(n, 16384, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = Apply<OP>(x[i], alpha);
  });
}

// unary(op, x, out, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(Int(info, 0));
  const float* x = F32(info, 1);
  float* out = F32(info, 2);
  const std::size_t n = Len(info, 1);
  const float alpha = static_cast<float>(Num(info, 3));
  switch (op) {
#define CASE(K) case K: Run<K>(x, out, n, alpha); break;
    CASE(kExp) CASE(kLog) CASE(kSqrt) CASE(kRsqrt) CASE(kErf) CASE(kTanh) CASE(kRelu) CASE(kNeg)
    CASE(kSquare) CASE(kAbs) CASE(kSigmoid) CASE(kStep) CASE(kReciprocal) CASE(kRelu6) CASE(kElu)
    CASE(kLog1p) CASE(kSoftplus) CASE(kLeakyRelu)
#undef CASE
    default: Napi::Error::New(info.Env(), "unary: unknown op code").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

}  // namespace

void InitUnary(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New(env, Unary));
}

}  // namespace sslnative
