// Result<T>: the value of an operation that can fail in an expected way, shaped like
// std::expected (C++23). Used by every component; HTTP status mapping lives in api/ only.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace berth {

// A code exists only where some caller handles it differently.
enum class ErrorCode {
  kInvalidArgument,  // bad input: names the offending value
  kNotFound,
  kConflict,     // already exists, or locked
  kUnavailable,  // a peer or resource is not reachable right now; retrying may help
  kPermissionDenied,
  kPreconditionFailed,  // a conditional write whose condition no longer holds (HTTP 412)
  kNotAllowed,          // the operation cannot apply to the object in its state (HTTP 405)
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // kConflict on a locked object: the ids of the operations holding the lock (the deployments
  // of an app), which the API lists so the caller can look at them or override with force.
  std::vector<std::string> locked_by;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), {}};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace berth
