// Module entry: thread settings, build facts, and every kernel file's functions.
#include <cblas.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common.h"
#include "gemm.h"
#include "pool.h"

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

namespace sslnative {
namespace {

// setThreads(blasThreads, poolThreads)
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  openblas_set_num_threads(static_cast<int>(Int(info, 0)));
  set_pool_threads(static_cast<int>(Int(info, 1)));
  set_onednn_threads(static_cast<int>(Int(info, 0)));
  return info.Env().Undefined();
}

// Tensors are large, short-lived mallocs (V8 allocates ArrayBuffers with malloc). By default glibc
// mmaps each one afresh and unmaps it on free, so every op pays page faults; keeping them on the
// heap cut the system time of a ViT train step from ~0.7 s to ~0.15 s. Returns whether it applied.
Napi::Value TuneAllocator(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  const bool ok = mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 &&
                  mallopt(M_TOP_PAD, 64 << 20) == 1;
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("blasConfig", std::string(openblas_get_config()));
  o.Set("blasThreads", openblas_get_num_threads());
  o.Set("poolThreads", pool_threads());
  const GemmSupport g = gemm_support();
  o.Set("onednn", g.onednn);
  o.Set("onednnVersion", g.version);
  o.Set("onednnIsa", g.isa);
  o.Set("bf16", g.bf16);
  o.Set("bf16Reason", g.reason);
  return o;
}

// gemmSeconds(): wall seconds spent in GEMMs so far (gemm.h).
Napi::Value GemmSeconds(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gemm_seconds()); }

// peakGflopsPerCore(): { fma, bf16Dot }, one core's float32 FMA and bf16 dot-product peaks (gemm.h).
Napi::Value PeakGflopsPerCore(const Napi::CallbackInfo& info) {
  const PeakRates r = peak_gflops_per_core();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("fma", r.fma);
  o.Set("bf16Dot", r.bf16Dot);
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("tuneAllocator", Napi::Function::New(env, TuneAllocator));
  exports.Set("gemmSeconds", Napi::Function::New(env, GemmSeconds));
  exports.Set("peakGflopsPerCore", Napi::Function::New(env, PeakGflopsPerCore));
  InitBatchMatMul(env, exports);
  InitTranspose(env, exports);
  InitBinary(env, exports);
  InitUnary(env, exports);
  InitReduce(env, exports);
  InitSoftmax(env, exports);
  InitConv2D(env, exports);
  InitSlice(env, exports);
  InitLayerNorm(env, exports);
  InitGelu(env, exports);
  InitAdamW(env, exports);
  InitBatchNorm(env, exports);
  InitPool(env, exports);
  InitTile(env, exports);
  InitAttention(env, exports);
  return exports;
}

}  // namespace sslnative

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return sslnative::Init(env, exports); }

NODE_API_MODULE(ssl_native, InitModule)
