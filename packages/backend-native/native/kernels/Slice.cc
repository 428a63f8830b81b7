// One box copy serves Slice, SplitV, Concat and PadV2: copy a box of `size` from src (at
// srcBegin) into dst (at dstBegin). Dims are walked row by row; the last dim is one memcpy.
#include <algorithm>
#include <cstring>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// copyBox(src, srcShape, srcBegin, dst, dstShape, dstBegin, size)
Napi::Value CopyBox(const Napi::CallbackInfo& info) {
  const float* src = F32(info, 0);
  const std::vector<int64_t> ss = IntVec(info, 1), sb = IntVec(info, 2);
  float* dst = F32(info, 3);
  const std::vector<int64_t> ds = IntVec(info, 4), db = IntVec(info, 5), size = IntVec(info, 6);
  const std::size_t r = size.size();
  std::size_t total = 1;
  for (auto d : size) total *= static_cast<std::size_t>(d);
  if (total == 0) return info.Env().Undefined();
  if (r == 0) {
    dst[0] = src[0];
    return info.Env().Undefined();
  }
  std::vector<int64_t> sst(r, 1), dst_st(r, 1);
  for (std::size_t i = r - 1; i-- > 0;) {
    sst[i] = sst[i + 1] * ss[i + 1];
    dst_st[i] = dst_st[i + 1] * ds[i + 1];
  }
  // Trailing dims copied whole on both sides merge into the memcpy.
  std::size_t last = r - 1;
  int64_t run = size[last];
  while (last > 0 && size[last] == ss[last] && size[last] == ds[last]) {
    --last;
    run *= size[last];
  }
  const std::size_t rows = total / static_cast<std::size_t>(run);
  int64_t so = 0, dof = 0;
  for (std::size_t i = 0; i < r; ++i) {
    so += sb[i] * sst[i];
    dof += db[i] * dst_st[i];
  }
  parallel_for(rows, std::max<std::size_t>(1, 16384 / (run + 1)), [&](std::size_t b, std::size_t e) {
    for (std::size_t row = b; row < e; ++row) {
      int64_t s = so, d = dof;
      std::size_t rem = row;
      for (std::size_t k = last; k-- > 0;) {
        const int64_t i = static_cast<int64_t>(rem % size[k]);
        rem /= size[k];
        s += i * sst[k];
        d += i * dst_st[k];
      }
      std::memcpy(dst + d, src + s, sizeof(float) * run);
    }
  });
  return info.Env().Undefined();
}

// fill(dst, value)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  float* dst = F32(info, 0);
  const float v = static_cast<float>(Num(info, 1));
  std::fill(dst, dst + Len(info, 0), v);
  return info.Env().Undefined();
}

}  // namespace

void InitSlice(Napi::Env env, Napi::Object exports) {
  exports.Set("copyBox", Napi::Function::New(env, CopyBox));
  exports.Set("fill", Napi::Function::New(env, Fill));
}

}  // namespace sslnative
