// The addon's first module, loaded before the one that links UCX (index.cjs): it sets UCX's memory-hook
// defaults in the process environment while UCX is still unloaded, since UCX reads them when its
// libraries load. A JS assignment to process.env cannot do this from a worker thread, where process.env
// is a copy that never reaches the C environment: an addon first loaded there got UCX's hooks.
//
// Those hooks patch libc's brk/sbrk/mmap/munmap in place. Their sbrk(0) sets the break back to the value
// it just read, so a thread asking for the break while another grows the heap can shrink the heap under
// live allocations (seen here as V8 crashing on freed-looking memory). The addon registers its memory
// itself (its pool and its registration cache) and needs none of them; a user who sets a variable keeps
// their value.
//
// No UCX and no node-addon-api here: this module must load, and set the environment, before them.
#include <node_api.h>

#include <cstdlib>

namespace {

struct Default {
  const char* name;
  const char* value;
};

constexpr Default kDefaults[] = {
    {"UCX_MEM_MALLOC_HOOKS", "no"},
    {"UCX_MEM_MALLOC_RELOC", "no"},
    {"UCX_MEM_EVENTS", "no"},
};

napi_value Init(napi_env env, napi_value exports) {
  // { applied: names this call set }: the rest were set already, by the user or an earlier load.
  napi_value applied = nullptr;
  if (napi_create_array(env, &applied) != napi_ok) return exports;
  uint32_t n = 0;
  for (const Default& d : kDefaults) {
    if (std::getenv(d.name) != nullptr) continue;
    if (setenv(d.name, d.value, 0) != 0) continue;
    napi_value name = nullptr;
    if (napi_create_string_utf8(env, d.name, NAPI_AUTO_LENGTH, &name) == napi_ok) napi_set_element(env, applied, n++, name);
  }
  napi_set_named_property(env, exports, "applied", applied);
  return exports;
}

}  // namespace

NAPI_MODULE(proxystore_ucx_preload, Init)
