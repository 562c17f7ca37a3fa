// The copies of same-host reads and writes (shm.cc: peerRead, peerWrite), shared with a helper thread.
//
// A large memcpy on one core is bounded by what one core can keep in flight: 13-16 GB/s on this
// repository's VM, where two threads copying halves of a 4 MiB block reach 30-35 GB/s. So a copy of
// kSharedCopyMin bytes or more is cut into chunks that the calling thread and a helper thread both take
// from a shared counter until none is left. The caller never waits for the helper to start: a helper that
// is asleep when the copy begins (its wakeup took about 50 µs here) joins late and takes fewer chunks, and
// one that is busy with another thread's copy takes none. The caller waits only for a chunk the helper
// has taken and not finished.
//
// One helper per process, started on the first large copy. PROXYSTORE_UCX_COPY_THREADS=0 keeps every
// copy on the calling thread (1, the default where the machine has 2 or more CPUs, uses the helper);
// PROXYSTORE_UCX_COPY_SPIN_US (0 to 1000000, default 0) keeps the helper polling that long after each
// copy before it sleeps, so that the next copy finds it awake. Read once, on the first copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pxs {

// Copies of at least this many bytes are shared with the helper.
constexpr size_t kSharedCopyMin = 2u << 20;

// memcpy of `n` bytes (regions must not overlap): from kSharedCopyMin shared with the helper and with
// streaming stores (copy.cc says why). Everything is in place and visible to other threads when it returns.
void CopyBytes(uint8_t* dst, const uint8_t* src, size_t n);

struct CopyStats {
  uint64_t shared;       // copies the helper took part in
  uint64_t shared_bytes; // bytes the helper copied
  unsigned helpers;      // helper threads configured (0 or 1)
  double spin_us;        // how long the helper polls after a copy
};

CopyStats GetCopyStats();

// Why PROXYSTORE_UCX_COPY_THREADS or PROXYSTORE_UCX_COPY_SPIN_US cannot be used (empty when they can):
// a thread's first UCX call then fails with UCX_ERROR, as for PROXYSTORE_UCX_POLL_US.
std::string CopyConfigError();

}  // namespace pxs
