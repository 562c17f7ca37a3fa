// Per-environment state (one per JS thread): the constructors of the wrapped classes and the worker.
#pragma once

#include <napi.h>

namespace pxs {

class Worker;

struct AddonData {
  Napi::FunctionReference endpoint_ctor;
  Napi::FunctionReference listener_ctor;
  Napi::FunctionReference region_ctor;
  Napi::FunctionReference rkey_ctor;
  Worker* worker = nullptr;
};

inline AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

// Wrapped objects are only made by the addon: their constructors take this token as first argument.
inline bool IsInternalConstruct(const Napi::CallbackInfo& info) {
  return info.Length() >= 1 && info[0].IsExternal();
}

}  // namespace pxs
