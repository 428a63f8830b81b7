// Reductions (Sum, Max, Min, Prod, Mean) over a contiguous block of axes: the input is viewed as
// [outer, reduce, inner] and the output as [outer, inner]. Sums accumulate in double, as the JS
// kernel's Number arithmetic does.
#include <algorithm>
#include <limits>
#include <vector>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// Op codes shared with src/kernels/reduce.ts.
enum Op { kSum = 0, kMax, kMin, kProd, kMean };

template <int OP>
inline double Init() {
  if constexpr (OP == kMax) return -std::numeric_limits<double>::infinity();
  if constexpr (OP == kMin) return std::numeric_limits<double>::infinity();
  if constexpr (OP == kProd) return 1.0;
  return 0.0;
}

template <int OP>
inline double Step(double acc, double v) {
  // NaN wins in Max/Min, as in the JS kernel (`isNaN(v) || v > max`).
  if constexpr (OP == kMax) return (v != v || v > acc) ? v : acc;
  if constexpr (OP == kMin) return (v != v || v < acc) ? v : acc;
  if constexpr (OP == kProd) return acc * v;
  return acc + v;
}

template <int OP>
void Run(const float* x, float* out, std::size_t outer, std::size_t red, std::size_t inner) {
  const double scale = OP == kMean ? 1.0 / static_cast<double>(red) : 1.0;
  if (inner == 1) {
    parallel_for(outer, std::max<std::size_t>(1, 16384 / (red + 1)), [&](std::size_t b, std::size_t e) {
      for (std::size_t o = b; o < e; ++o) {
        const float* p = x + o * red;
        double acc = Init<OP>();
        for (std::size_t j = 0; j < red; ++j) {
          acc = Step<OP>(acc, p[j]);
          if constexpr (OP == kMax || OP == kMin) {
            if (acc != acc) break;
          }
        }
        out[o] = static_cast<float>(acc * scale);
      }
    });
    return;
  }
  // Strided reduction: walk rows of [red, inner] and accumulate a whole inner row at a time.
  auto block = [&](std::size_t o, std::size_t i0, std::size_t i1, std::vector<double>& acc) {
    acc.assign(i1 - i0, Init<OP>());
    const float* base = x + o * red * inner;
    for (std::size_t j = 0; j < red; ++j) {
      const float* row = base + j * inner;
      for (std::size_t i = i0; i < i1; ++i) acc[i - i0] = Step<OP>(acc[i - i0], row[i]);
    }
    for (std::size_t i = i0; i < i1; ++i) out[o * inner + i] = static_cast<float>(acc[i - i0] * scale);
  };
  if (outer >= 2) {
    parallel_for(outer, 1, [&](std::size_t b, std::size_t e) {
      std::vector<double> acc;
      for (std::size_t o = b; o < e; ++o) block(o, 0, inner, acc);
    });
  } else {
    parallel_for(inner, 64, [&](std::size_t b, std::size_t e) {
      std::vector<double> acc;
      block(0, b, e, acc);
    });
  }
}

// reduce(op, x, out, outer, reduce, inner)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(Int(info, 0));
  const float* x = F32(info, 1);
  float* out = F32(info, 2);
  const std::size_t outer = Int(info, 3), red = Int(info, 4), inner = Int(info, 5);
  if (outer * inner == 0) return info.Env().Undefined();
  switch (op) {
    case kSum: Run<kSum>(x, out, outer, red, inner); break;
    case kMax: Run<kMax>(x, out, outer, red, inner); break;
    case kMin: Run<kMin>(x, out, outer, red, inner); break;
    case kProd: Run<kProd>(x, out, outer, red, inner); break;
    case kMean: Run<kMean>(x, out, outer, red, inner); break;
    default: Napi::Error::New(info.Env(), "reduce: unknown op code").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

}  // namespace

void InitReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, Reduce));
}

}  // namespace sslnative
