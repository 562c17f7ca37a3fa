// One UCP worker per JS thread (per napi_env), progressed from that thread's libuv loop: a uv_poll on
// the worker's event fd wakes us, we progress until ucp_worker_arm succeeds, then sleep. UCX callbacks
// only record events; JS is called afterwards, from Dispatch, so no JS runs inside ucp_worker_progress.
#pragma once

#include "context.h"
#include "pool.h"

#include <functional>
#include <napi.h>
#include <ucp/api/ucp.h>
#include <uv.h>

#include <deque>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pxs {

class Endpoint;
class Listener;
class MemoryRegion;
class PeerMaps;
class Worker;

// A JS-visible operation: a promise settled when UCX completes the request (or a timeout fires).
struct Op {
  enum Kind { kAmSend, kGet, kPut, kFlush, kConnect, kClose };
  Op(Worker* w, Kind k, Napi::Env env) : worker(w), kind(k), deferred(Napi::Promise::Deferred::New(env)) {}
  Worker* worker;
  Kind kind;
  Napi::Promise::Deferred deferred;
  Endpoint* endpoint = nullptr;
  MemoryRegion* region = nullptr;  // pinned while the op runs (unmap is refused)
  std::vector<Napi::ObjectReference> keep;  // JS objects whose memory UCX reads or writes
  std::vector<uint8_t> header;  // AM header copy, valid until completion
  void* request = nullptr;  // outstanding UCX request, if any
  uv_timer_t* timer = nullptr;
  bool ucx_done = false;
  bool settled = false;
  // Blocking ops (getSync): completion is recorded here, not queued as an event, unless the op was
  // abandoned (timed out), after which it ends like an async op whose promise already settled.
  bool sync = false;
  bool sync_done = false;
  bool abandoned = false;
  ucs_status_t sync_status = UCS_OK;
  const char* what = "";
};

// Counters the tests read to check behaviour (e.g. no wakeups while idle).
struct WorkerStats {
  uint64_t wakeups = 0;  // progress cycles run from libuv after the worker slept (not poll-window turns)
  uint64_t progress_calls = 0;
  uint64_t polls = 0;  // turns of the event loop spent polling inside the poll window
  uint64_t yields = 0;  // progress cycles cut short by their time budget (the loop went on first)
  uint64_t am_received = 0;
  uint64_t am_rndv_received = 0;
  uint64_t am_dropped = 0;  // messages dropped on receipt (no memory, no handler any more, receive failed)
  uint64_t mem_maps = 0;  // ucp_mem_map calls
  uint64_t reg_cache_hits = 0;
  uint64_t peer_reads = 0;  // same-host reads of a peer's memfd block (shm.h)
  uint64_t peer_writes = 0;  // same-host writes into a block a peer lent (peerWrite)
  uint64_t peer_maps = 0;   // mappings of peers' blocks made for them
};

// Active-message ids are 16-bit on the wire (UCX's AM header): setAmHandler and amSend take 0..kMaxAmId.
constexpr unsigned kMaxAmId = 0xFFFF;
// `value` as an AM id; a TypeError naming `what` unless it is an integer in 0..kMaxAmId.
unsigned AmId(Napi::Env env, Napi::Value value, const char* what);

class Worker {
 public:
  // The worker of `env`'s thread, created on first use.
  static Worker* Get(Napi::Env env);

  Napi::Env env() const { return env_; }
  ucp_worker_h handle() const { return handle_; }
  Context& context() const { return *context_; }
  const std::shared_ptr<Context>& context_ptr() const { return context_; }
  const WorkerStats& stats() const { return stats_; }
  bool tearing_down() const { return tearing_down_; }

  // Operations: `Start` hands a UCX status pointer to the op (done now, failed now, or pending).
  Op* NewOp(Op::Kind kind, const char* what, Endpoint* endpoint, double timeout_ms);
  Napi::Promise Start(Op* op, ucs_status_ptr_t ptr);
  static void OnSendComplete(void* request, ucs_status_t status, void* user_data);

  // Blocks this thread, progressing the worker (poll() on the event fd when idle), until the sync op
  // completes or `timeout_ms` (> 0) passes. Returns the op's status, or UCS_ERR_TIMED_OUT after
  // abandoning the request. Other events stay queued for the next cycle, which is scheduled.
  ucs_status_t WaitSync(Op* op, double timeout_ms);
  // Ends a sync op that completed (unpins, frees).
  void FinishSync(Op* op);
  // Progresses (sleeping on the event fd when idle) until done() holds: UCS_OK, or why it gave up: the
  // endpoint (if any) failed, the deadline (0: none) passed, or poll() failed (UCS_ERR_IO_ERROR).
  ucs_status_t Block(Endpoint* endpoint, double timeout_ms, const std::function<bool()>& done);
  // Rejects the unsettled async operations of an endpoint that failed (Endpoint::HandleError).
  void FailEndpointOps(Endpoint* endpoint);
  // Blocks, progressing as WaitSync does, until a message of slot `id` whose header holds `tag` as a
  // little-endian u64 at byte `tag_offset` has arrived (taken out of the queue, so no handler sees it),
  // `endpoint` fails, or `timeout_ms` (0: none) passes. The message's handler arguments, or throws.
  Napi::Object WaitAmSync(Endpoint* endpoint, unsigned id, uint64_t tag, size_t tag_offset, double timeout_ms);

  // Schedules a progress cycle on the loop (after posting work from a JS call).
  void Kick();
  // Runs one progress cycle now from JS; returns the number of UCX progress events.
  unsigned ProgressFromJs();

  // `pooled`: the slot's messages land in a block of this thread's pool, handed to JS as a MemoryRegion
  // (eager data copied out of UCX's buffer once, rendezvous data received straight into the block).
  // `placed` (pooled only): every message header starts with two little-endian u64, the length of the
  // block to take and the offset of the data in it; the handler gets the whole block, and writes the rest
  // of it itself (what a pushed put with its frames sent in place uses). Blocks over `max_block` bytes, or
  // data that does not fit, drop the message.
  void SetAmHandler(unsigned id, Napi::Value fn, bool pooled, bool placed = false, uint64_t max_block = 0,
                    bool shared = true, bool during_sync = false);
  Napi::Value Address(Napi::Env env);

  // Registries, for reply-endpoint lookup and teardown.
  void AddEndpoint(ucp_ep_h ep, Endpoint* endpoint);
  void RemoveEndpoint(ucp_ep_h ep, Endpoint* endpoint);
  Endpoint* FindEndpoint(ucp_ep_h ep);
  void AddListener(Listener* l) { listeners_.insert(l); }
  void RemoveListener(Listener* l) { listeners_.erase(l); }
  void AddRegion(MemoryRegion* r) { regions_.insert(r); }
  Pool& pool() { return *pool_; }
  PeerMaps& peer_maps() { return *peer_maps_; }
  // ucp_mem_map of host memory, counted in stats().memMaps; throws a JS error on failure.
  ucp_mem_h MemMap(Napi::Env env, void* address, size_t length);
  // Registration cache for memMap: the same (address, length) shares one ucp_mem_h, refcounted.
  ucp_mem_h RegAcquire(Napi::Env env, uint8_t* address, size_t length);
  void RegRelease(uint8_t* address, size_t length);
  void RemoveRegion(MemoryRegion* r) { regions_.erase(r); }

  // Keep-alive accounting: the poll handle holds the loop open while anything is open or pending.
  void Ref();
  void Unref();

  // Events recorded from UCX callbacks.
  void PostEndpointError(Endpoint* endpoint, ucs_status_t status);
  void PostConnRequest(Listener* listener, ucp_conn_request_h request);

  Napi::Value Stats(Napi::Env env);

  // Calls a user callback; a throw becomes an uncaught exception rather than unwinding into UCX.
  void CallJs(const Napi::Function& fn, const std::vector<napi_value>& args);
  // Keeps a JS object alive until the current progress cycle has dispatched every queued event (events
  // may still point at a listener or endpoint that JS just closed).
  void Bury(Napi::ObjectReference&& ref) { graveyard_.push_back(std::move(ref)); }

 private:
  struct AmSlot {
    Worker* worker;
    unsigned id;
    Napi::FunctionReference fn;
    bool pooled = false;  // what the UCX handler was registered for (UCP_AM_FLAG_PERSISTENT_DATA)
    bool placed = false;  // pooled, and the header says the block's length and where the data goes in it
    uint64_t max_block = 0;  // placed: larger blocks are refused (the message dropped)
    bool shared = true;  // pooled: blocks same-host readers may map (memfd), or private memory
    bool during_sync = false;  // its messages are dispatched inside getSync / waitAmSync too
  };
  // A message whose data is received after progress returns (StartRndvRecvs): rendezvous messages, and
  // every message of a pooled slot (the pool can only be used where an env is, not inside a callback).
  struct RndvRecv {
    Worker* worker;
    unsigned id;
    std::vector<uint8_t> header;
    void* desc;  // UCX's descriptor (rendezvous, or eager data kept with PERSISTENT_DATA); may be null
    uint8_t* data;  // receive memory (AlignedAlloc) or, pooled eager without `desc`, our copy of the data
    size_t length;
    ucp_ep_h reply_ep;
    bool rndv = true;
    PoolLease* lease = nullptr;  // pooled: the block the data lands in
    bool pooled = false;
    size_t block_length = 0;  // pooled: the region JS gets (placed: from the header; else `length`)
  };
  struct Event {
    enum Kind { kOpDone, kAm, kEpError, kConnRequest } kind;
    Op* op = nullptr;
    ucs_status_t status = UCS_OK;
    unsigned id = 0;
    std::vector<uint8_t> header;
    uint8_t* data = nullptr;
    size_t length = 0;
    ucp_ep_h reply_ep = nullptr;
    bool rndv = false;
    PoolLease* lease = nullptr;  // pooled slot: the data is this block's first `length` bytes
    // Pooled slot: why the message's data was dropped (no lease, no data), so that the handler can still
    // answer its sender: "malformed", "too-large", "no-memory" or "receive-failed". Null otherwise.
    const char* dropped = nullptr;
    Endpoint* endpoint = nullptr;
    Listener* listener = nullptr;
    ucp_conn_request_h conn_request = nullptr;
  };

  Worker(Napi::Env env);
  ~Worker();
  static void Cleanup(void* arg);
  void Teardown();

  static ucs_status_t OnAm(void* arg, const void* header, size_t header_length, void* data, size_t length,
                           const ucp_am_recv_param_t* param);
  // The handler of every id nobody registered (see InstallAmSink).
  static ucs_status_t OnUnclaimedAm(void* arg, const void* header, size_t header_length, void* data,
                                    size_t length, const ucp_am_recv_param_t* param);
  void InstallAmSink();
  static void OnRndvComplete(void* request, ucs_status_t status, size_t length, void* user_data);
  static void OnTimer(uv_timer_t* timer);

  void Cycle(bool from_js);
  void StartRndvRecvs();
  void StartPooledRecv(RndvRecv* r);
  void DropLease(PoolLease* lease);
  // The AM event of a message received through `r`: its slot, header (moved out), reply endpoint and
  // protocol; the caller adds the data.
  static Event AmEventOf(RndvRecv* r);
  // A pooled message whose data could not be taken: counted in am_dropped, and still handed to its
  // handler (header and reply endpoint, info.dropped = `why`) when the slot has one.
  void PostDropped(RndvRecv* r, const char* why);
  void Dispatch();
  void DispatchOne(Event& ev);
  void Settle(Op* op, ucs_status_t status);
  void MaybeDelete(Op* op);
  void Post(Event&& ev) { events_.push_back(std::move(ev)); }
  // The (header, data, info) a handler of the message gets; consumes ev's data or lease.
  Napi::Object AmArgs(Event& ev);
  bool TakeAm(unsigned id, uint64_t tag, size_t tag_offset, Event* out);
  // Inside a blocking wait: runs the handlers of queued messages whose slots asked for it (duringSync).
  void DispatchDuringSync();

  Napi::Env env_;
  std::shared_ptr<Context> context_;
  ucp_worker_h handle_ = nullptr;
  int efd_ = -1;
  uv_loop_t* loop_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> async_;
  bool in_cycle_ = false;
  bool tearing_down_ = false;
  int refs_ = 0;
  WorkerStats stats_;

  std::deque<Event> events_;
  std::vector<RndvRecv*> rndv_to_start_;
  std::unordered_set<RndvRecv*> rndv_pending_;
  std::unordered_set<Op*> ops_;
  // The poll window (PROXYSTORE_UCX_POLL_US): how long after the last activity the worker keeps polling
  // before it arms the event fd and sleeps; 0, the default, sleeps at once.
  double poll_ms_ = 0;
  double last_active_ms_ = -1e18;
  bool polling_ = false;  // the last cycle ended inside the poll window
  std::map<unsigned, std::unique_ptr<AmSlot>> am_slots_;
  std::unordered_map<ucp_ep_h, Endpoint*> endpoints_;
  std::unordered_set<Listener*> listeners_;
  std::unordered_set<MemoryRegion*> regions_;
  std::vector<Napi::ObjectReference> graveyard_;
  struct RegEntry {
    ucp_mem_h memh;
    int refs;
  };
  std::map<std::pair<uintptr_t, size_t>, RegEntry> reg_cache_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<PeerMaps> peer_maps_;
};

}  // namespace pxs
