#include "status.h"

#include <ucs/type/status.h>

namespace pxs {

std::string StatusName(ucs_status_t status) {
  switch (status) {
#define PXS_NAME(s) \
  case s:           \
    return #s;
    PXS_NAME(UCS_OK)
    PXS_NAME(UCS_INPROGRESS)
    PXS_NAME(UCS_ERR_NO_MESSAGE)
    PXS_NAME(UCS_ERR_NO_RESOURCE)
    PXS_NAME(UCS_ERR_IO_ERROR)
    PXS_NAME(UCS_ERR_NO_MEMORY)
    PXS_NAME(UCS_ERR_INVALID_PARAM)
    PXS_NAME(UCS_ERR_UNREACHABLE)
    PXS_NAME(UCS_ERR_INVALID_ADDR)
    PXS_NAME(UCS_ERR_NOT_IMPLEMENTED)
    PXS_NAME(UCS_ERR_MESSAGE_TRUNCATED)
    PXS_NAME(UCS_ERR_NO_PROGRESS)
    PXS_NAME(UCS_ERR_BUFFER_TOO_SMALL)
    PXS_NAME(UCS_ERR_NO_ELEM)
    PXS_NAME(UCS_ERR_SOME_CONNECTS_FAILED)
    PXS_NAME(UCS_ERR_NO_DEVICE)
    PXS_NAME(UCS_ERR_BUSY)
    PXS_NAME(UCS_ERR_CANCELED)
    PXS_NAME(UCS_ERR_SHMEM_SEGMENT)
    PXS_NAME(UCS_ERR_ALREADY_EXISTS)
    PXS_NAME(UCS_ERR_OUT_OF_RANGE)
    PXS_NAME(UCS_ERR_TIMED_OUT)
    PXS_NAME(UCS_ERR_EXCEEDS_LIMIT)
    PXS_NAME(UCS_ERR_UNSUPPORTED)
    PXS_NAME(UCS_ERR_REJECTED)
    PXS_NAME(UCS_ERR_NOT_CONNECTED)
    PXS_NAME(UCS_ERR_CONNECTION_RESET)
    PXS_NAME(UCS_ERR_ENDPOINT_TIMEOUT)
#undef PXS_NAME
    default:
      return "UCS_STATUS_" + std::to_string(static_cast<int>(status));
  }
}

const char* CodeFor(ucs_status_t status, bool connecting) {
  switch (status) {
    case UCS_ERR_TIMED_OUT:
      return kTimeout;
    case UCS_ERR_CANCELED:
      return kCanceled;
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_INVALID_ADDR:
    case UCS_ERR_REJECTED:
    case UCS_ERR_NO_DEVICE:
      return connecting ? kUnreachable : kPeerGone;
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_IO_ERROR:
      return connecting ? kUnreachable : kPeerGone;
    default:
      return kError;
  }
}

Napi::Error MakeError(Napi::Env env, const char* code, ucs_status_t status, const std::string& what) {
  std::string message = what + ": " + ucs_status_string(status) + " (" + StatusName(status) + ")";
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.Set("status", Napi::String::New(env, StatusName(status)));
  return err;
}

void Check(Napi::Env env, ucs_status_t status, const char* what) {
  if (status != UCS_OK) throw MakeError(env, CodeFor(status, false), status, what);
}

}  // namespace pxs
