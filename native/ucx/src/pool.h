// The per-worker pool of pre-registered blocks behind acquire(): anonymous mmap'd memory of power-of-two
// capacity (64 KiB and up), registered with ucp_mem_map once and reused. A block handed to JS is owned by
// a Lease, which returns it exactly once: from release() (after the JS buffer is detached) or from the
// finalizer of that buffer, whichever comes first. Idle blocks beyond maxIdleBytes are trimmed: they
// stay mapped (a stale remote reader reads zeros, never unmapped memory) but are deregistered and give
// their pages back with madvise(MADV_DONTNEED); reuse registers them again. Everything is unmapped at
// worker teardown.
#pragma once

#include <napi.h>
#include <ucp/api/ucp.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_set>
#include <vector>

namespace pxs {

class Pool;

struct PoolBlock {
  uint8_t* base = nullptr;
  size_t capacity = 0;
  ucp_mem_h memh = nullptr;  // null while trimmed
};

// One hand-out of a block. Deleted by whoever ends it last: the buffer's finalizer (external buffers)
// or the MemoryRegion (copying fallback), after the block went back.
struct PoolLease {
  Pool* pool = nullptr;  // null once the pool is torn down
  PoolBlock* block = nullptr;
  bool returned = false;
};

struct PoolStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t idle_bytes = 0;
  uint64_t in_use_bytes = 0;
  uint64_t trimmed_bytes = 0;  // cumulative
};

class Pool {
 public:
  static constexpr size_t kMinBlock = 64u << 10;
  static constexpr size_t kMaxBlock = size_t{1} << 40;

  // `mem_map_counter` counts ucp_mem_map calls (stats().memMaps).
  Pool(ucp_context_h context, uint64_t* mem_map_counter);
  ~Pool();

  // A block with capacity >= length, registered; throws a JS error (as C++ exception) on failure.
  PoolLease* Acquire(Napi::Env env, size_t length);
  // Returns the lease's block to the idle set once; later calls are no-ops. `env` may be null
  // (no external-memory accounting then).
  void Return(PoolLease* lease, napi_env env);
  // Deletes a lease whose block went back (or whose pool is gone).
  static void End(PoolLease* lease);
  void SetMaxIdleBytes(uint64_t bytes);
  const PoolStats& stats() const { return stats_; }
  // Worker teardown: orphans live leases, deregisters and unmaps every block.
  void Teardown();

 private:
  void Trim();
  static size_t CapacityFor(size_t length);

  ucp_context_h context_;
  uint64_t* mem_maps_;
  uint64_t max_idle_bytes_ = 256ull << 20;
  uint64_t resident_idle_bytes_ = 0;  // idle and not trimmed
  PoolStats stats_;
  std::vector<PoolBlock*> blocks_;  // every block, for teardown
  std::map<size_t, std::vector<PoolBlock*>> idle_;  // by capacity; warm (registered) blocks at the back
  std::unordered_set<PoolLease*> leases_;  // live leases (block not yet returned or lease not yet freed)
};

}  // namespace pxs
