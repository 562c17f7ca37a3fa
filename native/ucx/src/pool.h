// The per-worker pool of pre-registered blocks behind acquire(). Capacities come in size classes, four
// per power of two (64 KiB minimum, waste under 25%), and blocks are reused by class. A block handed to
// JS is owned by a Lease, which returns it exactly once: from release() (after the JS buffer is
// detached) or from the finalizer of that buffer, whichever comes first.
//
// Blocks are allocated one of two ways (see Allocator): our own mmap, then ucp_mem_map; or by
// UCX itself (ucp_mem_map with UCP_MEM_MAP_ALLOCATE), which on shared memory puts them in a SysV/POSIX
// segment that a peer attaches to and reads with a plain copy instead of process_vm_readv. Our own mmap
// is a MAP_SHARED mapping of a memfd (PROXYSTORE_UCX_SHM=0, or no memfd to be had: anonymous memory), so
// that a reader on the same host can map the block itself and copy from it (shm.h): UCX 1.13 emulates a
// ucp_get of such memory over shared memory with active messages the owner must answer.
//
// Trimming keeps a steady state resident: idle blocks are given back only beyond
// max(maxIdleBytes, recentPeakInUse - inUse) resident idle bytes, where the recent peak is the highest
// in-use total of the last one to two idle windows; least recently returned first. A trimmed block stays
// mapped for the worker's lifetime (a stale remote reader reads zeros, never unmapped memory) and gives
// its pages back: mmap blocks are deregistered, then hole-punched (memfd: fallocate PUNCH_HOLE, as
// MADV_DONTNEED would free nothing of a shared mapping; the file never shrinks, or a reader's mapping of
// it would SIGBUS) or MADV_DONTNEED'd (anonymous); UCX blocks keep their registration
// (ucp_mem_unmap would free them) and are hole-punched with MADV_REMOVE (shared segments; MADV_DONTNEED
// where that is refused). Everything is unmapped at worker teardown.
#pragma once

#include <napi.h>
#include <ucp/api/ucp.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pxs {

class Pool;
class MemoryRegion;

struct PoolBlock {
  uint8_t* base = nullptr;
  size_t capacity = 0;
  ucp_mem_h memh = nullptr;  // mmap blocks: null while trimmed; UCX blocks: always set (it owns the memory)
  bool ucx_allocated = false;
  bool shared = false;  // asked for as a block others may read (a memfd where one can be had)
  int fd = -1;         // the memfd behind an mmap block (-1: anonymous memory or UCX-allocated)
  uint64_t inode = 0;  // its inode, which a same-host reader checks
  bool trimmed = false;  // pages given back; reuse faults fresh (zero) pages in
  std::list<PoolBlock*>::iterator lru;  // in Pool::lru_ while idle and resident
};

// One hand-out of a block. Deleted by whoever ends it last: the buffer's finalizer (external buffers)
// or the MemoryRegion (copying fallback), after the block went back.
struct PoolLease {
  Pool* pool = nullptr;  // null once the pool is torn down
  PoolBlock* block = nullptr;
  bool returned = false;
  MemoryRegion* region = nullptr;  // the region object handed out with it, while that lives
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
  static constexpr size_t kHugeFrom = 4u << 20;  // mmap blocks from here get MADV_HUGEPAGE
  // 'auto' is kMmap (see SetAllocator for why kUcx is opt-in). kUcx must not be used with memory domains
  // that pin pages (verbs): trimming would free pages under a live registration.
  enum class Allocator { kAuto, kMmap, kUcx };

  // `mem_map_counter` counts ucp_mem_map calls (stats().memMaps). `loop` runs the idle-window timer.
  Pool(ucp_context_h context, uint64_t* mem_map_counter, uv_loop_t* loop);
  ~Pool();

  // A block with capacity >= length, registered; throws a JS error (as C++ exception) on failure.
  // `shared`: a block that will be served (same-host readers map it: a memfd); otherwise private
  // anonymous memory (what a value read into it needs: transparent huge pages, no file). Blocks of the
  // two kinds are pooled apart.
  PoolLease* Acquire(Napi::Env env, size_t length, bool shared = true);
  // Returns the lease's block to the idle set once; later calls are no-ops. No external-memory
  // accounting here: V8 counts the bytes of every ArrayBuffer, external ones over a block included (and
  // starts a collection once they rise 64 MiB over their level after the last one), so telling it of
  // blocks as well would double its pressure.
  void Return(PoolLease* lease);
  // Deletes a lease whose block went back (or whose pool is gone).
  static void End(PoolLease* lease);
  // The lease out (not yet returned) whose block starts at `base`; null when there is none.
  PoolLease* FindOut(const uint8_t* base) const;
  void SetMaxIdleBytes(uint64_t bytes);
  // How long a peak of in-use bytes keeps idle blocks resident (one to two windows); 0: trim beyond
  // maxIdleBytes at once.
  void SetIdleWindowMs(uint64_t ms);
  void SetAllocator(Allocator a);
  bool ucx_allocates() const { return ucx_alloc_; }
  const PoolStats& stats() const { return stats_; }
  // Worker teardown: orphans live leases, deregisters and unmaps every block.
  void Teardown();

  static size_t CapacityFor(size_t length);

 private:
  void Trim();
  void Roll(uint64_t now_ms);
  void ArmTimer(uint64_t now_ms);
  uint64_t Budget() const;
  PoolBlock* NewBlock(Napi::Env env, size_t cap, bool shared);
  // The idle list of a block's kind: capacities are page multiples, so the low bit tells the kinds apart.
  static size_t IdleKey(size_t cap, bool shared) { return cap | (shared ? 1 : 0); }
  void TrimBlock(PoolBlock* b);

  ucp_context_h context_;
  uint64_t* mem_maps_;
  uv_loop_t* loop_;
  uv_timer_t* timer_ = nullptr;
  uint64_t max_idle_bytes_ = 256ull << 20;
  uint64_t window_ms_ = 5000;
  uint64_t window_start_ = 0;
  uint64_t peak_cur_ = 0;   // highest in-use bytes in the current window
  uint64_t peak_prev_ = 0;  // ... in the previous one
  uint64_t resident_idle_bytes_ = 0;  // idle and not trimmed
  bool ucx_alloc_ = false;
  PoolStats stats_;
  std::vector<PoolBlock*> blocks_;  // every block, for teardown
  std::map<size_t, std::vector<PoolBlock*>> idle_;  // by capacity; resident blocks at the back, MRU last
  std::list<PoolBlock*> lru_;  // resident idle blocks, least recently returned first
  std::unordered_set<PoolLease*> leases_;  // live leases (block not yet returned or lease not yet freed)
  std::unordered_map<const uint8_t*, PoolLease*> out_;  // leases not yet returned, by block base
};

}  // namespace pxs
