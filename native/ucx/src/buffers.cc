#include "buffers.h"

#include <cstdlib>
#include <cstring>

namespace pxs {

Bytes GetBytes(Napi::Value value, const char* what, bool optional) {
  Bytes out;
  Napi::Env env = value.Env();
  if (value.IsNull() || value.IsUndefined()) {
    if (optional) return out;
    throw Napi::TypeError::New(env, std::string(what) + " must be an ArrayBuffer or ArrayBufferView");
  }
  if (value.IsArrayBuffer()) {
    auto ab = value.As<Napi::ArrayBuffer>();
    out.data = static_cast<uint8_t*>(ab.Data());
    out.length = ab.ByteLength();
    out.holder = ab;
    out.buffer = ab;
    return out;
  }
  if (value.IsTypedArray()) {
    auto ta = value.As<Napi::TypedArray>();
    out.buffer = ta.ArrayBuffer();
    out.byte_offset = ta.ByteOffset();
    out.data = static_cast<uint8_t*>(out.buffer.Data()) + out.byte_offset;
    out.length = ta.ByteLength();
    out.holder = ta;
    return out;
  }
  if (value.IsDataView()) {
    auto dv = value.As<Napi::DataView>();
    out.buffer = dv.ArrayBuffer();
    out.byte_offset = dv.ByteOffset();
    out.data = static_cast<uint8_t*>(out.buffer.Data()) + out.byte_offset;
    out.length = dv.ByteLength();
    out.holder = dv;
    return out;
  }
  throw Napi::TypeError::New(env, std::string(what) + " must be an ArrayBuffer or ArrayBufferView");
}

void* AlignedAlloc(size_t length) {
  size_t align = length >= (64u << 10) ? 4096 : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, length == 0 ? align : length) != 0) return nullptr;
  return p;
}

Napi::ArrayBuffer AdoptBuffer(Napi::Env env, void* data, size_t length) {
  if (data == nullptr || length == 0) {
    std::free(data);
    return Napi::ArrayBuffer::New(env, 0);
  }
  napi_value result;
  napi_status st = napi_create_external_arraybuffer(
      env, data, length, [](napi_env, void* p, void*) { std::free(p); }, nullptr, &result);
  if (st == napi_ok) return Napi::ArrayBuffer(env, result);
  // Runtimes with the V8 sandbox refuse external buffers: copy once instead.
  Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, length);
  std::memcpy(copy.Data(), data, length);
  std::free(data);
  return copy;
}

}  // namespace pxs
