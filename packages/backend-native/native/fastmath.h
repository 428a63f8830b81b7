// Branch-free float exp and erf that the compiler vectorises. exp: Cephes' polynomial after range
// reduction by ln 2 (within 2 ulp); erf: a rational minimax fit on [-4, 4] (within ~1e-7, the
// accuracy of float). NaN passes through; overflow gives inf, deep underflow 0. Also the 16-float
// vector the hand-blocked loops use, and one softmax row on it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sslnative {

inline float FastExp(float x) {
  const float hi = 88.3762626647949f, lo = -88.3762626647949f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  // Rounds to nearest by the 1.5 * 2^23 trick: no float->int conversion of an unknown value, so
  // the loop if-converts and vectorises.
  const float shifter = 12582912.f;
  float fx = (xc * 1.44269504088896341f + shifter) - shifter;
  float r = xc - fx * 0.693359375f + fx * 2.12194440e-4f;
  float r2 = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.f;
  int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  float out = y * scale;
  out = x > 88.7228390f ? __builtin_inff() : out;
  out = x < -87.3365479f ? 0.f : out;
  return x != x ? x : out;
}

inline float FastErf(float x) {
  float xc = x > 4.f ? 4.f : (x < -4.f ? -4.f : x);
  float x2 = xc * xc;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * xc;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  float out = p / q;
  out = out > 1.f ? 1.f : (out < -1.f ? -1.f : out);
  return x != x ? x : out;
}

// 16 floats: one AVX-512 register (GCC splits it where the CPU has narrower ones).
typedef float Vec __attribute__((vector_size(64)));
constexpr std::size_t kLanes = 16;

inline Vec LoadVec(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void StoreVec(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }

// out = softmax(x) over n values: exp(x - max) / sum; a NaN anywhere makes the row NaN. The max
// and the sum run over 16 lanes (a scalar max or sum is one long dependency chain), the sum then
// adds the lanes in order.
inline void SoftmaxRow(const float* x, float* out, std::size_t n) {
  typedef int32_t Mask __attribute__((vector_size(64)));
  const float inf = __builtin_inff();
  Vec vmax = Vec{} - inf;
  Mask nan = Mask{};
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const Vec v = LoadVec(x + j);
    nan |= v != v;
    vmax = v > vmax ? v : vmax;
  }
  float m = -inf;
  bool anyNan = false;
  for (std::size_t l = 0; l < kLanes; ++l) {
    m = vmax[l] > m ? vmax[l] : m;
    anyNan = anyNan || nan[l] != 0;
  }
  for (; j < n; ++j) {
    if (x[j] != x[j]) anyNan = true;
    m = x[j] > m ? x[j] : m;
  }
  if (anyNan) m = __builtin_nanf("");
  for (std::size_t i = 0; i < n; ++i) out[i] = FastExp(x[i] - m);
  Vec vsum = Vec{};
  j = 0;
  for (; j + kLanes <= n; j += kLanes) vsum += LoadVec(out + j);
  float s = 0.f;
  for (std::size_t l = 0; l < kLanes; ++l) s += vsum[l];
  for (; j < n; ++j) s += out[j];
  const float inv = 1.f / s;
  for (std::size_t i = 0; i < n; ++i) out[i] *= inv;
}

}  // namespace sslnative
