// Byte views over JS values (ArrayBuffer, any ArrayBufferView) and ArrayBuffers over memory the addon
// owns, handed to JS without a copy where the runtime allows external buffers.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace pxs {

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;
  Napi::Object holder;  // the JS object that owns `data`; empty for null/undefined
  Napi::ArrayBuffer buffer;  // the backing ArrayBuffer
  size_t byte_offset = 0;
};

// Accepts ArrayBuffer, TypedArray, DataView; null/undefined give empty bytes when `optional`.
Bytes GetBytes(Napi::Value value, const char* what, bool optional = false);

// Memory from AlignedAlloc, owned by the returned ArrayBuffer (freed by its finalizer). Falls back to
// a copy into a V8-allocated buffer when the runtime forbids external buffers.
Napi::ArrayBuffer AdoptBuffer(Napi::Env env, void* data, size_t length);

// 64-byte-aligned (page-aligned from 64 KiB) memory, released with std::free; null when out of memory.
// Never throws: it is called from UCX callbacks.
void* AlignedAlloc(size_t length);

}  // namespace pxs
