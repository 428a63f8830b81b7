// Softmax over the last axis: exp(x - max) / sum, one row per task.
#include <algorithm>
#include <cmath>

#include "../common.h"
#include "../fastmath.h"
#include "../pool.h"

namespace sslnative {
namespace {

// softmax(x, out, rows, cols)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  float* out = F32(info, 1);
  const std::size_t rows = Int(info, 2), cols = Int(info, 3);
  parallel_for(rows, std::max<std::size_t>(1, 8192 / (cols + 1)), [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) SoftmaxRow(x + r * cols, out + r * cols, cols);
  });
  return info.Env().Undefined();
}

}  // namespace

void InitSoftmax(Napi::Env env, Napi::Object exports) {
  exports.Set("softmax", Napi::Function::New(env, Softmax));
}

}  // namespace sslnative
