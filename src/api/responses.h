// Small helpers shared by the API handlers to build JSON responses and map errors.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

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

// The one table from berth's error codes to the HTTP status of the master's APIs (Marathon's
// /v2, berth's /berth/v1 and Flocker's /v1). A lock conflict lists the deployments holding it,
// as Marathon does.
inline int status_of(ErrorCode code) {
  int status = 500;
  switch (code) {
    case ErrorCode::kInvalidArgument:
      status = 400;
      break;
    case ErrorCode::kNotFound:
      status = 404;
      break;
    case ErrorCode::kConflict:
      status = 409;
      break;
    case ErrorCode::kUnavailable:
      status = 503;
      break;
    case ErrorCode::kPermissionDenied:
      status = 401;
      break;
    case ErrorCode::kPreconditionFailed:
      status = 412;
      break;
    case ErrorCode::kNotAllowed:
      status = 405;
      break;
    case ErrorCode::kInternal:
      status = 500;
      break;
  }
  return status;
}

inline http::Response error_response(const Error& error) {
  if (!error.locked_by.empty()) {
    nlohmann::json deployments = nlohmann::json::array();
    for (const auto& id : error.locked_by) deployments.push_back({{"id", id}});
    return json_response(status_of(error.code),
                         {{"message", error.message}, {"deployments", deployments}});
  }
  return message_response(status_of(error.code), error.message);
}

// A path under a collection split at the first reserved segment: "/prod/web/tasks/x" with
// {"tasks", ...} reserved is id "/prod/web", sub "tasks", arg "x". Empty segments are dropped;
// `extra` is set when segments follow `arg` (the caller answers 404).
struct PathParts {
  std::string id, sub, arg;
  bool extra = false;
};
inline PathParts split_path(const std::string& rest, const std::set<std::string>& reserved) {
  std::vector<std::string> segments;
  for (size_t start = 0; start <= rest.size();) {
    size_t slash = rest.find('/', start);
    std::string seg =
        rest.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!seg.empty()) segments.push_back(seg);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  size_t cut = segments.size();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (reserved.count(segments[i])) {
      cut = i;
      break;
    }
  }
  PathParts parts;
  for (size_t i = 0; i < cut; ++i) parts.id += "/" + segments[i];
  parts.sub = cut < segments.size() ? segments[cut] : "";
  parts.arg = cut + 1 < segments.size() ? segments[cut + 1] : "";
  parts.extra = cut + 2 < segments.size();
  return parts;
}

enum class JsonShape { kAny, kObject, kArray };

// Parses a request body as JSON of the given shape; on failure fills `error` with Marathon's
// 400 answer.
inline bool parse_body(const http::Request& request, nlohmann::json* out, http::Response* error,
                       JsonShape shape = JsonShape::kAny) {
  auto parsed = json::parse(request.body);
  if (!parsed) {
    *error =
        json_response(400, {{"message", "Invalid JSON"},
                            {"details", {{{"path", "/"}, {"errors", {parsed.error().message}}}}}});
    return false;
  }
  *out = std::move(*parsed);
  const char* expected = nullptr;
  if (shape == JsonShape::kObject && !out->is_object()) expected = "error.expected.jsobject";
  if (shape == JsonShape::kArray && !out->is_array()) expected = "error.expected.jsarray";
  if (expected) {
    *error = json_response(
        400, {{"message", "Invalid JSON"}, {"details", {{{"path", "/"}, {"errors", {expected}}}}}});
    return false;
  }
  return true;
}

}  // namespace berth::api
