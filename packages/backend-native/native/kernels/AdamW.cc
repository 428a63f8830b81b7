// One AdamW step for one parameter in one pass (torch.optim.AdamW, single-tensor path). The float
// operations and their order are those of the composite tfjs version (each tfjs op rounds to
// float32), so both give the same bits: no fused multiply-adds here.
#include <cmath>

#include "../common.h"
#include "../pool.h"

#pragma GCC optimize("fp-contract=off")

namespace sslnative {
namespace {

// adamw(p, g, m, v, pOut, mOut, vOut, scalars) with scalars (float32 values computed by the
// caller) = [decay = 1 - lr wd, beta1, 1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2^t), eps,
// lr / (1 - beta1^t)]:
//   m' = m beta1 + g (1 - beta1); v' = v beta2 + g^2 (1 - beta2)
//   p' = p decay - m' / (sqrt(v') / sqrt(bc2) + eps) * stepSize
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  const float* p = F32(info, 0);
  const float* g = F32(info, 1);
  const float* m = F32(info, 2);
  const float* v = F32(info, 3);
  float* po = F32(info, 4);
  float* mo = F32(info, 5);
  float* vo = F32(info, 6);
  const float* s = F32(info, 7);
  const std::size_t n = Len(info, 0);
  const float decay = s[0], b1 = s[1], omb1 = s[2], b2 = s[3], omb2 = s[4], sqrtBc2 = s[5], eps = s[6],
              stepSize = s[7];
  parallel_for(n, 16384, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * omb1;
      const float vi = v[i] * b2 + (gi * gi) * omb2;
      const float denom = std::sqrt(vi) / sqrtBc2 + eps;
      po[i] = p[i] * decay - (mi / denom) * stepSize;
      mo[i] = mi;
      vo[i] = vi;
    }
  });
  return info.Env().Undefined();
}

}  // namespace

void InitAdamW(Napi::Env env, Napi::Object exports) {
  exports.Set("adamw", Napi::Function::New(env, AdamW));
}

}  // namespace sslnative
