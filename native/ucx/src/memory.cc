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
                         InstanceMethod<&MemoryRegion::ReleaseJs>("release"),
                         InstanceAccessor<&MemoryRegion::BufferGetter>("buffer"),
                         InstanceAccessor<&MemoryRegion::ByteOffsetGetter>("byteOffset"),
                         InstanceAccessor<&MemoryRegion::LengthGetter>("byteLength"),
                         InstanceAccessor<&MemoryRegion::AddressGetter>("address"),
                         InstanceAccessor<&MemoryRegion::PooledGetter>("pooled"),
                         InstanceAccessor<&MemoryRegion::ShmGetter>("shm"),
                     });
}

MemoryRegion::MemoryRegion(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MemoryRegion>(info) {
  if (!IsInternalConstruct(info)) {
    throw Napi::TypeError::New(info.Env(), "MemoryRegion objects come from memMap(), allocate() or acquire()");
  }
}

MemoryRegion::~MemoryRegion() { Unmap(); }

namespace {

// options.memoryType: 'host' (default) passes; 'cuda' is refused, saying whether this UCX build could
// move CUDA memory at all; anything else is a TypeError.
void CheckMemoryType(Napi::Env env, Napi::Value options, Worker* worker, const char* what) {
  if (options.IsUndefined() || options.IsNull()) return;
  if (!options.IsObject()) throw Napi::TypeError::New(env, std::string(what) + ": options must be an object");
  Napi::Value type = options.As<Napi::Object>().Get("memoryType");
  if (type.IsUndefined()) return;
  std::string name = type.IsString() ? type.As<Napi::String>().Utf8Value() : "";
  if (name == "host") return;
  if (name != "cuda") throw Napi::TypeError::New(env, std::string(what) + ": memoryType must be 'host' or 'cuda'");
  bool cuda = worker->context().supports(UCS_MEMORY_TYPE_CUDA);
  std::string types;
  for (const std::string& t : worker->context().memory_types()) types += (types.empty() ? "" : ", ") + t;
  std::string message = std::string(what) + ": memoryType 'cuda': " +
                        (cuda ? "this UCX build (" + std::string(ucp_get_version_string()) + ") supports CUDA memory, "
                              : "this UCX build (" + std::string(ucp_get_version_string()) +
                                    ") does not support CUDA memory (memory types: " + types + "), ") +
                        "and GPU buffers are not supported by this addon yet";
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, "UCX_MEMORY_TYPE_UNSUPPORTED"));
  throw err;
}

int64_t LengthArg(const Napi::CallbackInfo& info, const char* what, bool allow_zero) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, std::string(what) + "(byteLength)");
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= (allow_zero ? 0 : 1)) || d != static_cast<double>(static_cast<int64_t>(d)) || d > 9007199254740991.0) {
    throw Napi::RangeError::New(env, std::string(what) + ": byteLength must be a " +
                                         (allow_zero ? "non-negative" : "positive") + " integer");
  }
  return static_cast<int64_t>(d);
}

// The finalizer of a pooled region's external buffer: the block goes back unless release() sent it
// back already, and the lease ends.
void FinalizePooledBuffer(napi_env /*env*/, void* /*data*/, void* hint) {
  auto* lease = static_cast<PoolLease*>(hint);
  // The region may outlive its buffer here (at environment teardown finalizers run in any order): it
  // must not reach the lease once it is deleted below. The region clears `lease->region` when it goes
  // first, so the pointer is live whenever it is set.
  if (lease->region != nullptr) lease->region->ForgetLease(lease);
  if (lease->pool != nullptr) lease->pool->Return(lease);
  Pool::End(lease);
}

}  // namespace

Napi::Object MemoryRegion::NewObject(Napi::Env env, Worker* worker, Kind kind) {
  Napi::Object obj = Data(env)->region_ctor.New({Napi::External<void>::New(env, nullptr)});
  MemoryRegion* self = Unwrap(obj);
  self->worker_ = worker;
  self->context_ = worker->context_ptr();
  self->kind_ = kind;
  return obj;
}

// memMap(ArrayBuffer | ArrayBufferView): registers those bytes in place, through the registration
// cache. The buffer must not be detached (transferred) while mapped.
Napi::Value MemoryRegion::MemMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes bytes = GetBytes(info[0], "memMap argument");
  Worker* worker = Worker::Get(env);
  CheckMemoryType(env, info[1], worker, "memMap");
  if (bytes.length == 0) throw Napi::RangeError::New(env, "memMap: cannot register 0 bytes");
  ucp_mem_h memh = worker->RegAcquire(env, bytes.data, bytes.length);
  Napi::Object obj = NewObject(env, worker, kMapped);
  MemoryRegion* self = Unwrap(obj);
  self->memh_ = memh;
  self->data_ = bytes.data;
  self->length_ = bytes.length;
  self->byte_offset_ = bytes.byte_offset;
  self->buffer_ = Napi::Persistent(bytes.buffer);
  worker->AddRegion(self);
  return obj;
}

// allocate(byteLength): page-aligned memory owned by an ArrayBuffer, zero-filled, then registered.
Napi::Value MemoryRegion::Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t length = LengthArg(info, "allocate", false);
  Worker* worker = Worker::Get(env);
  CheckMemoryType(env, info[1], worker, "allocate");
  void* memory = AlignedAlloc(static_cast<size_t>(length));
  if (memory == nullptr) throw Napi::Error::New(env, "allocate: out of memory");
  std::memset(memory, 0, static_cast<size_t>(length));
  Napi::ArrayBuffer buffer = AdoptBuffer(env, memory, static_cast<size_t>(length));
  ucp_mem_h memh = worker->MemMap(env, buffer.Data(), static_cast<size_t>(length));
  Napi::Object obj = NewObject(env, worker, kAllocated);
  MemoryRegion* self = Unwrap(obj);
  self->memh_ = memh;
  self->data_ = static_cast<uint8_t*>(buffer.Data());
  self->length_ = static_cast<size_t>(length);
  self->buffer_ = Napi::Persistent(buffer);
  worker->AddRegion(self);
  return obj;
}

// acquire(byteLength): exactly byteLength bytes (0 allowed) at the start of a pooled block, exposed
// as an external ArrayBuffer over the block (no copy), not zeroed.
Napi::Value MemoryRegion::Acquire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t length = LengthArg(info, "acquire", true);
  Worker* worker = Worker::Get(env);
  CheckMemoryType(env, info[1], worker, "acquire");
  // options.shared (default true): a block this process may serve (a memfd same-host readers map);
  // false: private memory, for a value read into it.
  bool shared = true;
  if (info[1].IsObject()) {
    Napi::Value v = info[1].As<Napi::Object>().Get("shared");
    if (!v.IsUndefined()) {
      if (!v.IsBoolean()) throw Napi::TypeError::New(env, "acquire: options.shared must be a boolean");
      shared = v.As<Napi::Boolean>().Value();
    }
  }
  PoolLease* lease = worker->pool().Acquire(env, static_cast<size_t>(length), shared);
  return FromLease(env, worker, lease, static_cast<size_t>(length));
}

Napi::Object MemoryRegion::FromLease(Napi::Env env, Worker* worker, PoolLease* lease, size_t length) {
  PoolBlock* block = lease->block;
  napi_value ab = nullptr;
  bool copied = false;
  if (napi_create_external_arraybuffer(env, block->base, length, FinalizePooledBuffer, lease, &ab) != napi_ok) {
    // Runtimes with the V8 sandbox refuse external buffers: the block then lives as long as the region
    // object, and `buffer` reads are copies (RMA still lands in the block).
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    copied = true;
    ab = Napi::ArrayBuffer::New(env, 0);
  }
  Napi::Object obj = NewObject(env, worker, kPooled);
  MemoryRegion* self = Unwrap(obj);
  self->memh_ = block->memh;
  self->data_ = block->base;
  self->length_ = length;
  self->buffer_ = Napi::Persistent(Napi::ArrayBuffer(env, ab));
  self->lease_ = lease;
  lease->region = self;
  self->copied_ = copied;
  worker->AddRegion(self);
  return obj;
}

void MemoryRegion::Unmap() {
  if (kind_ == kPooled) {
    // The block itself goes back from release() or the buffer's finalizer; this object only lets go,
    // except in the copying fallback where it owns the lease.
    if (lease_ != nullptr) lease_->region = nullptr;
    if (copied_ && lease_ != nullptr) {
      if (lease_->pool != nullptr) lease_->pool->Return(lease_);
      Pool::End(lease_);
    }
    lease_ = nullptr;
  } else if (memh_ != nullptr) {
    if (kind_ == kMapped && worker_ != nullptr) {
      worker_->RegRelease(data_, length_);
    } else if (context_) {
      ucp_mem_unmap(context_->handle(), memh_);
    }
  }
  memh_ = nullptr;
  if (worker_ != nullptr) worker_->RemoveRegion(this);
  worker_ = nullptr;
  buffer_.Reset();
}

void MemoryRegion::Release() {
  Unmap();
  context_.reset();
}

void MemoryRegion::CheckNotBusy(Napi::Env env, const char* what) {
  if (pins_ <= 0) return;
  Napi::Error err = Napi::Error::New(env, std::string(what) + ": " + std::to_string(pins_) +
                                              " operation(s) still use this region");
  err.Set("code", Napi::String::New(env, "UCX_BUSY"));
  throw err;
}

Napi::Value MemoryRegion::ReleaseJs(const Napi::CallbackInfo& info) {
  if (kind_ != kPooled) return UnmapJs(info);
  ReleaseBlock(info.Env());
  return info.Env().Undefined();
}

void MemoryRegion::ReleaseBlock(Napi::Env env) {
  if (lease_ == nullptr) return;  // released already (or torn down)
  CheckNotBusy(env, "release");
  PoolLease* lease = lease_;
  lease_ = nullptr;
  lease->region = nullptr;
  if (!copied_ && !buffer_.IsEmpty()) {
    // Every view of the block becomes empty before the block can be handed out again. The finalizer
    // that detaching triggers finds the lease returned and only ends it.
    Napi::ArrayBuffer ab = buffer_.Value();
    if (!ab.IsDetached()) ab.Detach();
  }
  if (lease->pool != nullptr) lease->pool->Return(lease);
  if (copied_) Pool::End(lease);
  memh_ = nullptr;
  if (worker_ != nullptr) worker_->RemoveRegion(this);
  worker_ = nullptr;
}

// A value read into a pooled block is a view over the block's external buffer long after the region
// object that filled it is gone; this gives the block back from the value. The buffer must be the very
// external buffer of a lease still out (its data pointer is the block's base): a copy, or a view over some
// other memory, is not ours and is left alone.
Napi::Value MemoryRegion::ReleaseBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab;
  if (info[0].IsArrayBuffer()) {
    ab = info[0].As<Napi::ArrayBuffer>();
  } else if (info[0].IsTypedArray() || info[0].IsDataView()) {
    ab = info[0].IsTypedArray() ? info[0].As<Napi::TypedArray>().ArrayBuffer() : info[0].As<Napi::DataView>().ArrayBuffer();
  } else {
    throw Napi::TypeError::New(env, "releaseBuffer: expected an ArrayBuffer or an ArrayBufferView");
  }
  if (ab.IsDetached() || ab.ByteLength() == 0) return Napi::Boolean::New(env, false);
  Worker* worker = Worker::Get(env);
  PoolLease* lease = worker->pool().FindOut(static_cast<const uint8_t*>(ab.Data()));
  if (lease == nullptr) return Napi::Boolean::New(env, false);
  if (lease->region != nullptr) {
    MemoryRegion* region = lease->region;
    if (region->copied_) return Napi::Boolean::New(env, false);  // `ab` is a copy, not the block
    region->ReleaseBlock(env);
    return Napi::Boolean::New(env, true);
  }
  // The region is gone; its lease lives until the buffer's finalizer. Same order as ReleaseBlock.
  ab.Detach();
  lease->pool->Return(lease);
  return Napi::Boolean::New(env, true);
}

Napi::Value MemoryRegion::UnmapJs(const Napi::CallbackInfo& info) {
  if (kind_ == kPooled) return ReleaseJs(info);
  CheckNotBusy(info.Env(), "unmap");
  Unmap();
  return info.Env().Undefined();
}

Napi::Value MemoryRegion::PackRkey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (memh_ == nullptr) throw Napi::Error::New(env, "packRkey: region is unmapped or released");
  void* packed = nullptr;
  size_t size = 0;
  Check(env, ucp_rkey_pack(context_->handle(), memh_, &packed, &size), "ucp_rkey_pack");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, size);
  std::memcpy(out.Data(), packed, size);
  ucp_rkey_buffer_release(packed);
  return out;
}

Napi::Value MemoryRegion::BufferGetter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (copied_ && lease_ != nullptr && lease_->pool != nullptr) {
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, length_);
    if (length_ > 0) std::memcpy(copy.Data(), data_, length_);
    return copy;
  }
  if (buffer_.IsEmpty()) return env.Undefined();
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

Napi::Value MemoryRegion::PooledGetter(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), kind_ == kPooled);
}

Napi::Value MemoryRegion::ShmGetter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (kind_ != kPooled || lease_ == nullptr || lease_->pool == nullptr || lease_->block->fd < 0) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, lease_->block->fd));
  out.Set("inode", Napi::BigInt::New(env, lease_->block->inode));
  // The region starts at the block's (and the file's) first byte.
  out.Set("offset", Napi::Number::New(env, 0));
  return out;
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
