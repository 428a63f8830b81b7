// LayerNorm over the last axis, forward and backward, one pass over each row instead of the ~10
// separate tfjs ops (moments, sub, rsqrt, mul, add and their gradients) a composite needs.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// Row sums with 8 independent partials: without -ffast-math a plain `s += p[j]` loop is one
// serial add chain; this form vectorises and is as accurate or better.
inline float RowSum(const float* p, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += p[j + k];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; ++j) s += p[j];
  return s;
}

inline float RowSqDev(const float* p, std::size_t n, float mean) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) {
      const float d = p[j + k] - mean;
      acc[k] += d * d;
    }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; ++j) s += (p[j] - mean) * (p[j] - mean);
  return s;
}

// Rows per task: below ~32K elements a wake-up of the pool costs more than the row loop.
std::size_t RowGrain(std::size_t cols) { return std::max<std::size_t>(1, 32768 / (cols + 1)); }

// layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps): y = (x - mean) * rstd * gamma + beta
// with the biased variance (PyTorch); mean and rstd ([rows]) are kept for the backward pass.
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  const float* g = F32(info, 1);
  const float* b = F32(info, 2);
  float* y = F32(info, 3);
  float* mean = F32(info, 4);
  float* rstd = F32(info, 5);
  const std::size_t rows = Int(info, 6), cols = Int(info, 7);
  const float eps = static_cast<float>(Num(info, 8));
  const float invC = 1.f / static_cast<float>(cols);
  parallel_for(rows, RowGrain(cols), [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* p = x + r * cols;
      float* q = y + r * cols;
      const float mu = RowSum(p, cols) * invC;
      const float rs = 1.f / std::sqrt(RowSqDev(p, cols, mu) * invC + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (std::size_t j = 0; j < cols; ++j) q[j] = ((p[j] - mu) * rs) * g[j] + b[j];
    }
  });
  return info.Env().Undefined();
}

// layerNormGrad(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols):
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma
//   dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy
// Rows are split into fixed blocks, each with its own double partial sums of dgamma/dbeta, added
// in block order afterwards: the result does not depend on which thread ran which block.
Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  const float* dy = F32(info, 0);
  const float* x = F32(info, 1);
  const float* g = F32(info, 2);
  const float* mean = F32(info, 3);
  const float* rstd = F32(info, 4);
  float* dx = F32(info, 5);
  float* dgamma = F32(info, 6);
  float* dbeta = F32(info, 7);
  const std::size_t rows = Int(info, 8), cols = Int(info, 9);
  const std::size_t grain = RowGrain(cols);
  const std::size_t blocks = std::max<std::size_t>(1, std::min<std::size_t>(rows / grain, pool_threads() * 4));
  std::vector<double> partial(2 * blocks * cols, 0.0);
  const float invC = 1.f / static_cast<float>(cols);
  parallel_for(blocks, 1, [&](std::size_t b0, std::size_t b1) {
    std::vector<float> dxhat(cols), xhat(cols);
    for (std::size_t blk = b0; blk < b1; ++blk) {
      double* pg = partial.data() + 2 * blk * cols;
      double* pb = pg + cols;
      for (std::size_t r = rows * blk / blocks; r < rows * (blk + 1) / blocks; ++r) {
        const float* dyr = dy + r * cols;
        const float* xr = x + r * cols;
        float* dxr = dx + r * cols;
        const float mu = mean[r], rs = rstd[r];
        float a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::size_t j = 0;
        for (; j + 8 <= cols; j += 8)
          for (int k = 0; k < 8; ++k) {
            const float xh = (xr[j + k] - mu) * rs;
            const float d = dyr[j + k] * g[j + k];
            xhat[j + k] = xh;
            dxhat[j + k] = d;
            a1[k] += d;
            a2[k] += d * xh;
          }
        float s1 = ((a1[0] + a1[4]) + (a1[1] + a1[5])) + ((a1[2] + a1[6]) + (a1[3] + a1[7]));
        float s2 = ((a2[0] + a2[4]) + (a2[1] + a2[5])) + ((a2[2] + a2[6]) + (a2[3] + a2[7]));
        for (; j < cols; ++j) {
          const float xh = (xr[j] - mu) * rs;
          const float d = dyr[j] * g[j];
          xhat[j] = xh;
          dxhat[j] = d;
          s1 += d;
          s2 += d * xh;
        }
        const float m1 = s1 * invC, m2 = s2 * invC;
        for (std::size_t c = 0; c < cols; ++c) {
          dxr[c] = ((dxhat[c] - m1) - xhat[c] * m2) * rs;
          pg[c] += static_cast<double>(dyr[c] * xhat[c]);
          pb[c] += static_cast<double>(dyr[c]);
        }
      }
    }
  });
  for (std::size_t c = 0; c < cols; ++c) {
    double sg = 0.0, sb = 0.0;
    for (std::size_t blk = 0; blk < blocks; ++blk) {
      sg += partial[2 * blk * cols + c];
      sb += partial[(2 * blk + 1) * cols + c];
    }
    dgamma[c] = static_cast<float>(sg);
    dbeta[c] = static_cast<float>(sb);
  }
  return info.Env().Undefined();
}

}  // namespace

void InitLayerNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
}

}  // namespace sslnative
