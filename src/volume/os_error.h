// Turning a failed system call into an Error that says what was being done.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include "base/result.h"

namespace berth {

// "<what>: <strerror(err)>", with kPermissionDenied for EACCES/EPERM and `code` otherwise.
inline Error os_error(ErrorCode code, const std::string& what, int err) {
  if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
  return make_error(code, what + ": " + std::strerror(err));
}

}  // namespace berth
