// Answers of the agent's own HTTP port (docs/protocol.md §7: task logs, dataset archives): the
// one table from berth's error codes to the status of that API, and its JSON error body. The
// master's APIs have their own table (api/responses.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "http/http.h"

namespace berth::agent {

// The handlers check the request themselves (unknown path 404, wrong method 405, bad query 400,
// missing token 401), so an error that reaches this table comes from the agent's own work on a
// well-formed request: kInvalidArgument there is not the caller's fault and answers 500, like
// every code without a row. A handler that means something else by a code says so where it
// answers.
inline int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// {"message": message} with `status`.
inline http::Response message_response(int status, const std::string& message) {
  http::Response response;
  response.status = status;
  response.body = nlohmann::json({{"message", message}}).dump();
  return response;
}

}  // namespace berth::agent
