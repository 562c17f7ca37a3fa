// An endpoint to a peer worker: made by connect (socket address or worker address) or by a listener
// accepting a connection. Open endpoints hold the loop open, like sockets, until closed or failed.
#pragma once

#include "worker.h"

#include <napi.h>
#include <ucp/api/ucp.h>

#include <unordered_set>

namespace pxs {

class RemoteKey;

class Endpoint : public Napi::ObjectWrap<Endpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  // A new, not yet opened endpoint object; `out` receives its JS object.
  static Endpoint* Create(Napi::Env env, Worker* worker, Napi::Object* out);

  // connect({ host, port, timeoutMs? }) and connectAddress(bytes, { timeoutMs? }) -> Promise<Endpoint>
  static Napi::Value Connect(const Napi::CallbackInfo& info);
  static Napi::Value ConnectAddress(const Napi::CallbackInfo& info);
  static Napi::Value ConnectAddressSync(const Napi::CallbackInfo& info);

  explicit Endpoint(const Napi::CallbackInfo& info);
  ~Endpoint() override;

  // Creates the UCP endpoint from `params`; throws on failure. `peer_errors` asks UCX for peer failure
  // detection (UCP_ERR_HANDLING_MODE_PEER), which UCX 1.13's shared-memory transports do not support:
  // endpoints that must use them pass false and rely on operation timeouts instead.
  void Open(ucp_ep_params_t& params, bool peer_errors);
  // Reads options.errorMode: 'peer' (default) or 'none'.
  static bool PeerErrorsOption(Napi::Value options);
  // Wraps an endpoint UCX created for a peer's replies: we neither own nor close it.
  void Adopt(ucp_ep_h ep);

  ucp_ep_h handle() const { return ep_; }
  bool connecting() const { return connecting_; }
  ucs_status_t failed() const { return failed_; }
  void SetConnected() { connecting_ = false; }
  void AddRkey(RemoteKey* k) { rkeys_.insert(k); }
  void RemoveRkey(RemoteKey* k) { rkeys_.erase(k); }

  // From Worker::Dispatch when the peer failed: tell JS, then force-close.
  void HandleError(ucs_status_t status);
  // Closes the UCP endpoint; `op` (may be null) is settled when UCX is done.
  void BeginClose(bool force, Op* op);
  // Worker teardown: release UCX resources without calling JS.
  void Release();

 private:
  static void OnPeerError(void* arg, ucp_ep_h ep, ucs_status_t status);
  // A rejected promise for a call on an endpoint that can no longer carry operations, else null.
  Napi::Value RejectIfUnusable(Napi::Env env, const char* what);

  Napi::Value AmSend(const Napi::CallbackInfo& info);
  struct RmaArgs {
    MemoryRegion* region = nullptr;
    RemoteKey* rkey = nullptr;
    size_t offset = 0;
    size_t length = 0;
    uint64_t remote = 0;
    double timeout_ms = 0;
  };
  static RmaArgs ParseRma(const Napi::CallbackInfo& info, const char* what);
  void CheckRkey(Napi::Env env, RemoteKey* rkey, const char* what);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value GetSync(const Napi::CallbackInfo& info);
  Napi::Value WaitAmSync(const Napi::CallbackInfo& info);
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value UnpackRkey(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value RefJs(const Napi::CallbackInfo& info);
  Napi::Value UnrefJs(const Napi::CallbackInfo& info);
  Napi::Value OnErrorSetter(const Napi::CallbackInfo& info);
  Napi::Value StateGetter(const Napi::CallbackInfo& info);
  Napi::Value Rma(const Napi::CallbackInfo& info, bool is_get);

  Worker* worker_ = nullptr;
  ucp_ep_h ep_ = nullptr;
  bool owned_ = true;
  bool connecting_ = true;
  bool closed_ = false;
  bool refd_ = false;    // holding the loop open now
  bool wants_ref_ = true;  // unref() was not called (a closed endpoint never holds it)
  ucs_status_t failed_ = UCS_OK;
  Napi::ObjectReference self_;  // strong while the UCP endpoint exists
  Napi::FunctionReference on_error_;
  std::unordered_set<RemoteKey*> rkeys_;
};

}  // namespace pxs
