#include "endpoint.h"

#include "addon_data.h"
#include "address.h"
#include "buffers.h"
#include "memory.h"
#include "status.h"

namespace pxs {

Napi::Function Endpoint::Define(Napi::Env env) {
  return DefineClass(env, "Endpoint",
                     {
                         InstanceMethod<&Endpoint::AmSend>("amSend"),
                         InstanceMethod<&Endpoint::Get>("get"),
                         InstanceMethod<&Endpoint::GetSync>("getSync"),
                         InstanceMethod<&Endpoint::WaitAmSync>("waitAmSync"),
                         InstanceMethod<&Endpoint::Put>("put"),
                         InstanceMethod<&Endpoint::Flush>("flush"),
                         InstanceMethod<&Endpoint::UnpackRkey>("unpackRkey"),
                         InstanceMethod<&Endpoint::Close>("close"),
                         InstanceMethod<&Endpoint::RefJs>("ref"),
                         InstanceMethod<&Endpoint::UnrefJs>("unref"),
                         InstanceMethod<&Endpoint::OnErrorSetter>("onError"),
                         InstanceAccessor<&Endpoint::StateGetter>("state"),
                     });
}

Endpoint* Endpoint::Create(Napi::Env env, Worker* worker, Napi::Object* out) {
  Napi::Object obj = Data(env)->endpoint_ctor.New({Napi::External<void>::New(env, nullptr)});
  Endpoint* endpoint = Unwrap(obj);
  endpoint->worker_ = worker;
  *out = obj;
  return endpoint;
}

Endpoint::Endpoint(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Endpoint>(info) {
  if (!IsInternalConstruct(info)) {
    throw Napi::TypeError::New(info.Env(), "Endpoint objects come from connect(), connectAddress() or a listener");
  }
}

Endpoint::~Endpoint() {
  for (RemoteKey* k : std::unordered_set<RemoteKey*>(rkeys_)) k->Destroy();
}

bool Endpoint::PeerErrorsOption(Napi::Value options) {
  if (!options.IsObject()) return true;
  Napi::Value mode = options.As<Napi::Object>().Get("errorMode");
  if (mode.IsUndefined()) return true;
  std::string s = mode.IsString() ? mode.As<Napi::String>().Utf8Value() : "";
  if (s == "peer") return true;
  if (s == "none") return false;
  throw Napi::TypeError::New(options.Env(), "errorMode must be 'peer' or 'none'");
}

void Endpoint::Open(ucp_ep_params_t& params, bool peer_errors) {
  params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  // PEER mode: a lost peer fails this endpoint's requests and calls OnPeerError instead of hanging.
  params.err_mode = peer_errors ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  params.err_handler.cb = OnPeerError;
  params.err_handler.arg = this;
  ucs_status_t status = ucp_ep_create(worker_->handle(), &params, &ep_);
  if (status != UCS_OK) {
    ep_ = nullptr;
    closed_ = true;
    throw MakeError(Env(), CodeFor(status, true), status, "ucp_ep_create");
  }
  worker_->AddEndpoint(ep_, this);
  self_ = Napi::Persistent(Value());
  if (wants_ref_) {
    worker_->Ref();
    refd_ = true;
  }
}

// unref()/ref(), as on sockets: an unref'd endpoint does not keep the event loop alive by being open
// (its pending operations still do, each holding its own reference). For endpoints kept in a cache.
Napi::Value Endpoint::UnrefJs(const Napi::CallbackInfo& info) {
  wants_ref_ = false;
  if (refd_ && worker_ != nullptr) {
    worker_->Unref();
    refd_ = false;
  }
  return info.This();
}

Napi::Value Endpoint::RefJs(const Napi::CallbackInfo& info) {
  wants_ref_ = true;
  if (!refd_ && ep_ != nullptr && !closed_ && worker_ != nullptr) {
    worker_->Ref();
    refd_ = true;
  }
  return info.This();
}

void Endpoint::Adopt(ucp_ep_h ep) {
  owned_ = false;
  connecting_ = false;
  ep_ = ep;
  worker_->AddEndpoint(ep_, this);
  self_ = Napi::Persistent(Value());
}

void Endpoint::OnPeerError(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* self = static_cast<Endpoint*>(arg);
  if (self->failed_ == UCS_OK) self->failed_ = status;
  if (self->worker_ != nullptr) self->worker_->PostEndpointError(self, status);
}

void Endpoint::HandleError(ucs_status_t status) {
  worker_->FailEndpointOps(this);
  if (!on_error_.IsEmpty()) {
    Napi::Error err = MakeError(Env(), CodeFor(status, connecting_), status, "endpoint failed");
    worker_->CallJs(on_error_.Value(), {err.Value()});
  }
  if (ep_ != nullptr) BeginClose(true, nullptr);
}

void Endpoint::BeginClose(bool force, Op* op) {
  if (op == nullptr) op = worker_->NewOp(Op::kClose, "close", this, 0);
  if (ep_ == nullptr) {
    worker_->Start(op, nullptr);
    return;
  }
  for (RemoteKey* k : std::unordered_set<RemoteKey*>(rkeys_)) k->Destroy();
  ucp_ep_h ep = ep_;
  worker_->RemoveEndpoint(ep, this);
  ep_ = nullptr;
  closed_ = true;
  if (refd_) {
    worker_->Unref();
    refd_ = false;
  }
  if (!owned_) {
    // UCX owns reply endpoints; we only forget ours.
    worker_->Bury(std::move(self_));
    worker_->Start(op, nullptr);
    return;
  }
  op->keep.push_back(std::move(self_));  // alive until UCX is done with OnPeerError's `arg`
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
  p.cb.send = Worker::OnSendComplete;
  p.user_data = op;
  p.flags = (force || failed_ != UCS_OK) ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  worker_->Start(op, ucp_ep_close_nbx(ep, &p));
}

void Endpoint::Release() {
  for (RemoteKey* k : std::unordered_set<RemoteKey*>(rkeys_)) k->Destroy();
  if (ep_ != nullptr && owned_) {
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    ucs_status_ptr_t req = ucp_ep_close_nbx(ep_, &p);
    if (req != nullptr && !UCS_PTR_IS_ERR(req)) {
      for (int i = 0; i < 10000 && ucp_request_check_status(req) == UCS_INPROGRESS; ++i) {
        ucp_worker_progress(worker_->handle());
      }
      ucp_request_free(req);
    }
  }
  if (ep_ != nullptr) worker_->RemoveEndpoint(ep_, this);
  ep_ = nullptr;
  closed_ = true;
  self_.Reset();
  worker_ = nullptr;
}

Napi::Value Endpoint::RejectIfUnusable(Napi::Env env, const char* what) {
  if (ep_ != nullptr && failed_ == UCS_OK) return Napi::Value();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (failed_ != UCS_OK) {
    deferred.Reject(MakeError(env, CodeFor(failed_, connecting_), failed_, what).Value());
  } else {
    Napi::Error err = Napi::Error::New(env, std::string(what) + ": endpoint is closed");
    err.Set("code", Napi::String::New(env, kClosed));
    deferred.Reject(err.Value());
  }
  return deferred.Promise();
}

// amSend(id, header, data: bytes | MemoryRegion, { protocol?: 'eager' | 'rndv', timeoutMs? }) -> Promise<void>
Napi::Value Endpoint::AmSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned id = AmId(env, info[0], "amSend");
  Bytes header = GetBytes(info[1], "amSend header", true);
  // A registered region as data: UCX sends from it with its memory handle (no registration lookup).
  MemoryRegion* region = nullptr;
  Bytes data;
  if (info[2].IsObject() && info[2].As<Napi::Object>().InstanceOf(Data(env)->region_ctor.Value())) {
    region = MemoryRegion::Unwrap(info[2].As<Napi::Object>());
    if (!region->mapped()) throw Napi::Error::New(env, "amSend: region is unmapped or released");
    data.data = region->data();
    data.length = region->length();
    data.holder = info[2].As<Napi::Object>();
  } else {
    data = GetBytes(info[2], "amSend data", true);
  }
  uint32_t flags = UCP_AM_SEND_FLAG_REPLY;
  if (info[3].IsObject()) {
    Napi::Value proto = info[3].As<Napi::Object>().Get("protocol");
    if (proto.IsString()) {
      std::string s = proto.As<Napi::String>();
      if (s == "rndv") {
        flags |= UCP_AM_SEND_FLAG_RNDV;
      } else if (s == "eager") {
        flags |= UCP_AM_SEND_FLAG_EAGER;
      } else {
        throw Napi::TypeError::New(env, "amSend: protocol must be 'eager' or 'rndv'");
      }
    }
  }
  Napi::Value rejected = RejectIfUnusable(env, "amSend");
  if (!rejected.IsEmpty()) return rejected;

  Op* op = worker_->NewOp(Op::kAmSend, "amSend", this, TimeoutOption(info[3]));
  op->header.assign(header.data, header.data + header.length);
  if (!data.holder.IsEmpty()) op->keep.push_back(Napi::Persistent(data.holder));
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS |
                   UCP_OP_ATTR_FIELD_MEMORY_TYPE;
  if (region != nullptr) {
    // Pinned while UCX reads it: release()/unmap() are refused (UCX_BUSY) until the send completes.
    region->Pin();
    op->region = region;
    p.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    p.memh = region->memh();
  }
  p.cb.send = Worker::OnSendComplete;
  p.user_data = op;
  p.flags = flags;
  p.memory_type = UCS_MEMORY_TYPE_HOST;
  return worker_->Start(op, ucp_am_send_nbx(ep_, id, op->header.data(), op->header.size(), data.data,
                                             data.length, &p));
}

Napi::Value Endpoint::Get(const Napi::CallbackInfo& info) { return Rma(info, true); }
Napi::Value Endpoint::Put(const Napi::CallbackInfo& info) { return Rma(info, false); }

// Validated arguments of get/getSync/put: (region, offset, length, remoteAddress: bigint, rkey, options).
Endpoint::RmaArgs Endpoint::ParseRma(const Napi::CallbackInfo& info, const char* what) {
  Napi::Env env = info.Env();
  AddonData* data = Data(env);
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(data->region_ctor.Value())) {
    throw Napi::TypeError::New(env, std::string(what) + ": first argument must be a MemoryRegion");
  }
  if (!info[4].IsObject() || !info[4].As<Napi::Object>().InstanceOf(data->rkey_ctor.Value())) {
    throw Napi::TypeError::New(env, std::string(what) + ": rkey must be a RemoteKey");
  }
  if (!info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsBigInt()) {
    throw Napi::TypeError::New(env, std::string(what) + ": offset and length are numbers, remoteAddress a bigint");
  }
  RmaArgs a;
  a.region = MemoryRegion::Unwrap(info[0].As<Napi::Object>());
  a.rkey = RemoteKey::Unwrap(info[4].As<Napi::Object>());
  int64_t offset = info[1].As<Napi::Number>().Int64Value();
  int64_t length = info[2].As<Napi::Number>().Int64Value();
  bool lossless = true;
  a.remote = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!a.region->mapped()) throw Napi::Error::New(env, std::string(what) + ": region is unmapped or released");
  if (offset < 0 || length < 0 || static_cast<uint64_t>(offset + length) > a.region->length()) {
    throw Napi::RangeError::New(env, std::string(what) + ": offset/length outside the region");
  }
  a.offset = static_cast<size_t>(offset);
  a.length = static_cast<size_t>(length);
  a.timeout_ms = TimeoutOption(info[5]);
  return a;
}

void Endpoint::CheckRkey(Napi::Env env, RemoteKey* rkey, const char* what) {
  if (rkey->handle() == nullptr || rkeys_.count(rkey) == 0) {
    throw Napi::Error::New(env, std::string(what) + ": rkey is destroyed or belongs to another endpoint");
  }
}

// get|put(region, offset, length, remoteAddress: bigint, rkey, { timeoutMs? }) -> Promise<void>
Napi::Value Endpoint::Rma(const Napi::CallbackInfo& info, bool is_get) {
  Napi::Env env = info.Env();
  const char* what = is_get ? "get" : "put";
  RmaArgs a = ParseRma(info, what);
  Napi::Value rejected = RejectIfUnusable(env, what);
  if (!rejected.IsEmpty()) return rejected;
  CheckRkey(env, a.rkey, what);

  Op* op = worker_->NewOp(is_get ? Op::kGet : Op::kPut, what, this, a.timeout_ms);
  op->keep.push_back(Napi::Persistent(info[0].As<Napi::Object>()));
  op->keep.push_back(Napi::Persistent(info[4].As<Napi::Object>()));
  op->region = a.region;
  a.region->Pin();
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMH;
  p.cb.send = Worker::OnSendComplete;
  p.user_data = op;
  p.memh = a.region->memh();
  void* local = a.region->data() + a.offset;
  ucs_status_ptr_t ptr = is_get ? ucp_get_nbx(ep_, local, a.length, a.remote, a.rkey->handle(), &p)
                                : ucp_put_nbx(ep_, local, a.length, a.remote, a.rkey->handle(), &p);
  return worker_->Start(op, ptr);
}

// waitAmSync(id, tag: bigint, { tagOffset? = 8, timeoutMs? }) -> { header, data, info }: blocks until a
// message of slot `id` whose header holds `tag` (u64 LE at tagOffset) arrives, as its handler would have
// got it (the handler does not); throws UCX_TIMEOUT, or why this endpoint failed. For a reply to a
// request sent on this endpoint, awaited without returning to the event loop (a fetch in getSync).
Napi::Value Endpoint::WaitAmSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned id = AmId(env, info[0], "waitAmSync");
  if (!info[1].IsBigInt()) throw Napi::TypeError::New(env, "waitAmSync: tag must be a bigint");
  bool lossless = false;
  uint64_t tag = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "waitAmSync: tag must fit in a u64");
  size_t tag_offset = 8;
  double timeout_ms = 0;
  if (info[2].IsObject()) {
    Napi::Object options = info[2].As<Napi::Object>();
    Napi::Value at = options.Get("tagOffset");
    if (!at.IsUndefined()) {
      double d = at.IsNumber() ? at.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 1 << 20 && d == static_cast<double>(static_cast<size_t>(d)))) {
        throw Napi::TypeError::New(env, "waitAmSync: tagOffset must be a small non-negative integer");
      }
      tag_offset = static_cast<size_t>(d);
    }
    timeout_ms = TimeoutOption(info[2]);
  } else if (!info[2].IsUndefined()) {
    throw Napi::TypeError::New(env, "waitAmSync: options must be an object");
  }
  if (failed_ != UCS_OK) throw MakeError(env, CodeFor(failed_, connecting_), failed_, "waitAmSync");
  if (ep_ == nullptr) {
    Napi::Error err = Napi::Error::New(env, "waitAmSync: endpoint is closed");
    err.Set("code", Napi::String::New(env, kClosed));
    throw err;
  }
  return worker_->WaitAmSync(this, id, tag, tag_offset, timeout_ms);
}

// getSync(region, offset, length, remoteAddress, rkey, { timeoutMs? }) -> undefined; throws typed errors.
// Progresses this thread's worker without returning to the event loop until the get is done.
Napi::Value Endpoint::GetSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* what = "getSync";
  RmaArgs a = ParseRma(info, what);
  if (failed_ != UCS_OK) throw MakeError(env, CodeFor(failed_, connecting_), failed_, what);
  if (ep_ == nullptr) {
    Napi::Error err = Napi::Error::New(env, "getSync: endpoint is closed");
    err.Set("code", Napi::String::New(env, kClosed));
    throw err;
  }
  CheckRkey(env, a.rkey, what);

  Op* op = worker_->NewOp(Op::kGet, what, this, 0);
  op->sync = true;
  op->deferred.Resolve(env.Undefined());  // nobody awaits it: free the promise's handle now
  op->keep.push_back(Napi::Persistent(info[0].As<Napi::Object>()));
  op->keep.push_back(Napi::Persistent(info[4].As<Napi::Object>()));
  op->region = a.region;
  a.region->Pin();
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMH;
  p.cb.send = Worker::OnSendComplete;
  p.user_data = op;
  p.memh = a.region->memh();
  ucs_status_ptr_t ptr = ucp_get_nbx(ep_, a.region->data() + a.offset, a.length, a.remote, a.rkey->handle(), &p);
  ucs_status_t status;
  if (ptr == nullptr) {
    status = UCS_OK;
  } else if (UCS_PTR_IS_ERR(ptr)) {
    status = UCS_PTR_STATUS(ptr);
  } else {
    op->request = ptr;
    status = worker_->WaitSync(op, a.timeout_ms);
  }
  bool abandoned = op->abandoned;
  if (!abandoned) worker_->FinishSync(op);  // deletes op
  if (status == UCS_OK) {
    connecting_ = false;  // a completed read proves wireup (connectAddressSync endpoints)
    return env.Undefined();
  }
  ucs_status_t reported = status;
  if (status != UCS_ERR_TIMED_OUT && failed_ != UCS_OK) reported = failed_;
  throw MakeError(env, CodeFor(reported, connecting_), reported, what);
}

Napi::Value Endpoint::Flush(const Napi::CallbackInfo& info) {
  Napi::Value rejected = RejectIfUnusable(info.Env(), "flush");
  if (!rejected.IsEmpty()) return rejected;
  Op* op = worker_->NewOp(Op::kFlush, "flush", this, TimeoutOption(info[0]));
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  p.cb.send = Worker::OnSendComplete;
  p.user_data = op;
  return worker_->Start(op, ucp_ep_flush_nbx(ep_, &p));
}

// unpackRkey(bytes) -> RemoteKey, valid on this endpoint until it closes or destroy() is called
Napi::Value Endpoint::UnpackRkey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes bytes = GetBytes(info[0], "rkey bytes");
  if (ep_ == nullptr) throw Napi::Error::New(env, "unpackRkey: endpoint is closed");
  ucp_rkey_h rkey = nullptr;
  Check(env, ucp_ep_rkey_unpack(ep_, bytes.data, &rkey), "ucp_ep_rkey_unpack");
  return RemoteKey::Create(env, this, rkey);
}

// close({ force? }) -> Promise<void>; never rejects
Napi::Value Endpoint::Close(const Napi::CallbackInfo& info) {
  bool force = info[0].IsObject() && info[0].As<Napi::Object>().Get("force").ToBoolean();
  if (worker_ == nullptr) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    d.Resolve(info.Env().Undefined());
    return d.Promise();
  }
  Op* op = worker_->NewOp(Op::kClose, "close", this, 0);
  Napi::Promise promise = op->deferred.Promise();
  BeginClose(force, op);
  return promise;
}

Napi::Value Endpoint::OnErrorSetter(const Napi::CallbackInfo& info) {
  if (info[0].IsFunction()) {
    on_error_ = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    on_error_.Reset();
  }
  return info.Env().Undefined();
}

Napi::Value Endpoint::StateGetter(const Napi::CallbackInfo& info) {
  const char* state = failed_ != UCS_OK ? "failed" : closed_ ? "closed" : connecting_ ? "connecting" : "open";
  return Napi::String::New(info.Env(), state);
}

// ---- connecting ----

namespace {
Napi::Value StartConnect(Napi::Env env, Worker* worker, ucp_ep_params_t& params, Napi::Value options,
                         Napi::Value keep_alive) {
  bool peer_errors = Endpoint::PeerErrorsOption(options);
  double timeout_ms = TimeoutOption(options);
  Napi::Object obj;
  Endpoint* endpoint = Endpoint::Create(env, worker, &obj);
  try {
    endpoint->Open(params, peer_errors);
  } catch (const Napi::Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  }
  // A flush completes once wireup is done, or fails when the peer cannot be reached.
  Op* op = worker->NewOp(Op::kConnect, "connect", endpoint, timeout_ms);
  op->keep.push_back(Napi::Persistent(obj));
  if (keep_alive.IsObject()) op->keep.push_back(Napi::Persistent(keep_alive.As<Napi::Object>()));
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  p.cb.send = Worker::OnSendComplete;
  p.user_data = op;
  return worker->Start(op, ucp_ep_flush_nbx(endpoint->handle(), &p));
}
}  // namespace

Napi::Value Endpoint::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "connect({ host, port, timeoutMs? })");
  Napi::Object opts = info[0].As<Napi::Object>();
  std::string host = opts.Get("host").IsString() ? opts.Get("host").As<Napi::String>().Utf8Value() : "127.0.0.1";
  if (!opts.Get("port").IsNumber()) throw Napi::TypeError::New(env, "connect: port must be a number");
  SockAddr addr = ParseSockAddr(env, host, opts.Get("port").As<Napi::Number>().Int64Value());
  Worker* worker = Worker::Get(env);
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR;
  params.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
  params.sockaddr.addr = addr.get();
  params.sockaddr.addrlen = addr.length;
  return StartConnect(env, worker, params, opts, Napi::Value());
}

// connectAddressSync(bytes, { errorMode? }) -> Endpoint at once. Operations posted before wireup wait
// inside UCX; a failed wireup fails them (and the endpoint, in errorMode 'peer').
Napi::Value Endpoint::ConnectAddressSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes address = GetBytes(info[0], "worker address");
  if (address.length == 0) throw Napi::TypeError::New(env, "connectAddressSync: empty worker address");
  bool peer_errors = PeerErrorsOption(info[1]);
  Worker* worker = Worker::Get(env);
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
  params.address = reinterpret_cast<const ucp_address_t*>(address.data);
  Napi::Object obj;
  Endpoint* endpoint = Endpoint::Create(env, worker, &obj);
  endpoint->Open(params, peer_errors);  // throws typed errors; UCX copies the address
  worker->Kick();  // wireup needs progress
  return obj;
}

Napi::Value Endpoint::ConnectAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes address = GetBytes(info[0], "worker address");
  if (address.length == 0) throw Napi::TypeError::New(env, "connectAddress: empty worker address");
  Worker* worker = Worker::Get(env);
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
  params.address = reinterpret_cast<const ucp_address_t*>(address.data);
  return StartConnect(env, worker, params, info[1], address.holder);
}

}  // namespace pxs
