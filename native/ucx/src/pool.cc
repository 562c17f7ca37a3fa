#include "pool.h"

#include "shm.h"
#include "status.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pxs {

namespace {

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// PROXYSTORE_UCX_POOL_THP=0 turns MADV_HUGEPAGE on large mmap blocks off (for measuring it).
bool HugePages() {
  static const bool on = [] {
    const char* v = std::getenv("PROXYSTORE_UCX_POOL_THP");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

constexpr size_t kHugePage = 2u << 20;

}  // namespace

Pool::Pool(ucp_context_h context, uint64_t* mem_map_counter, uv_loop_t* loop)
    : context_(context), mem_maps_(mem_map_counter), loop_(loop) {
  SetAllocator(Allocator::kAuto);
  if (loop_ != nullptr) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
  }
  window_start_ = NowMs();
}

Pool::~Pool() { Teardown(); }

// Four classes per power of two: for 2^k < length <= 2^(k+1) the capacity is length rounded up to a
// multiple of 2^(k-2), i.e. 5, 6, 7 or 8 × 2^(k-2); so capacity - length < length / 4.
size_t Pool::CapacityFor(size_t length) {
  if (length <= kMinBlock) return kMinBlock;
  int lg = 63 - __builtin_clzll(static_cast<unsigned long long>(length - 1));
  size_t step = size_t{1} << (lg - 2);
  size_t cap = (length + step - 1) / step * step;
  size_t page = PageSize();
  return (cap + page - 1) / page * page;
}

void Pool::SetAllocator(Allocator a) {
  // 'auto' is our own mmap: UCX-allocated blocks are faster on shared memory, but a reader that unpacks
  // the rkey of such a block after its owner died crashes inside UCX 1.13 (ucp_ep_rkey_unpack's error
  // path releases an rkey it never unpacked when shmat of the dead owner's segment fails). A dead owner
  // is an everyday event for a store (a producer exits), so that speed is opt-in ('ucx').
  ucx_alloc_ = a == Allocator::kUcx;
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

[[noreturn]] void ThrowMapError(Napi::Env env, size_t cap) {
  Napi::Error err = Napi::Error::New(env, "acquire: cannot map " + std::to_string(cap) + " bytes");
  err.Set("code", Napi::String::New(env, kError));
  throw err;
}
}  // namespace

PoolBlock* Pool::NewBlock(Napi::Env env, size_t cap, bool shared) {
  auto* block = new PoolBlock{};
  block->capacity = cap;
  block->shared = shared;
  if (ucx_alloc_) {
    ucp_mem_map_params_t params{};
    params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                        UCP_MEM_MAP_PARAM_FIELD_FLAGS | UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE;
    params.address = nullptr;
    params.length = cap;
    params.flags = UCP_MEM_MAP_ALLOCATE;
    params.memory_type = UCS_MEMORY_TYPE_HOST;
    ++*mem_maps_;
    ucs_status_t status = ucp_mem_map(context_, &params, &block->memh);
    if (status != UCS_OK) {
      delete block;
      throw MakeError(env, kError, status, "acquire: ucp_mem_map(ALLOCATE)");
    }
    ucp_mem_attr_t attr{};
    attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS | UCP_MEM_ATTR_FIELD_LENGTH;
    status = ucp_mem_query(block->memh, &attr);
    if (status != UCS_OK || attr.address == nullptr || attr.length < cap) {
      ucp_mem_unmap(context_, block->memh);
      delete block;
      throw MakeError(env, kError, status == UCS_OK ? UCS_ERR_NO_MEMORY : status, "acquire: ucp_mem_query");
    }
    block->base = static_cast<uint8_t*>(attr.address);
    block->ucx_allocated = true;
    return block;
  }
  // A memfd, so that same-host readers can map the block (shm.h). Without one (PROXYSTORE_UCX_SHM=0,
  // EMFILE, an old kernel) the block is anonymous memory, read over UCX only.
  int fd = -1;
  if (shared && ShmBlocksEnabled()) {
    fd = memfd_create("proxystore-ucx", MFD_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && (ftruncate(fd, static_cast<off_t>(cap)) != 0 || fstat(fd, &st) != 0)) {
      close(fd);
      fd = -1;
    }
    if (fd >= 0) block->inode = static_cast<uint64_t>(st.st_ino);
  }
  auto fail = [&]() {
    if (fd >= 0) close(fd);
    delete block;
    ThrowMapError(env, cap);
  };
  void* p = nullptr;
  if (cap >= kHugeFrom && HugePages()) {
    // 2 MiB aligned, so that transparent huge pages can back the whole block.
    void* raw = mmap(nullptr, cap + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) fail();
    uintptr_t start = reinterpret_cast<uintptr_t>(raw);
    uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
    if (fd >= 0 &&
        mmap(reinterpret_cast<void*>(aligned), cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
      munmap(raw, cap + kHugePage);
      fail();
    }
    if (aligned > start) munmap(raw, aligned - start);
    size_t tail = start + cap + kHugePage - (aligned + cap);
    if (tail > 0) munmap(reinterpret_cast<void*>(aligned + cap), tail);
    p = reinterpret_cast<void*>(aligned);
    madvise(p, cap, MADV_HUGEPAGE);
  } else {
    p = fd >= 0 ? mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                : mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail();
  }
  block->fd = fd;
  block->base = static_cast<uint8_t*>(p);
  ucs_status_t status = Register(context_, block, mem_maps_);
  if (status != UCS_OK) {
    munmap(p, cap);
    if (fd >= 0) close(fd);
    delete block;
    throw MakeError(env, kError, status, "acquire: ucp_mem_map");
  }
  return block;
}

PoolLease* Pool::Acquire(Napi::Env env, size_t length, bool shared) {
  if (length > kMaxBlock) throw Napi::RangeError::New(env, "acquire: byteLength too large");
  size_t cap = CapacityFor(length);
  PoolBlock* block = nullptr;
  auto it = idle_.find(IdleKey(cap, shared));
  if (it != idle_.end() && !it->second.empty()) {
    block = it->second.back();
    it->second.pop_back();
    stats_.idle_bytes -= cap;
    if (!block->trimmed) {
      lru_.erase(block->lru);
      resident_idle_bytes_ -= cap;
    } else if (!block->ucx_allocated) {
      // Trimmed: its pages were given back; register it again (fresh pages fault in on use).
      ucs_status_t status = Register(context_, block, mem_maps_);
      if (status != UCS_OK) {
        block->memh = nullptr;
        it->second.insert(it->second.begin(), block);
        stats_.idle_bytes += cap;
        throw MakeError(env, kError, status, "acquire: ucp_mem_map");
      }
    }
    block->trimmed = false;
    ++stats_.hits;
  } else {
    block = NewBlock(env, cap, shared);
    blocks_.push_back(block);
    ++stats_.misses;
  }
  stats_.in_use_bytes += cap;
  Roll(NowMs());
  peak_cur_ = std::max(peak_cur_, stats_.in_use_bytes);
  auto* lease = new PoolLease{this, block, false};
  leases_.insert(lease);
  out_[block->base] = lease;
  Trim();  // more in use: less idle memory may stay resident
  return lease;
}

void Pool::Return(PoolLease* lease) {
  if (lease == nullptr || lease->returned || lease->pool == nullptr) return;
  lease->returned = true;
  PoolBlock* block = lease->block;
  out_.erase(block->base);
  stats_.in_use_bytes -= block->capacity;
  stats_.idle_bytes += block->capacity;
  resident_idle_bytes_ += block->capacity;
  idle_[IdleKey(block->capacity, block->shared)].push_back(block);
  block->lru = lru_.insert(lru_.end(), block);
  Trim();
}

PoolLease* Pool::FindOut(const uint8_t* base) const {
  auto it = out_.find(base);
  return it == out_.end() ? nullptr : it->second;
}

void Pool::End(PoolLease* lease) {
  if (lease->pool != nullptr) lease->pool->leases_.erase(lease);
  delete lease;
}

void Pool::SetMaxIdleBytes(uint64_t bytes) {
  max_idle_bytes_ = bytes;
  Trim();
}

void Pool::SetIdleWindowMs(uint64_t ms) {
  window_ms_ = ms;
  window_start_ = NowMs();
  peak_prev_ = peak_cur_ = stats_.in_use_bytes;
  Trim();
}

// Windows of window_ms_: a peak is remembered for the rest of its window and the whole next one.
void Pool::Roll(uint64_t now) {
  if (window_ms_ == 0 || now - window_start_ >= 2 * window_ms_) {
    peak_prev_ = peak_cur_ = stats_.in_use_bytes;
    window_start_ = now;
  } else if (now - window_start_ >= window_ms_) {
    peak_prev_ = peak_cur_;
    peak_cur_ = stats_.in_use_bytes;
    window_start_ += window_ms_;
  }
}

uint64_t Pool::Budget() const {
  uint64_t peak = std::max(peak_prev_, peak_cur_);
  uint64_t held = peak > stats_.in_use_bytes ? peak - stats_.in_use_bytes : 0;
  return std::max(max_idle_bytes_, held);
}

void Pool::TrimBlock(PoolBlock* b) {
  if (b->ucx_allocated) {
    // UCX owns the memory (ucp_mem_unmap would unmap it): keep the registration, free the pages. A
    // shared segment needs MADV_REMOVE (DONTNEED only drops this process's mapping of its pages).
    if (madvise(b->base, b->capacity, MADV_REMOVE) != 0) madvise(b->base, b->capacity, MADV_DONTNEED);
  } else {
    // Deregister first: a pinned registration (verbs) would otherwise keep the old pages alive.
    ucp_mem_unmap(context_, b->memh);
    b->memh = nullptr;
    if (b->fd >= 0) {
      // A shared mapping's pages belong to the file: DONTNEED would only unmap them here. Punch them
      // out (the size stays: a reader's mapping past EOF would SIGBUS); readers then read zeros.
      if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(b->capacity)) != 0) {
        madvise(b->base, b->capacity, MADV_REMOVE);
      }
    } else {
      madvise(b->base, b->capacity, MADV_DONTNEED);
    }
  }
  b->trimmed = true;
}

void Pool::Trim() {
  uint64_t now = NowMs();
  Roll(now);
  uint64_t budget = Budget();
  while (resident_idle_bytes_ > budget && !lru_.empty()) {
    PoolBlock* b = lru_.front();
    lru_.pop_front();
    TrimBlock(b);
    resident_idle_bytes_ -= b->capacity;
    stats_.trimmed_bytes += b->capacity;
    // Trimmed blocks go to the front of their class, so that resident ones are reused first.
    std::vector<PoolBlock*>& list = idle_[IdleKey(b->capacity, b->shared)];
    list.erase(std::find(list.begin(), list.end(), b));
    list.insert(list.begin(), b);
  }
  // Idle bytes kept only for the recent peak: look again when the window turns.
  if (timer_ != nullptr && window_ms_ > 0 && resident_idle_bytes_ > max_idle_bytes_) {
    uint64_t due = window_start_ + window_ms_;
    uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<Pool*>(t->data)->Trim(); }, due > now ? due - now + 1 : 1, 0);
  }
}

void Pool::Teardown() {
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  for (PoolLease* lease : leases_) lease->pool = nullptr;
  leases_.clear();
  out_.clear();
  for (PoolBlock* b : blocks_) {
    if (b->ucx_allocated) {
      ucp_mem_unmap(context_, b->memh);  // frees the memory UCX allocated
    } else {
      if (b->memh != nullptr) ucp_mem_unmap(context_, b->memh);
      munmap(b->base, b->capacity);
      if (b->fd >= 0) close(b->fd);  // the file goes with the last mapping (a reader's included)
    }
    delete b;
  }
  blocks_.clear();
  idle_.clear();
  lru_.clear();
  stats_.idle_bytes = stats_.in_use_bytes = 0;
  resident_idle_bytes_ = 0;
}

}  // namespace pxs
