// Registered memory (ucp_mem_map) over a JS ArrayBuffer's bytes or over memory the addon allocates,
// with its packed remote key; and RemoteKey, a peer's rkey unpacked on an endpoint for RMA.
#pragma once

#include "worker.h"

#include <napi.h>
#include <ucp/api/ucp.h>

namespace pxs {

class Endpoint;

class MemoryRegion : public Napi::ObjectWrap<MemoryRegion> {
 public:
  static Napi::Function Define(Napi::Env env);
  // memMap(ArrayBuffer | ArrayBufferView, { memoryType? }), allocate(byteLength, { memoryType? }) and
  // acquire(byteLength, { memoryType? }) -> MemoryRegion
  static Napi::Value MemMap(const Napi::CallbackInfo& info);
  static Napi::Value Allocate(const Napi::CallbackInfo& info);
  static Napi::Value Acquire(const Napi::CallbackInfo& info);
  // releaseBuffer(ArrayBuffer | ArrayBufferView) -> boolean: gives back the pool block under that buffer
  // (the external buffer of an acquire()), as its region's release() would; false for any other buffer.
  static Napi::Value ReleaseBuffer(const Napi::CallbackInfo& info);
  // A pooled region over the first `length` bytes of a block the worker acquired (a pooled AM receive):
  // from here on the region (its buffer) owns the lease, exactly as for acquire().
  static Napi::Object FromLease(Napi::Env env, Worker* worker, PoolLease* lease, size_t length);

  explicit MemoryRegion(const Napi::CallbackInfo& info);
  ~MemoryRegion() override;

  ucp_mem_h memh() const { return memh_; }
  bool pooled() const { return kind_ == kPooled; }
  uint8_t* data() const { return data_; }
  size_t length() const { return length_; }
  bool mapped() const { return memh_ != nullptr; }
  // Still usable: pooled and not released, or mapped.
  bool live() const { return kind_ == kPooled ? lease_ != nullptr : memh_ != nullptr; }
  int pins() const { return pins_; }
  void Pin() { ++pins_; }
  void Unpin() { --pins_; }
  void Release();  // worker teardown
  // The lease's buffer was finalized (the lease is about to be deleted): drop the pointer to it.
  void ForgetLease(PoolLease* lease) {
    if (lease_ == lease) lease_ = nullptr;
  }

 private:
  enum Kind { kMapped, kAllocated, kPooled };
  static Napi::Object NewObject(Napi::Env env, Worker* worker, Kind kind);
  void Unmap();
  // Throws UCX_BUSY while an RMA operation uses the region.
  void CheckNotBusy(Napi::Env env, const char* what);
  Napi::Value UnmapJs(const Napi::CallbackInfo& info);
  Napi::Value ReleaseJs(const Napi::CallbackInfo& info);
  // release() of a pooled region: detaches its buffer, returns the block (UCX_BUSY while pinned).
  void ReleaseBlock(Napi::Env env);
  Napi::Value PackRkey(const Napi::CallbackInfo& info);
  Napi::Value BufferGetter(const Napi::CallbackInfo& info);
  Napi::Value ByteOffsetGetter(const Napi::CallbackInfo& info);
  Napi::Value LengthGetter(const Napi::CallbackInfo& info);
  Napi::Value AddressGetter(const Napi::CallbackInfo& info);
  Napi::Value PooledGetter(const Napi::CallbackInfo& info);
  // { fd, inode, offset } of a pooled region over a memfd block (shm.h), else null.
  Napi::Value ShmGetter(const Napi::CallbackInfo& info);

  Worker* worker_ = nullptr;
  std::shared_ptr<Context> context_;
  Kind kind_ = kMapped;
  ucp_mem_h memh_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t length_ = 0;
  size_t byte_offset_ = 0;
  int pins_ = 0;
  Napi::Reference<Napi::ArrayBuffer> buffer_;  // keeps the mapped bytes alive
  // Pooled: the block's lease. With external buffers the buffer's finalizer ends it; in the copying
  // fallback (`copied_`) this object does, and `buffer` reads are copies of the block.
  PoolLease* lease_ = nullptr;
  bool copied_ = false;
};

class RemoteKey : public Napi::ObjectWrap<RemoteKey> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Create(Napi::Env env, Endpoint* endpoint, ucp_rkey_h rkey);

  explicit RemoteKey(const Napi::CallbackInfo& info);
  ~RemoteKey() override;

  ucp_rkey_h handle() const { return rkey_; }
  // Destroys the rkey (endpoint close, worker teardown, destroy(), or finalization).
  void Destroy();

 private:
  Napi::Value DestroyJs(const Napi::CallbackInfo& info);

  Endpoint* endpoint_ = nullptr;
  ucp_rkey_h rkey_ = nullptr;
};

}  // namespace pxs
