// BatchNorm on channels-last data seen as [rows, cols]: statistics per column (channel) over all
// rows. Training forward and backward each read x in two passes instead of the ~15 tfjs ops
// (moments, batchNorm, their broadcast gradients and Tile) of the composite; plus the inference
// kernel FusedBatchNorm with per-channel parameters.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../common.h"
#include "../pool.h"

namespace sslnative {
namespace {

// Rows per block: below ~32K elements a wake-up of the pool costs more than the loop.
std::size_t RowGrain(std::size_t cols) { return std::max<std::size_t>(1, 32768 / (cols + 1)); }

// Fixed row blocks (not one per thread) so that the partial sums, added in block order, give the
// same result for any thread count.
std::size_t Blocks(std::size_t rows, std::size_t cols) {
  return std::max<std::size_t>(1, std::min<std::size_t>(rows / RowGrain(cols), pool_threads() * 4));
}

// Column sums over row blocks: fn(r0, r1, partial) adds rows [r0, r1) into its block's `width`
// doubles; returns the per-column totals (block order).
template <typename F>
std::vector<double> ColumnSums(std::size_t rows, std::size_t width, std::size_t cols, F fn) {
  const std::size_t blocks = Blocks(rows, cols);
  std::vector<double> partial(blocks * width, 0.0);
  parallel_for(blocks, 1, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t blk = b0; blk < b1; ++blk) fn(rows * blk / blocks, rows * (blk + 1) / blocks, partial.data() + blk * width);
  });
  std::vector<double> total(width, 0.0);
  for (std::size_t blk = 0; blk < blocks; ++blk)
    for (std::size_t c = 0; c < width; ++c) total[c] += partial[blk * width + c];
  return total;
}

// batchNorm(x, gamma, beta, y, mean, variance, rows, cols, eps):
//   y = (x - mean) / sqrt(var + eps) * gamma + beta, biased variance per column.
// The sums are of x - x[0, c] in double (a shift makes the one-pass variance formula safe
// against a large common offset), so x is read once for the statistics and once for y.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  const float* g = F32(info, 1);
  const float* b = F32(info, 2);
  float* y = F32(info, 3);
  float* mean = F32(info, 4);
  float* var = F32(info, 5);
  const std::size_t rows = Int(info, 6), cols = Int(info, 7);
  const double eps = Num(info, 8);
  const float* shift = x;  // row 0
  std::vector<double> sums = ColumnSums(rows, 2 * cols, cols, [&](std::size_t r0, std::size_t r1, double* p) {
    double* s1 = p;
    double* s2 = p + cols;
    for (std::size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      for (std::size_t c = 0; c < cols; ++c) {
        const double d = static_cast<double>(xr[c]) - static_cast<double>(shift[c]);
        s1[c] += d;
        s2[c] += d * d;
      }
    }
  });
  const double n = static_cast<double>(rows);
  std::vector<float> mu(cols), scale(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    const double m1 = sums[c] / n;
    const double v = std::max(0.0, sums[cols + c] / n - m1 * m1);
    mean[c] = mu[c] = static_cast<float>(m1 + shift[c]);
    var[c] = static_cast<float>(v);
    scale[c] = static_cast<float>(static_cast<double>(g[c]) / std::sqrt(v + eps));
  }
  parallel_for(rows, RowGrain(cols), [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      for (std::size_t c = 0; c < cols; ++c) yr[c] = (xr[c] - mu[c]) * scale[c] + b[c];
    }
  });
  return info.Env().Undefined();
}

// batchNormGrad(dy, x, gamma, mean, variance, dx, dgamma, dbeta, rows, cols, eps):
//   xhat = (x - mean) rstd, dbeta = sum dy, dgamma = sum dy xhat (over rows),
//   dx = gamma rstd (dy - dbeta / n - xhat dgamma / n).
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  const float* dy = F32(info, 0);
  const float* x = F32(info, 1);
  const float* g = F32(info, 2);
  const float* mean = F32(info, 3);
  const float* var = F32(info, 4);
  float* dx = F32(info, 5);
  float* dgamma = F32(info, 6);
  float* dbeta = F32(info, 7);
  const std::size_t rows = Int(info, 8), cols = Int(info, 9);
  const double eps = Num(info, 10);
  std::vector<float> rstd(cols);
  for (std::size_t c = 0; c < cols; ++c) rstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
  std::vector<double> sums = ColumnSums(rows, 2 * cols, cols, [&](std::size_t r0, std::size_t r1, double* p) {
    double* sb = p;
    double* sg = p + cols;
    for (std::size_t r = r0; r < r1; ++r) {
      const float* dyr = dy + r * cols;
      const float* xr = x + r * cols;
      for (std::size_t c = 0; c < cols; ++c) {
        const double d = dyr[c];
        sb[c] += d;
        sg[c] += d * static_cast<double>((xr[c] - mean[c]) * rstd[c]);
      }
    }
  });
  const double n = static_cast<double>(rows);
  std::vector<float> k(cols), mb(cols), mg(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    dbeta[c] = static_cast<float>(sums[c]);
    dgamma[c] = static_cast<float>(sums[cols + c]);
    k[c] = g[c] * rstd[c];
    mb[c] = static_cast<float>(sums[c] / n);
    mg[c] = static_cast<float>(sums[cols + c] / n);
  }
  parallel_for(rows, RowGrain(cols), [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* dyr = dy + r * cols;
      const float* xr = x + r * cols;
      float* dxr = dx + r * cols;
      for (std::size_t c = 0; c < cols; ++c) {
        const float xh = (xr[c] - mean[c]) * rstd[c];
        dxr[c] = k[c] * ((dyr[c] - mb[c]) - xh * mg[c]);
      }
    }
  });
  return info.Env().Undefined();
}

// fusedBatchNorm(x, mean, variance, offset, scale, out, cols, eps): tfjs's FusedBatchNorm with
// every parameter of length `cols` (x.size a multiple of it), computed in double as the JS kernel.
Napi::Value FusedBatchNorm(const Napi::CallbackInfo& info) {
  const float* x = F32(info, 0);
  const float* m = F32(info, 1);
  const float* v = F32(info, 2);
  const float* off = F32(info, 3);
  const float* s = F32(info, 4);
  float* out = F32(info, 5);
  const std::size_t n = Len(info, 0);
  const std::size_t cols = Int(info, 6);
  const double eps = Num(info, 7);
  std::vector<double> a(cols), mu(cols), o(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    a[c] = static_cast<double>(s[c]) / std::sqrt(static_cast<double>(v[c]) + eps);
    mu[c] = m[c];
    o[c] = off[c];
  }
  const std::size_t rows = cols ? n / cols : 0;
  parallel_for(rows, RowGrain(cols), [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      for (std::size_t c = 0; c < cols; ++c) yr[c] = static_cast<float>(o[c] + (static_cast<double>(xr[c]) - mu[c]) * a[c]);
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitBatchNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("fusedBatchNorm", Napi::Function::New(env, FusedBatchNorm));
}

}  // namespace sslnative
