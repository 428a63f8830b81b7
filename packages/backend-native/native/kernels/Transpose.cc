// Transpose for any permutation: dims that stay adjacent are merged first, then rows are copied
// (last dim contiguous in the input) or swapped in cache-sized tiles (last two dims swapped).
#include <algorithm>
#include <cstring>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// transpose(x, out, shape: Int32Array, perm: Int32Array)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  float* out = F32(info, 1);
  const std::vector<int64_t> shape = IntVec(info, 2);
  const std::vector<int64_t> perm = IntVec(info, 3);
  const std::size_t rank = shape.size();
  std::size_t total = 1;
  for (auto d : shape) total *= static_cast<std::size_t>(d);
  if (total == 0) return info.Env().Undefined();

  std::vector<int64_t> inStrides(rank, 1);
  for (std::size_t i = rank; i-- > 1;) inStrides[i - 1] = inStrides[i] * shape[i];
  // Output dims with their input strides, size-1 dims dropped, adjacent runs merged.
  std::vector<int64_t> dims, strides;
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t d = shape[perm[i]], s = inStrides[perm[i]];
    if (d == 1) continue;
    if (!dims.empty() && strides.back() == s * d) {
      dims.back() *= d;
      strides.back() = s;
    } else {
      dims.push_back(d);
      strides.push_back(s);
    }
  }
  const std::size_t r = dims.size();
  if (r <= 1) {
    std::memcpy(out, x, total * sizeof(float));
    return info.Env().Undefined();
  }

  if (strides[r - 2] == 1) {
    // Last two output dims are swapped in the input: tile [R, C] blocks, one outer index per task.
    const int64_t R = dims[r - 2], C = dims[r - 1], cs = strides[r - 1];
    std::size_t outer = total / static_cast<std::size_t>(R * C);
    constexpr int64_t T = 32;
    parallel_for(outer, 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t o = begin; o < end; ++o) {
        int64_t base = 0;
        std::size_t rem = o;
        for (std::size_t k = r - 2; k-- > 0;) {
          base += static_cast<int64_t>(rem % dims[k]) * strides[k];
          rem /= dims[k];
        }
        const float* src = x + base;
        float* dst = out + o * R * C;
        for (int64_t i0 = 0; i0 < R; i0 += T) {
          const int64_t i1 = std::min(R, i0 + T);
          for (int64_t j0 = 0; j0 < C; j0 += T) {
            const int64_t j1 = std::min(C, j0 + T);
            for (int64_t i = i0; i < i1; ++i)
              for (int64_t j = j0; j < j1; ++j) dst[i * C + j] = src[i + j * cs];
          }
        }
      }
    });
    return info.Env().Undefined();
  }

  // General case: one output row (last dim) per task, gathered with the input stride of that dim.
  const int64_t C = dims[r - 1], cs = strides[r - 1];
  const std::size_t rows = total / static_cast<std::size_t>(C);
  parallel_for(rows, std::max<std::size_t>(1, 4096 / C), [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) {
      int64_t base = 0;
      std::size_t rem = o;
      for (std::size_t k = r - 1; k-- > 0;) {
        base += static_cast<int64_t>(rem % dims[k]) * strides[k];
        rem /= dims[k];
      }
      const float* src = x + base;
      float* dst = out + o * C;
      if (cs == 1) {
        std::memcpy(dst, src, C * sizeof(float));
      } else {
        for (int64_t j = 0; j < C; ++j) dst[j] = src[j * cs];
      }
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitTranspose(Napi::Env env, Napi::Object exports) {
  exports.Set("transpose", Napi::Function::New(env, Transpose));
}

}  // namespace sslnative
