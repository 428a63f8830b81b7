// Conv2D and its two backprops for NHWC, any stride, dilation and padding: im2col + a GEMM,
// in blocks of images so the column buffer stays small. 1x1 stride-1 unpadded convs skip im2col.
// The GEMMs go through gemm.h, so autocast (mode bf16) covers the convolutions and both gradients.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

#include "../common.h"
#include "../gemm.h"
#include "../pool.h"

namespace sslnative {
namespace {

struct Geom {
  int64_t n, h, w, cin, fh, fw, cout, oh, ow, sh, sw, dh, dw, top, left;
  int64_t K() const { return fh * fw * cin; }
  int64_t P() const { return oh * ow; }  // output pixels per image
  bool Direct() const { return fh == 1 && fw == 1 && sh == 1 && sw == 1 && top == 0 && left == 0 && oh == h && ow == w; }
};

Geom ReadGeom(const Napi::CallbackInfo& info, std::size_t i) {
  const int32_t* g = I32(info, i);
  return Geom{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14]};
}

// Images per block: keeps the column buffer near 4M floats (16 MB).
int64_t BlockImages(const Geom& g) {
  const int64_t per = std::max<int64_t>(1, g.P() * g.K());
  return std::max<int64_t>(1, std::min<int64_t>(g.n, (int64_t{1} << 22) / per));
}

// cols[(b, oy, ox), (ky, kx, ci)] for images [n0, n0 + nb).
void Im2Col(const Geom& g, const float* x, int64_t n0, int64_t nb, float* cols) {
  const int64_t K = g.K();
  parallel_for(static_cast<std::size_t>(nb * g.oh), 4, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const int64_t b = static_cast<int64_t>(r) / g.oh, oy = static_cast<int64_t>(r) % g.oh;
      const float* img = x + (n0 + b) * g.h * g.w * g.cin;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        float* row = cols + ((b * g.oh + oy) * g.ow + ox) * K;
        for (int64_t ky = 0; ky < g.fh; ++ky) {
          const int64_t iy = oy * g.sh - g.top + ky * g.dh;
          for (int64_t kx = 0; kx < g.fw; ++kx) {
            const int64_t ix = ox * g.sw - g.left + kx * g.dw;
            float* dst = row + (ky * g.fw + kx) * g.cin;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) {
              std::memset(dst, 0, sizeof(float) * g.cin);
            } else {
              std::memcpy(dst, img + (iy * g.w + ix) * g.cin, sizeof(float) * g.cin);
            }
          }
        }
      }
    }
  });
}

// dx += scatter of cols; one image per task so no two tasks write the same pixel.
void Col2Im(const Geom& g, const float* cols, int64_t n0, int64_t nb, float* dx) {
  const int64_t K = g.K();
  parallel_for(static_cast<std::size_t>(nb), 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; ++b) {
      float* img = dx + (n0 + static_cast<int64_t>(b)) * g.h * g.w * g.cin;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const float* row = cols + ((static_cast<int64_t>(b) * g.oh + oy) * g.ow + ox) * K;
          for (int64_t ky = 0; ky < g.fh; ++ky) {
            const int64_t iy = oy * g.sh - g.top + ky * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kx = 0; kx < g.fw; ++kx) {
              const int64_t ix = ox * g.sw - g.left + kx * g.dw;
              if (ix < 0 || ix >= g.w) continue;
              const float* src = row + (ky * g.fw + kx) * g.cin;
              float* dst = img + (iy * g.w + ix) * g.cin;
              for (int64_t c = 0; c < g.cin; ++c) dst[c] += src[c];
            }
          }
        }
      }
    }
  });
}

// Activation codes as in BatchMatMul.cc / src/kernels/_FusedMatMul.ts.
void Activate(float* y, std::size_t n, int act, float alpha) {
  if (act == 0) return;
  parallel_for(n, 16384, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const float v = y[i];
      switch (act) {
        case 1: y[i] = v < 0.f ? 0.f : v; break;
        case 2: y[i] = v < 0.f ? 0.f : (v > 6.f ? 6.f : v); break;
        case 3: y[i] = v >= 0.f ? v : std::expm1(v); break;
        case 4: y[i] = 1.f / (1.f + std::exp(-v)); break;
        case 5: y[i] = v < 0.f ? alpha * v : v; break;
        default: break;
      }
    }
  });
}

// conv2d(x, filter, out, geom, bias|null, activation, alpha)
Napi::Value Conv2DImpl(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  const float* w = F32(info, 1);
  float* out = F32(info, 2);
  const Geom g = ReadGeom(info, 3);
  const float* bias = info[4].IsNull() ? nullptr : F32(info, 4);
  const int act = static_cast<int>(Int(info, 5));
  const float alpha = static_cast<float>(Num(info, 6));
  const auto mode = static_cast<GemmMode>(Int(info, 7));
  const int64_t K = g.K(), P = g.P();
  if (g.n * P * g.cout == 0) return info.Env().Undefined();
  GemmExtras withBias;
  withBias.bias = bias;  // Gemm adds it (inside oneDNN's kernel where it runs), also when K is 0
  if (g.Direct() || K == 0) {
    Gemm(mode, 1, false, false, g.n * P, g.cout, K, x, 1, nullptr, w, 1, nullptr, 0.f, out, withBias);
  } else {
    const int64_t nbMax = BlockImages(g);
    std::vector<float> cols(static_cast<std::size_t>(nbMax * P * K));
    for (int64_t n0 = 0; n0 < g.n; n0 += nbMax) {
      const int64_t nb = std::min(nbMax, g.n - n0);
      Im2Col(g, x, n0, nb, cols.data());
      Gemm(mode, 1, false, false, nb * P, g.cout, K, cols.data(), 1, nullptr, w, 1, nullptr, 0.f, out + n0 * P * g.cout, withBias);
    }
  }
  Activate(out, static_cast<std::size_t>(g.n * P * g.cout), act, alpha);
  return info.Env().Undefined();
}

// conv2dBackpropFilter(x, dy, dw, geom): dw[K, cout] = cols^T @ dy
Napi::Value Conv2DBackpropFilterImpl(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  const float* dy = F32(info, 1);
  float* dw = F32(info, 2);
  const Geom g = ReadGeom(info, 3);
  const auto mode = static_cast<GemmMode>(Int(info, 4));
  const int64_t K = g.K(), P = g.P();
  std::memset(dw, 0, sizeof(float) * K * g.cout);
  if (K * g.cout == 0 || g.n * P == 0) return info.Env().Undefined();
  if (g.Direct()) {
    Gemm(mode, 1, true, false, K, g.cout, g.n * P, x, 1, nullptr, dy, 1, nullptr, 0.f, dw);
    return info.Env().Undefined();
  }
  const int64_t nbMax = BlockImages(g);
  std::vector<float> cols(static_cast<std::size_t>(nbMax * P * K));
  for (int64_t n0 = 0; n0 < g.n; n0 += nbMax) {
    const int64_t nb = std::min(nbMax, g.n - n0);
    Im2Col(g, x, n0, nb, cols.data());
    Gemm(mode, 1, true, false, K, g.cout, nb * P, cols.data(), 1, nullptr, dy + n0 * P * g.cout, 1, nullptr, 1.f, dw);
  }
  return info.Env().Undefined();
}

// conv2dBackpropInput(dy, filter, dx, geom): dcols = dy @ W^T, scattered back into dx.
Napi::Value Conv2DBackpropInputImpl(const Napi::CallbackInfo& info) {
  const float* dy = F32(info, 0);
  const float* w = F32(info, 1);
  float* dx = F32(info, 2);
  const Geom g = ReadGeom(info, 3);
  const auto mode = static_cast<GemmMode>(Int(info, 4));
  const int64_t K = g.K(), P = g.P();
  std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.cin);
  if (K == 0 || g.n * P == 0 || g.cout == 0) return info.Env().Undefined();
  if (g.Direct()) {
    Gemm(mode, 1, false, true, g.n * P, K, g.cout, dy, 1, nullptr, w, 1, nullptr, 0.f, dx);
    return info.Env().Undefined();
  }
  const int64_t nbMax = BlockImages(g);
  std::vector<float> cols(static_cast<std::size_t>(nbMax * P * K));
  for (int64_t n0 = 0; n0 < g.n; n0 += nbMax) {
    const int64_t nb = std::min(nbMax, g.n - n0);
    Gemm(mode, 1, false, true, nb * P, K, g.cout, dy + n0 * P * g.cout, 1, nullptr, w, 1, nullptr, 0.f, cols.data());
    Col2Im(g, cols.data(), n0, nb, dx);
  }
  return info.Env().Undefined();
}

// oneDNN errors (a C++ exception) become JS exceptions instead of aborting the process.
Napi::Value Guard(Napi::Value (*fn)(const Napi::CallbackInfo&), const Napi::CallbackInfo& info) {
  try {
    return fn(info);
  } catch (const std::exception& e) {
    Napi::Error::New(info.Env(), e.what()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

Napi::Value Conv2D(const Napi::CallbackInfo& info) { return Guard(Conv2DImpl, info); }
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) { return Guard(Conv2DBackpropFilterImpl, info); }
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) { return Guard(Conv2DBackpropInputImpl, info); }

}  // namespace

void InitConv2D(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2D));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput));
}

}  // namespace sslnative
