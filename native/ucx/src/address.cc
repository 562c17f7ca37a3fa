#include "address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace pxs {

SockAddr ParseSockAddr(Napi::Env env, const std::string& host, int64_t port) {
  if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "port must be in 0..65535");
  SockAddr out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(sockaddr_in6);
  } else {
    throw Napi::TypeError::New(env, "host must be an IPv4 or IPv6 address literal, got '" + host + "'");
  }
  return out;
}

void FormatSockAddr(const sockaddr_storage& addr, std::string* host, int* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    *port = ntohs(v4->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    *port = ntohs(v6->sin6_port);
  } else {
    *port = 0;
  }
  *host = buf;
}

double TimeoutOption(Napi::Value options) {
  if (!options.IsObject()) return 0;
  Napi::Value t = options.As<Napi::Object>().Get("timeoutMs");
  if (!t.IsNumber()) return 0;
  double ms = t.As<Napi::Number>().DoubleValue();
  return ms > 0 ? ms : 0;
}

}  // namespace pxs
