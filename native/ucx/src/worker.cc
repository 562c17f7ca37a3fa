#include "worker.h"

#include "addon_data.h"
#include "buffers.h"
#include "copy.h"
#include "endpoint.h"
#include "listener.h"
#include "memory.h"
#include "shm.h"
#include "status.h"

#include <poll.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace pxs {

namespace {

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// How long one progress cycle from libuv may run before it yields to the loop.
constexpr double kCycleBudgetMs = 5.0;

// The longest poll window PROXYSTORE_UCX_POLL_US may set: a second of a core after each message.
constexpr double kMaxPollUs = 1e6;

template <typename Handle>
void CloseHandle(Handle* h) {
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<Handle*>(x); });
}
}  // namespace

Worker* Worker::Get(Napi::Env env) {
  AddonData* data = Data(env);
  if (data->worker == nullptr) data->worker = new Worker(env);
  return data->worker;
}

Worker::Worker(Napi::Env env) : env_(env) {
  if (const char* v = std::getenv("PROXYSTORE_UCX_POLL_US"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    double us = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(us >= 0) || us > kMaxPollUs) {
      Napi::Error err = Napi::Error::New(env, std::string("PROXYSTORE_UCX_POLL_US must be a number of microseconds from 0 to ") +
                                                  std::to_string(static_cast<int>(kMaxPollUs)) + ", not '" + v + "'");
      err.Set("code", Napi::String::New(env, kError));
      throw err;
    }
    poll_ms_ = us / 1000.0;
  }
  if (std::string copy_error = CopyConfigError(); !copy_error.empty()) {
    Napi::Error err = Napi::Error::New(env, copy_error);
    err.Set("code", Napi::String::New(env, kError));
    throw err;
  }
  try {
    context_ = Context::Acquire();
  } catch (const std::exception& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, kError));
    throw err;
  }
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  // Only this JS thread touches the worker, so UCX can skip its locks.
  params.thread_mode = UCS_THREAD_MODE_SINGLE;
  Check(env, ucp_worker_create(context_->handle(), &params, &handle_), "ucp_worker_create");
  ucs_status_t status = ucp_worker_get_efd(handle_, &efd_);
  if (status != UCS_OK) {
    ucp_worker_destroy(handle_);
    Check(env, status, "ucp_worker_get_efd");
  }
  InstallAmSink();
  if (napi_get_uv_event_loop(env, &loop_) != napi_ok) {
    ucp_worker_destroy(handle_);
    throw Napi::Error::New(env, "no libuv loop for this environment");
  }
  poll_ = new uv_poll_t;
  uv_poll_init(loop_, poll_, efd_);
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int, int) { static_cast<Worker*>(h->data)->Cycle(false); });
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  idle_ = new uv_idle_t;
  uv_idle_init(loop_, idle_);
  idle_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(idle_));
  async_ = std::make_unique<Napi::AsyncContext>(env, "ProxyStoreUcxWorker");
  pool_ = std::make_unique<Pool>(context_->handle(), &stats_.mem_maps, loop_);
  peer_maps_ = std::make_unique<PeerMaps>(&stats_.peer_reads, &stats_.peer_writes, &stats_.peer_maps);
  napi_add_env_cleanup_hook(env, Cleanup, this);
  Kick();  // the first cycle arms the event fd
}

Worker::~Worker() = default;

void Worker::Cleanup(void* arg) {
  auto* self = static_cast<Worker*>(arg);
  self->Teardown();
  if (AddonData* data = Data(self->env_)) data->worker = nullptr;
  delete self;
}

void Worker::Teardown() {
  tearing_down_ = true;
  // Endpoints first (their rkeys go with them), then listeners and registrations, then the worker.
  std::vector<void*> closing;
  for (auto& [ep, endpoint] : std::unordered_map<ucp_ep_h, Endpoint*>(endpoints_)) {
    endpoint->Release();
  }
  for (Listener* l : std::unordered_set<Listener*>(listeners_)) l->Release();
  for (MemoryRegion* r : std::unordered_set<MemoryRegion*>(regions_)) r->Release();
  // Pool blocks still held by JS buffers are unmapped too: no JS runs in this environment any more.
  pool_->Teardown();
  peer_maps_->Clear();
  for (auto& [key, entry] : reg_cache_) ucp_mem_unmap(context_->handle(), entry.memh);
  reg_cache_.clear();
  // Forced closes complete outstanding requests; give UCX a bounded number of turns to finish them.
  for (int i = 0; i < 1000 && ucp_worker_progress(handle_) != 0; ++i) {
  }
  ucp_worker_destroy(handle_);
  handle_ = nullptr;

  // The pool is gone: leases still held here only need deleting.
  for (Event& ev : events_) {
    std::free(ev.data);
    if (ev.lease != nullptr) Pool::End(ev.lease);
  }
  events_.clear();
  for (RndvRecv* r : rndv_to_start_) {
    std::free(r->data);
    delete r;
  }
  for (RndvRecv* r : rndv_pending_) {
    std::free(r->data);
    if (r->lease != nullptr) Pool::End(r->lease);
    delete r;
  }
  rndv_to_start_.clear();
  rndv_pending_.clear();
  // Promises of operations still running are never settled: the environment is going away.
  for (Op* op : ops_) {
    if (op->timer != nullptr) CloseHandle(op->timer);
    delete op;
  }
  ops_.clear();
  am_slots_.clear();
  graveyard_.clear();
  uv_poll_stop(poll_);
  CloseHandle(poll_);
  uv_idle_stop(idle_);
  CloseHandle(idle_);
  async_.reset();
  context_.reset();
}

// ---- progress ----

void Worker::Kick() {
  if (!tearing_down_) {
    uv_idle_start(idle_, [](uv_idle_t* h) { static_cast<Worker*>(h->data)->Cycle(false); });
  }
}

unsigned Worker::ProgressFromJs() {
  unsigned before = static_cast<unsigned>(stats_.progress_calls);
  Cycle(true);
  return static_cast<unsigned>(stats_.progress_calls) - before;
}

void Worker::Cycle(bool from_js) {
  if (in_cycle_ || tearing_down_) return;
  in_cycle_ = true;
  // A turn of the poll window is not a wakeup: the worker never slept.
  if (!from_js && !polling_) ++stats_.wakeups;
  Napi::HandleScope handle_scope(env_);
  // From libuv, JS must run inside a callback scope so that promise reactions run when we return.
  std::optional<Napi::CallbackScope> callback_scope;
  if (!from_js) callback_scope.emplace(env_, *async_);
  // Bounded: a transport that reports progress on every call (or a worker that never arms) must not
  // hold the event loop, or no timer (the operations' timeouts included) would ever fire. Past the
  // budget the idle handle stays on and the next loop iteration, after timers and I/O, goes on.
  const double until = NowMs() + kCycleBudgetMs;
  const uint64_t calls_before = stats_.progress_calls;
  bool dispatched = false;
  bool polling = false;
  bool armed = false;
  for (;;) {
    while (ucp_worker_progress(handle_) != 0) {
      ++stats_.progress_calls;
      if (NowMs() > until) break;
    }
    StartRndvRecvs();
    if (!events_.empty()) {
      Dispatch();
      dispatched = true;
      if (NowMs() > until) break;
      continue;  // JS may have posted work: progress it before arming
    }
    double now = NowMs();
    if (now > until) break;
    if (poll_ms_ > 0) {
      // The poll window: for poll_ms_ after the last activity the worker is not armed, and the event loop
      // comes back here on every turn (the idle handle) instead of sleeping in epoll. A peer that sends
      // to an armed worker must wake it (a syscall, and on a VM an interrupt to another vCPU: 45-100 us
      // per message measured here); to a polling one it just writes.
      if (dispatched || from_js || stats_.progress_calls != calls_before) last_active_ms_ = now;
      if (now - last_active_ms_ < poll_ms_) {
        polling = true;
        break;
      }
    }
    if (ucp_worker_arm(handle_) == UCS_ERR_BUSY) continue;
    armed = true;
    break;  // armed: the event fd wakes us for anything new
  }
  if (armed) {
    uv_idle_stop(idle_);
  } else {
    if (polling) {
      ++stats_.polls;
    } else {
      ++stats_.yields;
    }
    Kick();  // from the event fd the idle handle may be off: the next iteration goes on
  }
  polling_ = polling;
  graveyard_.clear();
  in_cycle_ = false;
}

void Worker::Dispatch() {
  while (!events_.empty() && !tearing_down_) {
    Event ev = std::move(events_.front());
    events_.pop_front();
    Napi::HandleScope scope(env_);
    DispatchOne(ev);
  }
}

void Worker::CallJs(const Napi::Function& fn, const std::vector<napi_value>& args) {
  try {
    fn.Call(env_.Undefined(), args);
  } catch (const Napi::Error& e) {
    // A throwing user callback is an uncaught exception, as for any event emitter.
    napi_fatal_exception(env_, e.Value());
  }
}

void Worker::DispatchOne(Event& ev) {
  switch (ev.kind) {
    case Event::kOpDone: {
      Op* op = ev.op;
      op->ucx_done = true;
      Settle(op, ev.status);
      MaybeDelete(op);
      break;
    }
    case Event::kAm: {
      ++stats_.am_received;
      if (ev.rndv) ++stats_.am_rndv_received;
      auto it = am_slots_.find(ev.id);
      if (it == am_slots_.end() || it->second->fn.IsEmpty()) {
        std::free(ev.data);
        if (ev.lease != nullptr) DropLease(ev.lease);
        break;
      }
      Napi::Object args = AmArgs(ev);
      CallJs(it->second->fn.Value(), {args.Get("header"), args.Get("data"), args.Get("info")});
      break;
    }
    case Event::kEpError:
      ev.endpoint->HandleError(ev.status);
      break;
    case Event::kConnRequest:
      ev.listener->Accept(ev.conn_request);
      break;
  }
}

// ---- operations ----

Op* Worker::NewOp(Op::Kind kind, const char* what, Endpoint* endpoint, double timeout_ms) {
  Op* op = new Op(this, kind, env_);
  op->what = what;
  op->endpoint = endpoint;
  ops_.insert(op);
  Ref();
  if (timeout_ms > 0) {
    op->timer = new uv_timer_t;
    uv_timer_init(loop_, op->timer);
    op->timer->data = op;
    uv_timer_start(op->timer, OnTimer, static_cast<uint64_t>(timeout_ms), 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(op->timer));
  }
  return op;
}

Napi::Promise Worker::Start(Op* op, ucs_status_ptr_t ptr) {
  Napi::Promise promise = op->deferred.Promise();
  if (ptr == nullptr) {
    op->ucx_done = true;
    Settle(op, UCS_OK);
  } else if (UCS_PTR_IS_ERR(ptr)) {
    op->ucx_done = true;
    Settle(op, UCS_PTR_STATUS(ptr));
  } else {
    op->request = ptr;
    Kick();
  }
  MaybeDelete(op);
  return promise;
}

void Worker::OnSendComplete(void* request, ucs_status_t status, void* user_data) {
  auto* op = static_cast<Op*>(user_data);
  op->request = nullptr;
  ucp_request_free(request);
  if (op->sync && !op->abandoned) {
    // getSync's own completion: seen by WaitSync's loop, never by the JS event queue.
    op->sync_done = true;
    op->sync_status = status;
    return;
  }
  Event ev{};
  ev.kind = Event::kOpDone;
  ev.op = op;
  ev.status = status;
  op->worker->Post(std::move(ev));
}

void Worker::OnTimer(uv_timer_t* timer) {
  auto* op = static_cast<Op*>(timer->data);
  Worker* self = op->worker;
  Napi::HandleScope handle_scope(self->env_);
  Napi::CallbackScope callback_scope(self->env_, *self->async_);
  self->Settle(op, UCS_ERR_TIMED_OUT);
  // Best effort: the request keeps its buffers pinned until UCX gives it back.
  if (op->request != nullptr) ucp_request_cancel(self->handle_, op->request);
  if (op->kind == Op::kConnect && op->endpoint != nullptr) op->endpoint->BeginClose(true, nullptr);
  self->Kick();
}

void Worker::Settle(Op* op, ucs_status_t status) {
  if (op->settled) return;
  op->settled = true;
  if (op->timer != nullptr) uv_timer_stop(op->timer);
  Unref();
  Napi::Env env = env_;
  if (status == UCS_OK || op->kind == Op::kClose) {
    Napi::Value value = env.Undefined();
    // A completed operation proves wireup (endpoints from connectAddressSync start 'connecting').
    if (op->endpoint != nullptr && op->kind != Op::kClose) op->endpoint->SetConnected();
    if (op->kind == Op::kConnect) {
      value = op->endpoint->Value();
    }
    op->deferred.Resolve(value);
    return;
  }
  bool connecting = op->kind == Op::kConnect || (op->endpoint != nullptr && op->endpoint->connecting());
  ucs_status_t reported = status;
  // Requests cut short by a failed endpoint report why the endpoint failed.
  if (status != UCS_ERR_TIMED_OUT && op->endpoint != nullptr && op->endpoint->failed() != UCS_OK) {
    reported = op->endpoint->failed();
  }
  const char* code = CodeFor(reported, connecting);
  op->deferred.Reject(MakeError(env, code, reported, op->what).Value());
  if (op->kind == Op::kConnect && op->endpoint != nullptr && status != UCS_ERR_TIMED_OUT) {
    op->endpoint->BeginClose(true, nullptr);
  }
}

void Worker::MaybeDelete(Op* op) {
  if (!op->ucx_done || !op->settled) return;
  ops_.erase(op);
  if (op->timer != nullptr) CloseHandle(op->timer);
  if (op->region != nullptr) op->region->Unpin();
  delete op;
}

// ---- blocking mode ----

ucs_status_t Worker::Block(Endpoint* endpoint, double timeout_ms, const std::function<bool()>& done) {
  double deadline = timeout_ms > 0 ? NowMs() + timeout_ms : 0;
  ucs_status_t status = UCS_OK;
  for (;;) {
    if (done()) break;
    // The endpoint failed (UCX called its error handler during progress): in errorMode 'none' UCX
    // keeps its requests, so end the wait here, as a timeout would.
    if (endpoint != nullptr && endpoint->failed() != UCS_OK) {
      status = endpoint->failed();
      break;
    }
    // Checked on every turn: a transport that reports progress on every call must not outlast it.
    if (deadline > 0 && NowMs() >= deadline) {
      status = UCS_ERR_TIMED_OUT;
      break;
    }
    if (ucp_worker_progress(handle_) != 0) {
      ++stats_.progress_calls;
      continue;
    }
    // Pooled and rendezvous receives that arrived meanwhile are started (their events queued), and the
    // slots that asked to be served during a blocking wait handled (a fetch a peer may be blocked on).
    StartRndvRecvs();
    if (done()) break;
    DispatchDuringSync();
    int wait_ms = -1;
    if (deadline > 0) wait_ms = static_cast<int>(std::ceil(std::max(0.0, deadline - NowMs())));
    // Not armed: events arrived between progress and arm, or the fd cannot be slept on (then this
    // loop progresses, bounded by the deadline).
    if (ucp_worker_arm(handle_) != UCS_OK) continue;
    pollfd pfd{efd_, POLLIN, 0};
    if (::poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
      status = UCS_ERR_IO_ERROR;
      break;
    }
  }
  // Anything queued meanwhile (AMs, other completions, endpoint errors) is dispatched by the next cycle;
  // the fd may also have been drained by this loop, so do not wait for it to wake the loop.
  Kick();
  return status;
}

ucs_status_t Worker::WaitSync(Op* op, double timeout_ms) {
  ucs_status_t status = Block(op->endpoint, timeout_ms, [op] { return op->sync_done; });
  if (op->sync_done) return op->sync_status;
  op->abandoned = true;
  // Best effort, as in the async path: UCX keeps the request (and the region stays pinned) until it
  // gives it back; its completion then ends the op through the event queue (settled already).
  if (op->request != nullptr) ucp_request_cancel(handle_, op->request);
  op->settled = true;
  Unref();
  return status;
}

Napi::Object Worker::AmArgs(Event& ev) {
  Napi::ArrayBuffer header = Napi::ArrayBuffer::New(env_, ev.header.size());
  if (!ev.header.empty()) std::memcpy(header.Data(), ev.header.data(), ev.header.size());
  Napi::Object info = Napi::Object::New(env_);
  Napi::Value data;
  if (ev.dropped != nullptr) info.Set("dropped", Napi::String::New(env_, ev.dropped));
  if (ev.lease != nullptr) {
    // The block becomes a pooled region JS owns (release() or its buffer's collection returns it).
    Napi::Object region = MemoryRegion::FromLease(env_, this, ev.lease, ev.length);
    ev.lease = nullptr;
    info.Set("region", region);
    data = region.Get("buffer");
  } else {
    data = AdoptBuffer(env_, ev.data, ev.length);
    ev.data = nullptr;
  }
  info.Set("rndv", Napi::Boolean::New(env_, ev.rndv));
  Napi::Value reply = env_.Undefined();
  if (ev.reply_ep != nullptr) {
    Endpoint* endpoint = FindEndpoint(ev.reply_ep);
    if (endpoint == nullptr) {
      Napi::Object obj;
      endpoint = Endpoint::Create(env_, this, &obj);
      endpoint->Adopt(ev.reply_ep);
    }
    reply = endpoint->Value();
  }
  info.Set("endpoint", reply);
  Napi::Object args = Napi::Object::New(env_);
  args.Set("header", header);
  args.Set("data", data);
  args.Set("info", info);
  return args;
}

bool Worker::TakeAm(unsigned id, uint64_t tag, size_t tag_offset, Event* out) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (it->kind != Event::kAm || it->id != id || it->header.size() < tag_offset + 8) continue;
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | it->header[tag_offset + static_cast<size_t>(i)];
    if (value != tag) continue;
    *out = std::move(*it);
    events_.erase(it);
    ++stats_.am_received;
    if (out->rndv) ++stats_.am_rndv_received;
    return true;
  }
  return false;
}

void Worker::DispatchDuringSync() {
  std::vector<Event> due;
  for (auto it = events_.begin(); it != events_.end();) {
    auto slot = it->kind == Event::kAm ? am_slots_.find(it->id) : am_slots_.end();
    if (slot != am_slots_.end() && slot->second->during_sync) {
      due.push_back(std::move(*it));
      it = events_.erase(it);
    } else {
      ++it;
    }
  }
  for (Event& ev : due) {
    Napi::HandleScope scope(env_);
    DispatchOne(ev);
  }
}

Napi::Object Worker::WaitAmSync(Endpoint* endpoint, unsigned id, uint64_t tag, size_t tag_offset, double timeout_ms) {
  Event ev{};
  ucs_status_t status = Block(endpoint, timeout_ms, [&] { return TakeAm(id, tag, tag_offset, &ev); });
  if (status != UCS_OK) throw MakeError(env_, CodeFor(status, false), status, "waitAmSync");
  return AmArgs(ev);
}

void Worker::FailEndpointOps(Endpoint* endpoint) {
  // In errorMode 'peer' UCX completes these itself (it purges a failed endpoint's requests); in 'none'
  // it keeps them, and they would end only at their time limit, or never without one. Settled here as
  // a timeout settles them: the promise rejects with why the endpoint failed, and UCX keeps the request
  // (and its pinned region) until it gives it back, if it ever does (stats().pendingOps).
  std::vector<Op*> failing;
  for (Op* op : ops_) {
    if (op->endpoint == endpoint && !op->settled && !op->sync && op->kind != Op::kClose) failing.push_back(op);
  }
  for (Op* op : failing) {
    Settle(op, endpoint->failed());
    if (op->request != nullptr) ucp_request_cancel(handle_, op->request);
    MaybeDelete(op);
  }
}

void Worker::FinishSync(Op* op) {
  op->ucx_done = true;
  if (!op->settled) {
    op->settled = true;
    Unref();
  }
  MaybeDelete(op);
}

// ---- memory registration ----

ucp_mem_h Worker::MemMap(Napi::Env env, void* address, size_t length) {
  ucp_mem_map_params_t params{};
  params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                      UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE;
  params.address = address;
  params.length = length;
  params.memory_type = UCS_MEMORY_TYPE_HOST;
  ucp_mem_h memh = nullptr;
  ++stats_.mem_maps;
  Check(env, ucp_mem_map(context_->handle(), &params, &memh), "ucp_mem_map");
  return memh;
}

ucp_mem_h Worker::RegAcquire(Napi::Env env, uint8_t* address, size_t length) {
  auto key = std::make_pair(reinterpret_cast<uintptr_t>(address), length);
  auto it = reg_cache_.find(key);
  if (it != reg_cache_.end()) {
    ++it->second.refs;
    ++stats_.reg_cache_hits;
    return it->second.memh;
  }
  ucp_mem_h memh = MemMap(env, address, length);
  reg_cache_.emplace(key, RegEntry{memh, 1});
  return memh;
}

void Worker::RegRelease(uint8_t* address, size_t length) {
  auto it = reg_cache_.find(std::make_pair(reinterpret_cast<uintptr_t>(address), length));
  if (it == reg_cache_.end()) return;
  if (--it->second.refs == 0) {
    ucp_mem_unmap(context_->handle(), it->second.memh);
    reg_cache_.erase(it);
  }
}

// ---- active messages ----

unsigned AmId(Napi::Env env, Napi::Value value, const char* what) {
  double id = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(id >= 0 && id <= kMaxAmId && id == static_cast<double>(static_cast<unsigned>(id)))) {
    throw Napi::TypeError::New(env, std::string(what) + ": id must be an integer in 0.." + std::to_string(kMaxAmId));
  }
  return static_cast<unsigned>(id);
}

// UCX 1.13 keeps one handler entry per AM id, in an array as long as the highest id registered, and its
// receive path for messages with a reply endpoint (every amSend of ours) indexes that array without a
// bounds check: a message for an id above the highest registered one crashed this process (SIGSEGV in
// ucp_am_handler_reply). Registering the highest id there is makes the array span every id, so such a
// message meets an empty entry, which UCX drops with a warning; the highest id itself gets this handler,
// which drops too (until setAmHandler claims it). The array costs about 1.5 MiB per worker.
void Worker::InstallAmSink() {
  ucp_am_handler_param_t p{};
  p.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG |
                 UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
  p.id = kMaxAmId;
  p.flags = UCP_AM_FLAG_WHOLE_MSG;
  p.cb = OnUnclaimedAm;
  p.arg = this;
  ucs_status_t status = ucp_worker_set_am_recv_handler(handle_, &p);
  if (status != UCS_OK) {
    ucp_worker_destroy(handle_);
    handle_ = nullptr;
    Check(env_, status, "ucp_worker_set_am_recv_handler");
  }
}

ucs_status_t Worker::OnUnclaimedAm(void* arg, const void*, size_t, void*, size_t, const ucp_am_recv_param_t*) {
  // Returning UCS_OK without receiving drops the data; a rendezvous sender is still released by UCX.
  ++static_cast<Worker*>(arg)->stats_.am_dropped;
  return UCS_OK;
}

ucs_status_t Worker::OnAm(void* arg, const void* header, size_t header_length, void* data, size_t length,
                          const ucp_am_recv_param_t* param) {
  auto* slot = static_cast<AmSlot*>(arg);
  Worker* self = slot->worker;
  ucp_ep_h reply = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : nullptr;
  const auto* h = static_cast<const uint8_t*>(header);
  bool rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
  if (slot->pooled) {
    // The block is acquired after progress returns (StartRndvRecvs): the pool may map memory and report
    // errors as JS exceptions, neither of which belongs inside a UCX callback. Eager data stays in UCX's
    // buffer until then (the handler is registered with UCP_AM_FLAG_PERSISTENT_DATA).
    auto* r = new RndvRecv{self, slot->id, std::vector<uint8_t>(h, h + header_length), nullptr, nullptr, length, reply};
    r->pooled = true;
    r->rndv = rndv;
    if (rndv || ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) && data != nullptr)) {
      r->desc = data;
    } else if (length > 0) {
      // UCX did not let us keep its buffer: one extra copy of a small message.
      r->data = static_cast<uint8_t*>(AlignedAlloc(length));
      if (r->data == nullptr) {
        self->PostDropped(r, "no-memory");
        delete r;
        return UCS_OK;
      }
      std::memcpy(r->data, data, length);
    }
    self->rndv_to_start_.push_back(r);
    return r->desc != nullptr ? UCS_INPROGRESS : UCS_OK;
  }
  if (rndv) {
    // The receive is started after progress returns (StartRndvRecvs), into memory we allocate.
    auto* r = new RndvRecv{self, slot->id, std::vector<uint8_t>(h, h + header_length), data, nullptr, length, reply};
    self->rndv_to_start_.push_back(r);
    return UCS_INPROGRESS;
  }
  Event ev{};
  ev.kind = Event::kAm;
  ev.id = slot->id;
  ev.header.assign(h, h + header_length);
  ev.length = length;
  ev.reply_ep = reply;
  if (length > 0) {
    ev.data = static_cast<uint8_t*>(AlignedAlloc(length));
    if (ev.data == nullptr) return UCS_OK;  // out of memory: drop the message
    std::memcpy(ev.data, data, length);
  }
  self->Post(std::move(ev));
  return UCS_OK;
}

void Worker::StartRndvRecvs() {
  if (rndv_to_start_.empty()) return;
  std::vector<RndvRecv*> batch;
  batch.swap(rndv_to_start_);
  for (RndvRecv* r : batch) {
    if (r->pooled) {
      StartPooledRecv(r);
      continue;
    }
    r->data = static_cast<uint8_t*>(AlignedAlloc(r->length));
    if (r->data == nullptr) {
      ucp_am_data_release(handle_, r->desc);
      delete r;
      continue;
    }
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
    p.cb.recv_am = OnRndvComplete;
    p.user_data = r;
    p.memory_type = UCS_MEMORY_TYPE_HOST;
    ucs_status_ptr_t ptr = ucp_am_recv_data_nbx(handle_, r->desc, r->data, r->length, &p);
    if (ptr == nullptr) {
      OnRndvComplete(nullptr, UCS_OK, r->length, r);
    } else if (UCS_PTR_IS_ERR(ptr)) {
      std::free(r->data);
      delete r;
    } else {
      rndv_pending_.insert(r);
    }
  }
}

void Worker::DropLease(PoolLease* lease) {
  // Never handed to JS (no buffer was made over it): straight back to the pool.
  if (lease->pool != nullptr) lease->pool->Return(lease);
  Pool::End(lease);
}

namespace {
uint64_t ReadU64Le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

Worker::Event Worker::AmEventOf(RndvRecv* r) {
  Event ev{};
  ev.kind = Event::kAm;
  ev.id = r->id;
  ev.header = std::move(r->header);
  ev.reply_ep = r->reply_ep;
  ev.rndv = r->rndv;
  return ev;
}

void Worker::PostDropped(RndvRecv* r, const char* why) {
  ++stats_.am_dropped;
  auto it = am_slots_.find(r->id);
  if (it == am_slots_.end() || it->second->fn.IsEmpty() || tearing_down_) return;
  Event ev = AmEventOf(r);
  ev.dropped = why;
  Post(std::move(ev));
}

void Worker::StartPooledRecv(RndvRecv* r) {
  auto it = am_slots_.find(r->id);
  PoolLease* lease = nullptr;
  size_t offset = 0;
  r->block_length = r->length;
  const char* refused = nullptr;
  if (it != am_slots_.end() && it->second->placed) {
    // Placed: the header names the block and where the data goes; anything inconsistent is dropped.
    if (r->header.size() < 16) {
      refused = "malformed";
    } else {
      uint64_t block = ReadU64Le(r->header.data());
      uint64_t at = ReadU64Le(r->header.data() + 8);
      if (at > block || r->length > block - at) {
        refused = "malformed";
      } else if (block > it->second->max_block) {
        refused = "too-large";
      } else {
        r->block_length = static_cast<size_t>(block);
        offset = static_cast<size_t>(at);
      }
    }
  }
  if (refused == nullptr && it != am_slots_.end() && !it->second->fn.IsEmpty() && !tearing_down_) {
    try {
      lease = pool_->Acquire(env_, r->block_length, it->second->shared);
    } catch (...) {
      lease = nullptr;  // out of memory or ucp_mem_map failed: drop the message, below
      refused = "no-memory";
    }
  }
  if (lease == nullptr) {
    // Nobody takes it, or no block: drop it. Releasing a rendezvous descriptor lets the sender complete.
    if (r->desc != nullptr) ucp_am_data_release(handle_, r->desc);
    std::free(r->data);
    PostDropped(r, refused != nullptr ? refused : "no-memory");
    delete r;
    return;
  }
  uint8_t* block = lease->block->base + offset;
  if (!r->rndv) {
    if (r->length > 0) std::memcpy(block, r->desc != nullptr ? r->desc : r->data, r->length);
    if (r->desc != nullptr) ucp_am_data_release(handle_, r->desc);
    std::free(r->data);
    Event ev = AmEventOf(r);
    ev.length = r->block_length;
    ev.lease = lease;
    Post(std::move(ev));
    delete r;
    return;
  }
  r->lease = lease;
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
  p.cb.recv_am = OnRndvComplete;
  p.user_data = r;
  p.memory_type = UCS_MEMORY_TYPE_HOST;
  if (lease->block->memh != nullptr) {
    // The block is registered already: UCX need not register (or look up) the receive buffer.
    p.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    p.memh = lease->block->memh;
  }
  // UCX owns the descriptor from here on, whether the receive starts or not.
  ucs_status_ptr_t ptr = ucp_am_recv_data_nbx(handle_, r->desc, block, r->length, &p);
  if (ptr == nullptr) {
    OnRndvComplete(nullptr, UCS_OK, r->length, r);
  } else if (UCS_PTR_IS_ERR(ptr)) {
    DropLease(lease);
    PostDropped(r, "receive-failed");
    delete r;
  } else {
    rndv_pending_.insert(r);
  }
}

void Worker::OnRndvComplete(void* request, ucs_status_t status, size_t length, void* user_data) {
  auto* r = static_cast<RndvRecv*>(user_data);
  Worker* self = r->worker;
  self->rndv_pending_.erase(r);
  if (request != nullptr) ucp_request_free(request);
  if (status == UCS_OK) {
    Event ev = AmEventOf(r);
    ev.data = r->data;
    ev.length = r->lease != nullptr ? r->block_length : length;  // pooled: the whole block is the region
    ev.lease = r->lease;
    self->Post(std::move(ev));
  } else {
    std::free(r->data);
    if (r->lease != nullptr) {
      self->DropLease(r->lease);
      r->lease = nullptr;
      self->PostDropped(r, "receive-failed");
    } else {
      ++self->stats_.am_dropped;
    }
  }
  delete r;
}

void Worker::SetAmHandler(unsigned id, Napi::Value fn, bool pooled, bool placed, uint64_t max_block, bool shared,
                          bool during_sync) {
  auto it = am_slots_.find(id);
  if (it == am_slots_.end() || it->second->pooled != pooled) {
    std::unique_ptr<AmSlot> slot;
    if (it == am_slots_.end()) {
      slot = std::make_unique<AmSlot>();
      slot->worker = this;
      slot->id = id;
    }
    AmSlot* s = it == am_slots_.end() ? slot.get() : it->second.get();
    ucp_am_handler_param_t p{};
    p.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG |
                   UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
    p.id = id;
    // Pooled slots keep eager data in UCX's buffer until the block is acquired (StartPooledRecv).
    p.flags = UCP_AM_FLAG_WHOLE_MSG | (pooled ? UCP_AM_FLAG_PERSISTENT_DATA : 0);
    p.cb = OnAm;
    p.arg = s;
    Check(env_, ucp_worker_set_am_recv_handler(handle_, &p), "ucp_worker_set_am_recv_handler");
    // Messages already queued keep the mode they arrived under (RndvRecv::pooled).
    s->pooled = pooled;
    if (slot) it = am_slots_.emplace(id, std::move(slot)).first;
  }
  it->second->placed = pooled && placed;
  it->second->max_block = max_block;
  it->second->shared = shared;
  it->second->during_sync = during_sync;
  // The UCX handler stays registered (UCX keeps `arg`); without a JS function messages are dropped.
  if (fn.IsFunction()) {
    it->second->fn = Napi::Persistent(fn.As<Napi::Function>());
  } else {
    it->second->fn.Reset();
  }
}

Napi::Value Worker::Address(Napi::Env env) {
  ucp_address_t* address = nullptr;
  size_t length = 0;
  Check(env, ucp_worker_get_address(handle_, &address, &length), "ucp_worker_get_address");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, length);
  std::memcpy(out.Data(), address, length);
  ucp_worker_release_address(handle_, address);
  return out;
}

// ---- registries and events ----

void Worker::AddEndpoint(ucp_ep_h ep, Endpoint* endpoint) { endpoints_[ep] = endpoint; }

void Worker::RemoveEndpoint(ucp_ep_h ep, Endpoint* endpoint) {
  auto it = endpoints_.find(ep);
  if (it != endpoints_.end() && it->second == endpoint) endpoints_.erase(it);
}

Endpoint* Worker::FindEndpoint(ucp_ep_h ep) {
  auto it = endpoints_.find(ep);
  return it == endpoints_.end() ? nullptr : it->second;
}

void Worker::Ref() {
  if (refs_++ == 0 && poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
}

void Worker::Unref() {
  if (--refs_ == 0 && poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
}

void Worker::PostEndpointError(Endpoint* endpoint, ucs_status_t status) {
  Event ev{};
  ev.kind = Event::kEpError;
  ev.endpoint = endpoint;
  ev.status = status;
  Post(std::move(ev));
}

void Worker::PostConnRequest(Listener* listener, ucp_conn_request_h request) {
  Event ev{};
  ev.kind = Event::kConnRequest;
  ev.listener = listener;
  ev.conn_request = request;
  Post(std::move(ev));
}

Napi::Value Worker::Stats(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("wakeups", Napi::Number::New(env, static_cast<double>(stats_.wakeups)));
  o.Set("polls", Napi::Number::New(env, static_cast<double>(stats_.polls)));
  o.Set("pollUs", Napi::Number::New(env, poll_ms_ * 1000.0));
  o.Set("progressCalls", Napi::Number::New(env, static_cast<double>(stats_.progress_calls)));
  o.Set("yields", Napi::Number::New(env, static_cast<double>(stats_.yields)));
  o.Set("amReceived", Napi::Number::New(env, static_cast<double>(stats_.am_received)));
  o.Set("amRndvReceived", Napi::Number::New(env, static_cast<double>(stats_.am_rndv_received)));
  o.Set("amDropped", Napi::Number::New(env, static_cast<double>(stats_.am_dropped)));
  o.Set("endpoints", Napi::Number::New(env, static_cast<double>(endpoints_.size())));
  o.Set("listeners", Napi::Number::New(env, static_cast<double>(listeners_.size())));
  o.Set("regions", Napi::Number::New(env, static_cast<double>(regions_.size())));
  o.Set("pendingOps", Napi::Number::New(env, static_cast<double>(ops_.size())));
  o.Set("refs", Napi::Number::New(env, refs_));
  auto num = [&](const char* name, uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
  num("memMaps", stats_.mem_maps);
  num("regCacheHits", stats_.reg_cache_hits);
  num("peerReads", stats_.peer_reads);
  num("peerWrites", stats_.peer_writes);
  num("peerMaps", stats_.peer_maps);
  num("peerMapped", peer_maps_->size());
  const PoolStats& p = pool_->stats();
  num("poolHits", p.hits);
  num("poolMisses", p.misses);
  num("poolIdleBytes", p.idle_bytes);
  num("poolInUseBytes", p.in_use_bytes);
  num("poolTrimmedBytes", p.trimmed_bytes);
  o.Set("poolAllocator", Napi::String::New(env, pool_->ucx_allocates() ? "ucx" : "mmap"));
  const CopyStats c = GetCopyStats();
  num("sharedCopies", c.shared);
  num("sharedCopyBytes", c.shared_bytes);
  num("copyHelpers", c.helpers);
  o.Set("copySpinUs", Napi::Number::New(env, c.spin_us));
  return o;
}

}  // namespace pxs
