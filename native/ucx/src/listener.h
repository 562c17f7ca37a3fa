// A listener on a socket address; each connection request is accepted into an Endpoint and handed to
// the JS callback. Holds the loop open until closed.
#pragma once

#include "worker.h"

#include <napi.h>
#include <ucp/api/ucp.h>

#include <string>

namespace pxs {

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Define(Napi::Env env);
  // listen({ host?, port?, errorMode? }, onConnection(endpoint, { address, port })) -> Listener
  static Napi::Value Listen(const Napi::CallbackInfo& info);

  explicit Listener(const Napi::CallbackInfo& info);
  ~Listener() override;

  void Accept(ucp_conn_request_h request);  // from Worker::Dispatch
  void Release();  // worker teardown

 private:
  static void OnConnRequest(ucp_conn_request_h request, void* arg);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value HostGetter(const Napi::CallbackInfo& info);
  Napi::Value PortGetter(const Napi::CallbackInfo& info);

  Worker* worker_ = nullptr;
  ucp_listener_h handle_ = nullptr;
  std::string host_;
  int port_ = 0;
  bool peer_errors_ = true;  // errorMode of accepted endpoints
  Napi::FunctionReference on_connection_;
  Napi::ObjectReference self_;
};

}  // namespace pxs
