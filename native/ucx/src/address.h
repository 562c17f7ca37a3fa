// Socket addresses for listeners and client-server connections: parsed from and formatted to
// { host, port } with numeric hosts only (no DNS lookups inside the addon).
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <string>

namespace pxs {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Throws a TypeError for a host that is not an IPv4 or IPv6 literal, or a port out of range.
SockAddr ParseSockAddr(Napi::Env env, const std::string& host, int64_t port);
void FormatSockAddr(const sockaddr_storage& addr, std::string* host, int* port);

// Reads `options.timeoutMs` (0 when absent).
double TimeoutOption(Napi::Value options);

}  // namespace pxs
