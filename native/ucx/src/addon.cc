// Module entry: registers the wrapped classes and the functions the addon exports. Everything the
// addon exports is declared, with types, in packages/ucx/src/native.ts.
#include "addon_data.h"
#include "endpoint.h"
#include "listener.h"
#include "memory.h"
#include "shm.h"
#include "status.h"
#include "worker.h"

#include <napi.h>
#include <ucp/api/ucp.h>

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

namespace pxs {
namespace {

// Whether libc's `symbol` now starts with a jump out of libc: UCX's memory hooks (bistro mode) patch
// brk, sbrk, mmap and munmap in place this way, with `jmp rel32` or `movabs imm64, %r11; jmp *%r11`.
// Null where this cannot be told (not x86-64).
Napi::Value LibcPatched(Napi::Env env, const char* symbol) {
#if defined(__x86_64__)
  auto* fn = static_cast<const uint8_t*>(dlsym(RTLD_DEFAULT, symbol));
  if (fn == nullptr) return Napi::Boolean::New(env, false);
  const uint8_t* target = nullptr;
  if (fn[0] == 0xE9) {
    int32_t rel = 0;
    std::memcpy(&rel, fn + 1, sizeof rel);
    target = fn + 5 + rel;
  } else if (fn[0] == 0x49 && fn[1] == 0xBB && fn[10] == 0x41 && fn[11] == 0xFF && fn[12] == 0xE3) {
    std::memcpy(&target, fn + 2, sizeof target);
  } else {
    return Napi::Boolean::New(env, false);
  }
  Dl_info from{};
  Dl_info to{};
  if (dladdr(fn, &from) == 0 || dladdr(target, &to) == 0 || from.dli_fname == nullptr || to.dli_fname == nullptr) {
    return Napi::Boolean::New(env, true);  // a jump to no known object is a patch too
  }
  return Napi::Boolean::New(env, std::strcmp(from.dli_fname, to.dli_fname) != 0);
#else
  return env.Null();
#endif
}

Napi::Value ContextInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context& ctx = Worker::Get(env)->context();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", Napi::String::New(env, ucp_get_version_string()));
  Napi::Array types = Napi::Array::New(env);
  uint32_t i = 0;
  for (const std::string& t : ctx.memory_types()) types.Set(i++, Napi::String::New(env, t));
  out.Set("memoryTypes", types);
  out.Set("cuda", Napi::Boolean::New(env, ctx.supports(UCS_MEMORY_TYPE_CUDA)));
  // UCX's memory hooks, off unless the user turned them on (index.cjs, src/preload/preload.cc).
  out.Set("memoryHooks", LibcPatched(env, "brk"));
  return out;
}

// The calling thread's scheduling policy (on Linux a policy is per thread: sched_*scheduler(0) is this
// one). 'batch' (SCHED_BATCH) is what the node-local daemon runs under: a thread of that policy that is
// woken does not preempt the thread that woke it. A same-host producer's commit wakes the daemon, and
// the kernel here queues the daemon on the producer's CPU: under SCHED_OTHER it then ran first, for
// 0.2-0.3 ms of the producer's 4 MiB put, while the other CPU stayed idle (docs/ucx.md).
const char* PolicyName(int policy) {
  switch (policy) {
    case SCHED_OTHER: return "normal";
    case SCHED_BATCH: return "batch";
    case SCHED_IDLE: return "idle";
    case SCHED_FIFO: return "fifo";
    case SCHED_RR: return "rr";
    default: return "other";
  }
}

Napi::Value CurrentPolicy(Napi::Env env) {
  int policy = sched_getscheduler(0);
  if (policy < 0) {
    Napi::Error err = Napi::Error::New(env, std::string("threadSchedPolicy: ") + std::strerror(errno));
    err.Set("code", Napi::String::New(env, kError));
    throw err;
  }
  return Napi::String::New(env, PolicyName(policy & ~SCHED_RESET_ON_FORK));
}

Napi::Value ThreadSchedPolicy(const Napi::CallbackInfo& info) { return CurrentPolicy(info.Env()); }

// Sets 'normal' or 'batch' (the two any unprivileged thread may switch between); returns the policy it
// had. Anything else is a TypeError; a refusal by the kernel (a thread under SCHED_IDLE without
// RLIMIT_NICE, a seccomp filter) is UCX_ERROR with the errno's text.
Napi::Value SetThreadSchedPolicy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (name != "normal" && name != "batch") {
    throw Napi::TypeError::New(env, "setThreadSchedPolicy: policy must be 'normal' or 'batch'");
  }
  Napi::Value before = CurrentPolicy(env);
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(0, name == "batch" ? SCHED_BATCH : SCHED_OTHER, &param) != 0) {
    int e = errno;
    Napi::Error err = Napi::Error::New(env, "setThreadSchedPolicy('" + name + "'): " + std::strerror(e));
    err.Set("code", Napi::String::New(env, kError));
    err.Set("errno", Napi::Number::New(env, e));
    throw err;
  }
  return before;
}

Napi::Value WorkerAddress(const Napi::CallbackInfo& info) { return Worker::Get(info.Env())->Address(info.Env()); }

Napi::Value SetAmHandler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "setAmHandler(id, handler | null, { receive? })");
  if (!info[1].IsFunction() && !info[1].IsNull() && !info[1].IsUndefined()) {
    throw Napi::TypeError::New(env, "setAmHandler: handler must be a function or null");
  }
  // options.receive: 'copy' (default: data in memory of the addon's own) or 'pool' (data in a block of
  // this thread's registration pool, handed over as info.region).
  // 'placed': pooled, the header starting with the block's length and the data's offset in it (u64 LE
  // each), blocks over options.maxBlock bytes refused.
  bool pooled = false;
  bool placed = false;
  bool shared = true;
  bool during_sync = false;
  uint64_t max_block = 0;
  if (!info[2].IsUndefined() && !info[2].IsNull()) {
    if (!info[2].IsObject()) throw Napi::TypeError::New(env, "setAmHandler: options must be an object");
    Napi::Object options = info[2].As<Napi::Object>();
    // options.duringSync: this slot's messages are handled inside getSync / waitAmSync too (for requests
    // a peer may be blocked on while this thread blocks on it).
    Napi::Value during = options.Get("duringSync");
    if (!during.IsUndefined() && !during.IsBoolean()) throw Napi::TypeError::New(env, "setAmHandler: duringSync must be a boolean");
    during_sync = during.IsBoolean() && during.As<Napi::Boolean>().Value();
    Napi::Value receive = options.Get("receive");
    std::string mode = receive.IsString() ? receive.As<Napi::String>().Utf8Value() : receive.IsUndefined() ? "copy" : "";
    if (mode != "copy" && mode != "pool" && mode != "placed") {
      throw Napi::TypeError::New(env, "setAmHandler: receive must be 'copy', 'pool' or 'placed'");
    }
    pooled = mode != "copy";
    placed = mode == "placed";
    // options.shared (pooled slots, default true): memfd blocks this process may serve, or private ones.
    Napi::Value sharedOption = options.Get("shared");
    if (!sharedOption.IsUndefined() && !sharedOption.IsBoolean()) {
      throw Napi::TypeError::New(env, "setAmHandler: shared must be a boolean");
    }
    if (sharedOption.IsBoolean()) shared = sharedOption.As<Napi::Boolean>().Value();
    if (placed) {
      Napi::Value max = options.Get("maxBlock");
      double d = max.IsNumber() ? max.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0) || d > 9007199254740991.0) {
        throw Napi::TypeError::New(env, "setAmHandler: receive 'placed' needs maxBlock, a non-negative number of bytes");
      }
      max_block = static_cast<uint64_t>(d);
    }
  }
  Worker::Get(env)->SetAmHandler(AmId(env, info[0], "setAmHandler"), info[1], pooled, placed, max_block, shared,
                                 during_sync);
  return env.Undefined();
}

Napi::Value Progress(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Worker::Get(info.Env())->ProgressFromJs());
}

Napi::Value ConfigurePool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "configurePool({ maxIdleBytes?, idleWindowMs?, allocator? })");
  Napi::Object options = info[0].As<Napi::Object>();
  Pool& pool = Worker::Get(env)->pool();
  auto count = [&](const char* name) -> std::optional<uint64_t> {
    Napi::Value v = options.Get(name);
    if (v.IsUndefined()) return std::nullopt;
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0)) throw Napi::RangeError::New(env, std::string("configurePool: ") + name + " must be a non-negative number");
    return static_cast<uint64_t>(std::min(d, 1.8e19));
  };
  std::optional<uint64_t> max = count("maxIdleBytes");
  std::optional<uint64_t> window = count("idleWindowMs");
  Napi::Value allocator = options.Get("allocator");
  if (!allocator.IsUndefined()) {
    std::string a = allocator.IsString() ? allocator.As<Napi::String>().Utf8Value() : "";
    if (a != "auto" && a != "mmap" && a != "ucx") {
      throw Napi::TypeError::New(env, "configurePool: allocator must be 'auto', 'mmap' or 'ucx'");
    }
    pool.SetAllocator(a == "ucx" ? Pool::Allocator::kUcx : a == "mmap" ? Pool::Allocator::kMmap : Pool::Allocator::kAuto);
  }
  if (window) pool.SetIdleWindowMs(*window);
  if (max) pool.SetMaxIdleBytes(*max);
  return env.Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) { return Worker::Get(info.Env())->Stats(info.Env()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  Napi::Function endpoint = Endpoint::Define(env);
  Napi::Function listener = Listener::Define(env);
  Napi::Function region = MemoryRegion::Define(env);
  Napi::Function rkey = RemoteKey::Define(env);
  data->endpoint_ctor = Napi::Persistent(endpoint);
  data->listener_ctor = Napi::Persistent(listener);
  data->region_ctor = Napi::Persistent(region);
  data->rkey_ctor = Napi::Persistent(rkey);

  exports.Set("Endpoint", endpoint);
  exports.Set("Listener", listener);
  exports.Set("MemoryRegion", region);
  exports.Set("RemoteKey", rkey);
  exports.Set("contextInfo", Napi::Function::New<ContextInfo>(env, "contextInfo"));
  exports.Set("workerAddress", Napi::Function::New<WorkerAddress>(env, "workerAddress"));
  exports.Set("setAmHandler", Napi::Function::New<SetAmHandler>(env, "setAmHandler"));
  exports.Set("listen", Napi::Function::New<Listener::Listen>(env, "listen"));
  exports.Set("connect", Napi::Function::New<Endpoint::Connect>(env, "connect"));
  exports.Set("connectAddress", Napi::Function::New<Endpoint::ConnectAddress>(env, "connectAddress"));
  exports.Set("connectAddressSync", Napi::Function::New<Endpoint::ConnectAddressSync>(env, "connectAddressSync"));
  exports.Set("acquire", Napi::Function::New<MemoryRegion::Acquire>(env, "acquire"));
  exports.Set("releaseBuffer", Napi::Function::New<MemoryRegion::ReleaseBuffer>(env, "releaseBuffer"));
  exports.Set("configurePool", Napi::Function::New<ConfigurePool>(env, "configurePool"));
  exports.Set("memMap", Napi::Function::New<MemoryRegion::MemMap>(env, "memMap"));
  exports.Set("allocate", Napi::Function::New<MemoryRegion::Allocate>(env, "allocate"));
  exports.Set("progress", Napi::Function::New<Progress>(env, "progress"));
  exports.Set("stats", Napi::Function::New<Stats>(env, "stats"));
  exports.Set("processIdentity", Napi::Function::New<ProcessIdentity>(env, "processIdentity"));
  exports.Set("threadSchedPolicy", Napi::Function::New<ThreadSchedPolicy>(env, "threadSchedPolicy"));
  exports.Set("setThreadSchedPolicy", Napi::Function::New<SetThreadSchedPolicy>(env, "setThreadSchedPolicy"));
  exports.Set("peerRead", Napi::Function::New<PeerRead>(env, "peerRead"));
  exports.Set("peerWrite", Napi::Function::New<PeerWrite>(env, "peerWrite"));
  return exports;
}

}  // namespace
}  // namespace pxs

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  // Node unloads (dlclose) an addon when the worker thread that loaded it ends, before that thread's
  // loop runs the close callbacks of the addon's libuv handles, which are code of this library: the
  // thread then jumped into unmapped memory. Pinned once per process, so the library stays mapped.
  static std::once_flag pinned;
  std::call_once(pinned, [] {
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&InitModule), &self) != 0 && self.dli_fname != nullptr) {
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  });
  return pxs::Init(env, exports);
}

NODE_API_MODULE(proxystore_ucx, InitModule)
