// The process-wide UCP context: created by the first worker (of any JS thread), shared by all, and
// cleaned up when the last worker and memory region let go of it.
#pragma once

#include <ucp/api/ucp.h>

#include <memory>
#include <string>
#include <vector>

namespace pxs {

class Context {
 public:
  // Throws std::runtime_error with the UCS status on failure.
  static std::shared_ptr<Context> Acquire();
  ~Context();

  ucp_context_h handle() const { return handle_; }
  // Names of the memory types this UCX build supports ("host", "cuda", ...).
  std::vector<std::string> memory_types() const;
  bool supports(ucs_memory_type_t type) const { return (memory_types_ & (1ull << type)) != 0; }

 private:
  Context() = default;
  ucp_context_h handle_ = nullptr;
  uint64_t memory_types_ = 0;
};

}  // namespace pxs
