// Small helpers shared by the API handlers to build JSON responses and map errors.
#pragma once

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "http/http.h"
#include "json/bounded.h"

namespace berth::api {

inline http::Response json_response(int status, const nlohmann::json& body) {
  http::Response r;
  r.status = status;
  r.body = json::dump(body);
  return r;
}

inline http::Response message_response(int status, const std::string& message) {
  return json_response(status, {{"message", message}});
}

// Errors whose message is already a JSON body (409 lock details) are passed through.
inline http::Response error_response(const Error& error) {
  int status = 500;
  switch (error.code) {
    case ErrorCode::kInvalidArgument: status = 400; break;
    case ErrorCode::kNotFound: status = 404; break;
    case ErrorCode::kConflict: status = 409; break;
    case ErrorCode::kUnavailable: status = 503; break;
    case ErrorCode::kPermissionDenied: status = 401; break;
    case ErrorCode::kPreconditionFailed: status = 412; break;
    case ErrorCode::kNotAllowed: status = 405; break;
    case ErrorCode::kInternal: status = 500; break;
  }
  if (!error.message.empty() && error.message.front() == '{') {
    http::Response r;
    r.status = status;
    r.body = error.message;
    return r;
  }
  return message_response(status, error.message);
}

enum class JsonShape { kAny, kObject, kArray };

// Parses a request body as JSON of the given shape; on failure fills `error` with Marathon's
// 400 answer.
inline bool parse_body(const http::Request& request, nlohmann::json* out, http::Response* error,
                       JsonShape shape = JsonShape::kAny) {
  auto parsed = json::parse(request.body);
  if (!parsed) {
    *error = json_response(400, {{"message", "Invalid JSON"},
                                 {"details", {{{"path", "/"}, {"errors", {parsed.error().message}}}}}});
    return false;
  }
  *out = std::move(*parsed);
  const char* expected = nullptr;
  if (shape == JsonShape::kObject && !out->is_object()) expected = "error.expected.jsobject";
  if (shape == JsonShape::kArray && !out->is_array()) expected = "error.expected.jsarray";
  if (expected) {
    *error = json_response(400, {{"message", "Invalid JSON"},
                                 {"details", {{{"path", "/"}, {"errors", {expected}}}}}});
    return false;
  }
  return true;
}

}  // namespace berth::api
