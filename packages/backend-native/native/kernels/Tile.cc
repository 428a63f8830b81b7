// Tile for any element size (float32, int32, bool bytes): each output row (last dim) is its source
// row copied reps[last] times, where the source row is the output row's index modulo x's shape.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

inline uint8_t* Bytes(const Napi::CallbackInfo& info, std::size_t i) {
  auto a = info[i].As<Napi::TypedArray>();
  return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

// tile(x, out, shape, reps): x and out typed arrays of the same element type.
Napi::Value Tile(const Napi::CallbackInfo& info) {
  const uint8_t* x = Bytes(info, 0);
  uint8_t* out = Bytes(info, 1);
  const std::size_t es = info[0].As<Napi::TypedArray>().ElementSize();
  const std::vector<int64_t> shape = IntVec(info, 2), reps = IntVec(info, 3);
  const std::size_t r = shape.size();
  const std::size_t cols = shape[r - 1];
  const std::size_t rowBytes = cols * es;
  const int64_t rep = reps[r - 1];
  std::size_t rows = 1;
  for (std::size_t k = 0; k + 1 < r; ++k) rows *= static_cast<std::size_t>(shape[k] * reps[k]);
  if (rows == 0 || rowBytes == 0 || rep == 0) return info.Env().Undefined();
  parallel_for(rows, std::max<std::size_t>(1, 65536 / (rowBytes * rep + 1)), [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      // the source row: each output index along dim k taken modulo shape[k]
      std::size_t rem = i, src = 0, stride = 1;
      for (std::size_t k = r - 1; k-- > 0;) {
        const std::size_t od = static_cast<std::size_t>(shape[k] * reps[k]);
        src += (rem % od) % static_cast<std::size_t>(shape[k]) * stride;
        rem /= od;
        stride *= static_cast<std::size_t>(shape[k]);
      }
      const uint8_t* s = x + src * rowBytes;
      uint8_t* d = out + i * rowBytes * rep;
      if (cols == 1 && es == 4) {
        uint32_t v;
        std::memcpy(&v, s, 4);
        uint32_t* d4 = reinterpret_cast<uint32_t*>(d);
        for (int64_t k = 0; k < rep; ++k) d4[k] = v;
      } else {
        for (int64_t k = 0; k < rep; ++k) std::memcpy(d + k * rowBytes, s, rowBytes);
      }
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitTile(Napi::Env env, Napi::Object exports) { exports.Set("tile", Napi::Function::New(env, Tile)); }

}  // namespace sslnative
