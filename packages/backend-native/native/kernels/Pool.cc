// MaxPool and its gradient on NHWC float32, with the semantics of tfjs's cpu kernels: a window
// clipped to the image, `v > max` from -inf (so NaN is skipped and an empty window gives -inf),
// and the gradient of an output goes to the first maximum in the window's row-major scan order
// (maxPoolPositions), summed per input in double as the JS kernel does. The channel loop is the
// inner one, contiguous in NHWC, so it vectorises.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// geometry: [batch, inH, inW, C, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft]
struct Geometry {
  int64_t batch, inH, inW, ch, outH, outW, fH, fW, sH, sW, padTop, padLeft;
  explicit Geometry(const std::vector<int64_t>& g)
      : batch(g[0]), inH(g[1]), inW(g[2]), ch(g[3]), outH(g[4]), outW(g[5]), fH(g[6]), fW(g[7]), sH(g[8]), sW(g[9]),
        padTop(g[10]), padLeft(g[11]) {}
  std::size_t Grain(int64_t perRow) const { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, perRow)); }
};

// For output row yR, the input rows [r0, r1) of its window.
inline void Window(int64_t y, int64_t stride, int64_t pad, int64_t f, int64_t in, int64_t* lo, int64_t* hi) {
  const int64_t corner = y * stride - pad;
  *lo = std::max<int64_t>(0, corner);
  *hi = std::min<int64_t>(in, corner + f);
}

// For every output pixel and channel, the maximum over its window (`v > max` from -inf) into
// `best`; with kPositions also the input pixel (xR * inW + xC, or -1) of the first maximum into
// `pos`. Both arrays are laid out as the output, [batch, outH, outW, C].
template <bool kPositions>
void ScanWindows(const Geometry& g, const float* x, float* best, int32_t* pos) {
  const int64_t C = g.ch;
  parallel_for(g.batch * g.outH, g.Grain(g.outW * C * g.fH * g.fW), [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      const int64_t b = i / g.outH, yR = i % g.outH;
      int64_t r0, r1;
      Window(yR, g.sH, g.padTop, g.fH, g.inH, &r0, &r1);
      for (int64_t yC = 0; yC < g.outW; ++yC) {
        int64_t c0, c1;
        Window(yC, g.sW, g.padLeft, g.fW, g.inW, &c0, &c1);
        const std::size_t o = ((b * g.outH + yR) * g.outW + yC) * C;
        float* m = best + o;
        for (int64_t d = 0; d < C; ++d) m[d] = -std::numeric_limits<float>::infinity();
        if (kPositions) std::fill(pos + o, pos + o + C, -1);
        for (int64_t xR = r0; xR < r1; ++xR)
          for (int64_t xC = c0; xC < c1; ++xC) {
            const float* p = x + ((b * g.inH + xR) * g.inW + xC) * C;
            if (kPositions) {
              const int32_t here = static_cast<int32_t>(xR * g.inW + xC);
              int32_t* q = pos + o;
              for (int64_t d = 0; d < C; ++d) {
                const bool more = p[d] > m[d];
                m[d] = more ? p[d] : m[d];
                q[d] = more ? here : q[d];
              }
            } else {
              for (int64_t d = 0; d < C; ++d) m[d] = p[d] > m[d] ? p[d] : m[d];
            }
          }
      }
    }
  });
}

// maxPool(x, out, geometry)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  float* out = F32(info, 1);
  const Geometry g(IntVec(info, 2));
  ScanWindows<false>(g, x, out, nullptr);
  return info.Env().Undefined();
}

// maxPoolGrad(dy, x, dx, geometry)
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  const float* dy = F32(info, 0);
  const float* x = F32(info, 1);
  float* dx = F32(info, 2);
  const Geometry g(IntVec(info, 3));
  const int64_t C = g.ch;
  // 1. Which input pixel holds each output's first maximum.
  const std::size_t outSize = static_cast<std::size_t>(g.batch * g.outH * g.outW * C);
  std::vector<float> best(outSize);
  std::vector<int32_t> pos(outSize);
  ScanWindows<true>(g, x, best.data(), pos.data());
  // 2. Each input pixel gathers dy of the outputs whose window holds it and chose it, in the JS
  // kernel's order (output rows, then columns, ascending) and in double.
  parallel_for(g.batch * g.inH, g.Grain(g.inW * C * g.fH * g.fW), [&](std::size_t i0, std::size_t i1) {
    std::vector<double> acc(C);
    for (std::size_t i = i0; i < i1; ++i) {
      const int64_t b = i / g.inH, r = i % g.inH;
      // outputs yR with yR*sH - padTop <= r < yR*sH - padTop + fH
      const int64_t yR0 = std::max<int64_t>(0, (r + g.padTop - g.fH + g.sH) >= 0 ? (r + g.padTop - g.fH + g.sH) / g.sH : 0);
      const int64_t yR1 = std::min<int64_t>(g.outH, (r + g.padTop) >= 0 ? (r + g.padTop) / g.sH + 1 : 0);
      for (int64_t c = 0; c < g.inW; ++c) {
        const int64_t yC0 = std::max<int64_t>(0, (c + g.padLeft - g.fW + g.sW) >= 0 ? (c + g.padLeft - g.fW + g.sW) / g.sW : 0);
        const int64_t yC1 = std::min<int64_t>(g.outW, (c + g.padLeft) >= 0 ? (c + g.padLeft) / g.sW + 1 : 0);
        const int32_t here = static_cast<int32_t>(r * g.inW + c);
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t yR = yR0; yR < yR1; ++yR)
          for (int64_t yC = yC0; yC < yC1; ++yC) {
            const std::size_t o = ((b * g.outH + yR) * g.outW + yC) * C;
            const int32_t* q = pos.data() + o;
            const float* gy = dy + o;
            for (int64_t d = 0; d < C; ++d) acc[d] += q[d] == here ? static_cast<double>(gy[d]) : 0.0;
          }
        float* px = dx + ((b * g.inH + r) * g.inW + c) * C;
        for (int64_t d = 0; d < C; ++d) px[d] = static_cast<float>(acc[d]);
      }
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
}

}  // namespace sslnative
