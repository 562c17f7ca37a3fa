#include "pool.h"

#include "status.h"

#include <sys/mman.h>

#include <string>

namespace pxs {

Pool::Pool(ucp_context_h context, uint64_t* mem_map_counter) : context_(context), mem_maps_(mem_map_counter) {}

Pool::~Pool() { Teardown(); }

size_t Pool::CapacityFor(size_t length) {
  size_t cap = kMinBlock;
  while (cap < length) cap <<= 1;
  return cap;
}

namespace {
ucs_status_t Register(ucp_context_h context, PoolBlock* b, uint64_t* counter) {
  ucp_mem_map_params_t params{};
  params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                      UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE;
  params.address = b->base;
  params.length = b->capacity;
  params.memory_type = UCS_MEMORY_TYPE_HOST;
  ++*counter;
  return ucp_mem_map(context, &params, &b->memh);
}
}  // namespace

PoolLease* Pool::Acquire(Napi::Env env, size_t length) {
  if (length > kMaxBlock) throw Napi::RangeError::New(env, "acquire: byteLength too large");
  size_t cap = CapacityFor(length);
  PoolBlock* block = nullptr;
  auto it = idle_.find(cap);
  if (it != idle_.end() && !it->second.empty()) {
    block = it->second.back();
    it->second.pop_back();
    stats_.idle_bytes -= cap;
    if (block->memh == nullptr) {
      // Trimmed: its pages were given back; register it again (fresh pages fault in on use).
      ucs_status_t status = Register(context_, block, mem_maps_);
      if (status != UCS_OK) {
        block->memh = nullptr;
        it->second.insert(it->second.begin(), block);
        stats_.idle_bytes += cap;
        throw MakeError(env, kError, status, "acquire: ucp_mem_map");
      }
    } else {
      resident_idle_bytes_ -= cap;
    }
    ++stats_.hits;
  } else {
    void* p = mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      Napi::Error err = Napi::Error::New(env, "acquire: cannot map " + std::to_string(cap) + " bytes");
      err.Set("code", Napi::String::New(env, kError));
      throw err;
    }
    block = new PoolBlock{static_cast<uint8_t*>(p), cap, nullptr};
    ucs_status_t status = Register(context_, block, mem_maps_);
    if (status != UCS_OK) {
      munmap(p, cap);
      delete block;
      throw MakeError(env, kError, status, "acquire: ucp_mem_map");
    }
    blocks_.push_back(block);
    ++stats_.misses;
  }
  stats_.in_use_bytes += cap;
  auto* lease = new PoolLease{this, block, false};
  leases_.insert(lease);
  return lease;
}

void Pool::Return(PoolLease* lease, napi_env env) {
  if (lease == nullptr || lease->returned || lease->pool == nullptr) return;
  lease->returned = true;
  PoolBlock* block = lease->block;
  stats_.in_use_bytes -= block->capacity;
  stats_.idle_bytes += block->capacity;
  resident_idle_bytes_ += block->capacity;
  idle_[block->capacity].push_back(block);
  if (env != nullptr) {
    int64_t ignored;
    napi_adjust_external_memory(env, -static_cast<int64_t>(block->capacity), &ignored);
  }
  Trim();
}

void Pool::End(PoolLease* lease) {
  if (lease->pool != nullptr) lease->pool->leases_.erase(lease);
  delete lease;
}

void Pool::SetMaxIdleBytes(uint64_t bytes) {
  max_idle_bytes_ = bytes;
  Trim();
}

void Pool::Trim() {
  // Coldest first: the front of each capacity's list, largest capacities first.
  for (auto it = idle_.rbegin(); it != idle_.rend() && resident_idle_bytes_ > max_idle_bytes_; ++it) {
    std::vector<PoolBlock*>& list = it->second;
    for (size_t i = 0; i < list.size() && resident_idle_bytes_ > max_idle_bytes_; ++i) {
      PoolBlock* b = list[i];
      if (b->memh == nullptr) continue;
      // Deregister first: a pinned registration (verbs) would otherwise keep the old pages alive.
      ucp_mem_unmap(context_, b->memh);
      b->memh = nullptr;
      madvise(b->base, b->capacity, MADV_DONTNEED);
      resident_idle_bytes_ -= b->capacity;
      stats_.trimmed_bytes += b->capacity;
      // Trimmed blocks go to the front, so that warm ones are reused first.
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      list.insert(list.begin(), b);
    }
  }
}

void Pool::Teardown() {
  for (PoolLease* lease : leases_) lease->pool = nullptr;
  leases_.clear();
  for (PoolBlock* b : blocks_) {
    if (b->memh != nullptr) ucp_mem_unmap(context_, b->memh);
    munmap(b->base, b->capacity);
    delete b;
  }
  blocks_.clear();
  idle_.clear();
  stats_.idle_bytes = stats_.in_use_bytes = 0;
  resident_idle_bytes_ = 0;
}

}  // namespace pxs
