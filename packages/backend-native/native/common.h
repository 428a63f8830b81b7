// Helpers shared by the kernel files: typed-array access and argument checks.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sslnative {

inline float* F32(const Napi::CallbackInfo& info, std::size_t i) {
  return info[i].As<Napi::Float32Array>().Data();
}

inline const int32_t* I32(const Napi::CallbackInfo& info, std::size_t i) {
  return info[i].As<Napi::Int32Array>().Data();
}

inline std::size_t Len(const Napi::CallbackInfo& info, std::size_t i) {
  return info[i].As<Napi::TypedArray>().ElementLength();
}

inline int64_t Int(const Napi::CallbackInfo& info, std::size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}

inline double Num(const Napi::CallbackInfo& info, std::size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}

inline std::vector<int64_t> IntVec(const Napi::CallbackInfo& info, std::size_t i) {
  auto a = info[i].As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

// Every kernel file adds its functions to the module's exports through one of these.
void InitBatchMatMul(Napi::Env env, Napi::Object exports);
void InitTranspose(Napi::Env env, Napi::Object exports);
void InitBinary(Napi::Env env, Napi::Object exports);
void InitUnary(Napi::Env env, Napi::Object exports);
void InitReduce(Napi::Env env, Napi::Object exports);
void InitSoftmax(Napi::Env env, Napi::Object exports);
void InitConv2D(Napi::Env env, Napi::Object exports);
void InitSlice(Napi::Env env, Napi::Object exports);
void InitLayerNorm(Napi::Env env, Napi::Object exports);
void InitGelu(Napi::Env env, Napi::Object exports);
void InitAdamW(Napi::Env env, Napi::Object exports);
void InitBatchNorm(Napi::Env env, Napi::Object exports);
void InitPool(Napi::Env env, Napi::Object exports);
void InitTile(Napi::Env env, Napi::Object exports);
void InitAttention(Napi::Env env, Napi::Object exports);

}  // namespace sslnative
