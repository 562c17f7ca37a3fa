#include "memory.h"

#include "addon_data.h"
#include "buffers.h"
#include "endpoint.h"
#include "status.h"

#include <cstring>

namespace pxs {

Napi::Function MemoryRegion::Define(Napi::Env env) {
  return DefineClass(env, "MemoryRegion",
                     {
                         InstanceMethod<&MemoryRegion::PackRkey>("packRkey"),
                         InstanceMethod<&MemoryRegion::UnmapJs>("unmap"),
                         InstanceAccessor<&MemoryRegion::BufferGetter>("buffer"),
                         InstanceAccessor<&MemoryRegion::ByteOffsetGetter>("byteOffset"),
                         InstanceAccessor<&MemoryRegion::LengthGetter>("byteLength"),
                         InstanceAccessor<&MemoryRegion::AddressGetter>("address"),
                     });
}

MemoryRegion::MemoryRegion(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemoryRegion>(info) {
  if (!IsInternalConstruct(info)) {
    throw Napi::TypeError::New(info.Env(), "MemoryRegion objects come from memMap() or allocate()");
  }
}

MemoryRegion::~MemoryRegion() { Unmap(); }

Napi::Value MemoryRegion::Wrap(Napi::Env env, Worker* worker, Napi::ArrayBuffer buffer, size_t offset,
                               size_t length) {
  Napi::Object obj = Data(env)->region_ctor.New({Napi::External<void>::New(env, nullptr)});
  MemoryRegion* self = Unwrap(obj);
  self->worker_ = worker;
  self->context_ = worker->context_ptr();
  self->data_ = static_cast<uint8_t*>(buffer.Data()) + offset;
  self->length_ = length;
  self->byte_offset_ = offset;
  ucp_mem_map_params_t params{};
  params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                      UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE;
  params.address = self->data_;
  params.length = length;
  params.memory_type = UCS_MEMORY_TYPE_HOST;
  Check(env, ucp_mem_map(self->context_->handle(), &params, &self->memh_), "ucp_mem_map");
  self->buffer_ = Napi::Persistent(buffer);
  worker->AddRegion(self);
  return obj;
}

// memMap(ArrayBuffer | ArrayBufferView): registers those bytes in place. The buffer must not be
// detached (transferred) while mapped.
Napi::Value MemoryRegion::MemMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes bytes = GetBytes(info[0], "memMap argument");
  if (bytes.length == 0) throw Napi::RangeError::New(env, "memMap: cannot register 0 bytes");
  return Wrap(env, Worker::Get(env), bytes.buffer, bytes.byte_offset, bytes.length);
}

// allocate(byteLength): page-aligned memory owned by an ArrayBuffer, zero-filled, then registered.
Napi::Value MemoryRegion::Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "allocate(byteLength)");
  int64_t length = info[0].As<Napi::Number>().Int64Value();
  if (length <= 0) throw Napi::RangeError::New(env, "allocate: byteLength must be positive");
  Worker* worker = Worker::Get(env);
  void* memory = AlignedAlloc(static_cast<size_t>(length));
  if (memory == nullptr) throw Napi::Error::New(env, "allocate: out of memory");
  std::memset(memory, 0, static_cast<size_t>(length));
  Napi::ArrayBuffer buffer = AdoptBuffer(env, memory, static_cast<size_t>(length));
  return Wrap(env, worker, buffer, 0, static_cast<size_t>(length));
}

void MemoryRegion::Unmap() {
  if (memh_ != nullptr && context_) ucp_mem_unmap(context_->handle(), memh_);
  memh_ = nullptr;
  if (worker_ != nullptr) worker_->RemoveRegion(this);
  worker_ = nullptr;
  buffer_.Reset();
}

void MemoryRegion::Release() {
  Unmap();
  context_.reset();
}

Napi::Value MemoryRegion::UnmapJs(const Napi::CallbackInfo& info) {
  if (pins_ > 0) {
    Napi::Error err = Napi::Error::New(info.Env(), "unmap: " + std::to_string(pins_) + " operation(s) still use this region");
    err.Set("code", Napi::String::New(info.Env(), "UCX_BUSY"));
    throw err;
  }
  Unmap();
  return info.Env().Undefined();
}

Napi::Value MemoryRegion::PackRkey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (memh_ == nullptr) throw Napi::Error::New(env, "packRkey: region is unmapped");
  void* packed = nullptr;
  size_t size = 0;
  Check(env, ucp_rkey_pack(context_->handle(), memh_, &packed, &size), "ucp_rkey_pack");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, size);
  std::memcpy(out.Data(), packed, size);
  ucp_rkey_buffer_release(packed);
  return out;
}

Napi::Value MemoryRegion::BufferGetter(const Napi::CallbackInfo& info) {
  if (buffer_.IsEmpty()) return info.Env().Undefined();
  return buffer_.Value();
}

Napi::Value MemoryRegion::ByteOffsetGetter(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(byte_offset_));
}

Napi::Value MemoryRegion::LengthGetter(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(length_));
}

Napi::Value MemoryRegion::AddressGetter(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data_)));
}

// ---- RemoteKey ----

Napi::Function RemoteKey::Define(Napi::Env env) {
  return DefineClass(env, "RemoteKey", {InstanceMethod<&RemoteKey::DestroyJs>("destroy")});
}

RemoteKey::RemoteKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RemoteKey>(info) {
  if (!IsInternalConstruct(info)) throw Napi::TypeError::New(info.Env(), "RemoteKey objects come from endpoint.unpackRkey()");
}

RemoteKey::~RemoteKey() { Destroy(); }

Napi::Object RemoteKey::Create(Napi::Env env, Endpoint* endpoint, ucp_rkey_h rkey) {
  Napi::Object obj = Data(env)->rkey_ctor.New({Napi::External<void>::New(env, nullptr)});
  RemoteKey* self = Unwrap(obj);
  self->endpoint_ = endpoint;
  self->rkey_ = rkey;
  endpoint->AddRkey(self);
  return obj;
}

void RemoteKey::Destroy() {
  if (rkey_ != nullptr) ucp_rkey_destroy(rkey_);
  rkey_ = nullptr;
  if (endpoint_ != nullptr) endpoint_->RemoveRkey(this);
  endpoint_ = nullptr;
}

Napi::Value RemoteKey::DestroyJs(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

}  // namespace pxs
