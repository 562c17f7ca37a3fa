// Same-host reads without UCX. Over UCX 1.13's shared-memory transports a ucp_get of memory the addon
// mapped itself is emulated with active messages (no CMA for it), so the owner's worker must wake and
// answer every fragment: a stopped or busy owner stalls its readers. Pool blocks are therefore backed by
// a memfd (pool.cc), and a reader on the same host opens the owner's fd through /proc/<pid>/fd/<n>, maps
// it read-only and copies with memcpy: truly one-sided, the owner's CPU does nothing.
//
// The reader keeps its mappings (LRU, per worker): the pages of a mapped block stay alive even after its
// owner died, so a read from a dead owner whose block is mapped here still succeeds when the bytes (their
// nonces) still hold the object. Identity checks happen on a miss only: the owner's start time (a reused
// pid names another process), the file's inode (a reused fd number names another block) and its size.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <tuple>
#include <vector>

namespace pxs {

// PROXYSTORE_UCX_SHM=0: pool blocks are anonymous memory again (no memfd, no same-host reads of them).
bool ShmBlocksEnabled();

// Per-worker cache of mappings of peers' memfd blocks: read-only ones for peerRead, writable ones for
// peerWrite (a producer filling a block its same-host daemon lent it: server.ts, reservations).
class PeerMaps {
 public:
  static constexpr size_t kMaxMappings = 256;

  PeerMaps(uint64_t* reads, uint64_t* writes, uint64_t* maps) : reads_(reads), writes_(writes), maps_(maps) {}
  ~PeerMaps() { Clear(); }

  // Copies `length` bytes at `offset` of the owner's file to `dst`; throws a JS error with `code`
  // UCX_PEER_GONE, UCX_UNREACHABLE or UCX_BAD_KEY.
  void Read(Napi::Env env, int pid, uint64_t start_time, int fd, uint64_t inode, uint64_t offset, uint8_t* dst,
            size_t length);
  // One piece of a peerWrite: `length` bytes from `src` to `offset` of the block.
  struct Piece {
    uint64_t offset;
    const uint8_t* src;
    size_t length;
  };
  // Copies every piece into the owner's file, the block starting at `base` (all checked before any is
  // copied, and the owner alive on every call, cached mapping or not); throws as Read does.
  void Write(Napi::Env env, int pid, uint64_t start_time, int fd, uint64_t inode, uint64_t base,
             const std::vector<Piece>& pieces);
  size_t size() const { return entries_.size(); }
  void Clear();

 private:
  using Key = std::tuple<int, uint64_t, int, uint64_t, bool>;  // pid, start time, fd, inode, writable
  struct Mapping {
    uint8_t* base;
    size_t length;
    std::list<Key>::iterator lru;
  };
  const Mapping& Map(Napi::Env env, const Key& key, uint64_t needed, const char* what);
  void Drop(std::map<Key, Mapping>::iterator it);

  uint64_t* reads_;
  uint64_t* writes_;
  uint64_t* maps_;
  std::map<Key, Mapping> entries_;
  std::list<Key> lru_;  // least recently used first
};

// processIdentity() -> { pid, startTime: bigint, hostId }
Napi::Value ProcessIdentity(const Napi::CallbackInfo& info);
// peerRead({ pid, startTime, fd, inode, offset }, region, regionOffset, length)
Napi::Value PeerRead(const Napi::CallbackInfo& info);
// peerWrite({ pid, startTime, fd, inode, offset }, pieces: [offset, Uint8Array][])
Napi::Value PeerWrite(const Napi::CallbackInfo& info);

}  // namespace pxs
