// Maps UCS status codes to the JS errors the addon rejects with: every error carries a stable string
// `code` (what callers branch on) and `status` (the UCS status name, for diagnosis).
#pragma once

#include <napi.h>
#include <ucs/type/status.h>

#include <string>

namespace pxs {

// Stable error codes exposed to JS.
constexpr const char* kPeerGone = "UCX_PEER_GONE";
constexpr const char* kUnreachable = "UCX_UNREACHABLE";
constexpr const char* kTimeout = "UCX_TIMEOUT";
constexpr const char* kCanceled = "UCX_CANCELED";
constexpr const char* kClosed = "UCX_CLOSED";
constexpr const char* kError = "UCX_ERROR";

// "UCS_ERR_CONNECTION_RESET" for UCS_ERR_CONNECTION_RESET; "UCS_STATUS_<n>" for codes we do not name.
std::string StatusName(ucs_status_t status);

// The code for a failed operation. `connecting` is true while an endpoint has not yet been
// established, where a lost peer means the peer was never reached.
const char* CodeFor(ucs_status_t status, bool connecting);

Napi::Error MakeError(Napi::Env env, const char* code, ucs_status_t status, const std::string& what);

// Throws a JS error (as a C++ exception) when `status` is not UCS_OK.
void Check(Napi::Env env, ucs_status_t status, const char* what);

}  // namespace pxs
