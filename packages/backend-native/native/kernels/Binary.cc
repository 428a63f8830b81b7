// Broadcasting binary ops (Add, Sub, Mul, RealDiv, Maximum, Minimum, SquaredDifference, Pow).
// Dims are merged where both operands allow, so the inner loop is a plain vector loop.
#include <cmath>
#include <limits>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// Op codes shared with src/kernels/binary.ts.
enum Op { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kSqDiff, kPow };

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <int OP>
inline float Apply(float a, float b) {
  if constexpr (OP == kAdd) return a + b;
  if constexpr (OP == kSub) return a - b;
  if constexpr (OP == kMul) return a * b;
  if constexpr (OP == kDiv) return a / b;
  // Math.max / Math.min semantics: NaN in either operand gives NaN.
  if constexpr (OP == kMax) return (a != a || b != b) ? kNaN : (a > b ? a : b);
  if constexpr (OP == kMin) return (a != a || b != b) ? kNaN : (a < b ? a : b);
  if constexpr (OP == kSqDiff) return (a - b) * (a - b);
  // Math.pow(1, NaN) is NaN; C's pow gives 1.
  if constexpr (OP == kPow) return b != b ? kNaN : std::pow(a, b);
  return 0.f;
}

template <int OP>
void Inner(const float* a, const float* b, float* o, int64_t n, int64_t sa, int64_t sb) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = Apply<OP>(a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = Apply<OP>(av, b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    if constexpr (OP == kPow) {
      // x^2 (tf.norm, tf.pow(x, 2)): one rounding either way, so the product is the same number.
      if (bv == 2.f) {
        for (int64_t i = 0; i < n; ++i) o[i] = a[i] * a[i];
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) o[i] = Apply<OP>(a[i], bv);
  } else {
    const float v = Apply<OP>(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  }
}

template <int OP>
void Run(const float* a, const float* b, float* out, const std::vector<int64_t>& dims,
         const std::vector<int64_t>& sa, const std::vector<int64_t>& sb) {
  const std::size_t r = dims.size();
  const int64_t C = dims[r - 1];
  std::size_t rows = 1;
  for (std::size_t k = 0; k + 1 < r; ++k) rows *= static_cast<std::size_t>(dims[k]);
  if (rows == 1) {
    parallel_for(static_cast<std::size_t>(C), 16384, [&](std::size_t begin, std::size_t end) {
      Inner<OP>(a + sa[r - 1] * begin, b + sb[r - 1] * begin, out + begin, end - begin, sa[r - 1], sb[r - 1]);
    });
    return;
  }
  parallel_for(rows, std::max<std::size_t>(1, 16384 / (C + 1)), [&](std::size_t begin, std::size_t end) {
    for (std::size_t row = begin; row < end; ++row) {
      int64_t oa = 0, ob = 0;
      std::size_t rem = row;
      for (std::size_t k = r - 1; k-- > 0;) {
        const int64_t i = static_cast<int64_t>(rem % dims[k]);
        rem /= dims[k];
        oa += i * sa[k];
        ob += i * sb[k];
      }
      Inner<OP>(a + oa, b + ob, out + row * C, C, sa[r - 1], sb[r - 1]);
    }
  });
}

// binary(op, a, aShape, b, bShape, out, outShape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int op = static_cast<int>(Int(info, 0));
  const float* a = F32(info, 1);
  const float* b = F32(info, 3);
  float* out = F32(info, 5);
  std::vector<int64_t> as = IntVec(info, 2), bs = IntVec(info, 4), os = IntVec(info, 6);
  const std::size_t rank = os.size();
  std::size_t total = 1;
  for (auto d : os) total *= static_cast<std::size_t>(d);
  if (total == 0) return info.Env().Undefined();
  // Left-pad the operand shapes to the output rank; broadcast dims get stride 0.
  auto stridesFor = [&](const std::vector<int64_t>& s) {
    std::vector<int64_t> padded(rank - s.size(), 1);
    padded.insert(padded.end(), s.begin(), s.end());
    std::vector<int64_t> st(rank, 0);
    int64_t acc = 1;
    for (std::size_t i = rank; i-- > 0;) {
      st[i] = padded[i] == 1 ? 0 : acc;
      acc *= padded[i];
    }
    return st;
  };
  std::vector<int64_t> sa = stridesFor(as), sb = stridesFor(bs);
  std::vector<int64_t> dims, da, db;
  for (std::size_t i = 0; i < rank; ++i) {
    if (os[i] == 1) continue;
    if (!dims.empty() && da.back() == sa[i] * os[i] && db.back() == sb[i] * os[i]) {
      dims.back() *= os[i];
      da.back() = sa[i];
      db.back() = sb[i];
    } else {
      dims.push_back(os[i]);
      da.push_back(sa[i]);
      db.push_back(sb[i]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    da.push_back(0);
    db.push_back(0);
  }
  switch (op) {
    case kAdd: Run<kAdd>(a, b, out, dims, da, db); break;
    case kSub: Run<kSub>(a, b, out, dims, da, db); break;
    case kMul: Run<kMul>(a, b, out, dims, da, db); break;
    case kDiv: Run<kDiv>(a, b, out, dims, da, db); break;
    case kMax: Run<kMax>(a, b, out, dims, da, db); break;
    case kMin: Run<kMin>(a, b, out, dims, da, db); break;
    case kSqDiff: Run<kSqDiff>(a, b, out, dims, da, db); break;
    case kPow: Run<kPow>(a, b, out, dims, da, db); break;
    default: Napi::Error::New(info.Env(), "binary: unknown op code").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

}  // namespace

void InitBinary(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Binary));
}

}  // namespace sslnative
