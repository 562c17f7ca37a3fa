#include "listener.h"

#include "addon_data.h"
#include "address.h"
#include "endpoint.h"
#include "status.h"

namespace pxs {

Napi::Function Listener::Define(Napi::Env env) {
  return DefineClass(env, "Listener",
                     {
                         InstanceMethod<&Listener::Close>("close"),
                         InstanceAccessor<&Listener::HostGetter>("host"),
                         InstanceAccessor<&Listener::PortGetter>("port"),
                     });
}

Listener::Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
  if (!IsInternalConstruct(info)) throw Napi::TypeError::New(info.Env(), "Listener objects come from listen()");
}

Listener::~Listener() = default;  // open listeners are kept alive by self_

Napi::Value Listener::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "listen(options, onConnection): onConnection must be a function");
  std::string host = opts.Get("host").IsString() ? opts.Get("host").As<Napi::String>().Utf8Value() : "0.0.0.0";
  int64_t port = opts.Get("port").IsNumber() ? opts.Get("port").As<Napi::Number>().Int64Value() : 0;
  SockAddr addr = ParseSockAddr(env, host, port);
  Worker* worker = Worker::Get(env);

  Napi::Object obj = Data(env)->listener_ctor.New({Napi::External<void>::New(env, nullptr)});
  Listener* self = Unwrap(obj);
  self->worker_ = worker;
  self->peer_errors_ = Endpoint::PeerErrorsOption(opts);
  self->on_connection_ = Napi::Persistent(info[1].As<Napi::Function>());
  ucp_listener_params_t params{};
  params.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
  params.sockaddr.addr = addr.get();
  params.sockaddr.addrlen = addr.length;
  params.conn_handler.cb = OnConnRequest;
  params.conn_handler.arg = self;
  ucs_status_t status = ucp_listener_create(worker->handle(), &params, &self->handle_);
  if (status != UCS_OK) {
    self->handle_ = nullptr;
    throw MakeError(env, kError, status, "ucp_listener_create on " + host + ":" + std::to_string(port));
  }
  ucp_listener_attr_t attr{};
  attr.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
  if (ucp_listener_query(self->handle_, &attr) == UCS_OK) {
    FormatSockAddr(attr.sockaddr, &self->host_, &self->port_);
  } else {
    self->host_ = host;
    self->port_ = static_cast<int>(port);
  }
  worker->AddListener(self);
  worker->Ref();
  self->self_ = Napi::Persistent(obj);
  worker->Kick();
  return obj;
}

void Listener::OnConnRequest(ucp_conn_request_h request, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  if (self->worker_ != nullptr) self->worker_->PostConnRequest(self, request);
}

void Listener::Accept(ucp_conn_request_h request) {
  if (handle_ == nullptr) return;  // closed since the request arrived; UCX drops it with the worker
  Napi::Env env = Env();
  ucp_conn_request_attr_t attr{};
  attr.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR;
  std::string peer_host;
  int peer_port = 0;
  if (ucp_conn_request_query(request, &attr) == UCS_OK) FormatSockAddr(attr.client_address, &peer_host, &peer_port);

  Napi::Object obj;
  Endpoint* endpoint = Endpoint::Create(env, worker_, &obj);
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST;
  params.conn_request = request;
  try {
    endpoint->Open(params, peer_errors_);
  } catch (const Napi::Error&) {
    return;  // the client sees its connect fail
  }
  endpoint->SetConnected();
  Napi::Object peer = Napi::Object::New(env);
  peer.Set("host", Napi::String::New(env, peer_host));
  peer.Set("port", Napi::Number::New(env, peer_port));
  worker_->CallJs(on_connection_.Value(), {obj, peer});
}

Napi::Value Listener::Close(const Napi::CallbackInfo& info) {
  if (handle_ != nullptr && worker_ != nullptr) {
    ucp_listener_destroy(handle_);
    handle_ = nullptr;
    worker_->RemoveListener(this);
    worker_->Unref();
    worker_->Bury(std::move(self_));
  }
  return info.Env().Undefined();
}

void Listener::Release() {
  if (handle_ != nullptr) ucp_listener_destroy(handle_);
  handle_ = nullptr;
  self_.Reset();
  on_connection_.Reset();
  worker_ = nullptr;
}

Napi::Value Listener::HostGetter(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), host_); }
Napi::Value Listener::PortGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }

}  // namespace pxs
