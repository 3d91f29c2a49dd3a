// ApiClient: the `berth` client's view of the master's HTTP API (Marathon v2, /berth/v1
// and Flocker v1): a base URL, one blocking request at a time, and the error text a user sees.
// Used by the command implementations in src/cli/ only.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::cli {

// One answer from the master, whatever its status.
struct ApiAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json;  // the parsed body; null when the body is empty or not JSON

  bool ok() const { return status >= 200 && status < 300; }
  std::string header(const std::string& lower_name) const;
};

class ApiClient {
 public:
  // `token` (empty: none) is sent with every call as "Authorization: Bearer <token>".
  explicit ApiClient(std::string base_url, int timeout_ms = 10000, std::string token = "");

  // Any answer, 2xx or not, is a value. The error (kUnavailable, or kInvalidArgument for a
  // malformed URL) means the master gave no answer; its message reads
  // "cannot reach the berth master at URL: <reason>".
  Result<ApiAnswer> call(const std::string& method, const std::string& target,
                         const std::string& body = "") const;

  // GET `target` as an event stream: the body goes to `on_data` as it arrives until the
  // master ends it or `on_data` returns false. A status other than 200 is an answer with its
  // body, as call() gives it; errors as call().
  Result<ApiAnswer> stream(const std::string& target,
                           const std::function<bool(std::string_view)>& on_data) const;

  const std::string& base_url() const { return base_url_; }

 private:
  std::vector<std::pair<std::string, std::string>> auth_headers() const;

  std::string base_url_;
  int timeout_ms_;
  std::string token_;
};

// What a user reads for a failed answer: the API's `message` (Marathon) or `description`
// (Flocker), or the status and raw body when there is neither; then one "path: error, error"
// line per entry of Marathon's `details`.
std::vector<std::string> describe_failure(const ApiAnswer& answer);

// "/prod/web" for "prod/web", "/prod/web/" or "/prod/web".
std::string normalize_app_id(const std::string& app_id);
// "/v2/apps/prod/web": slashes kept, each segment percent-encoded.
std::string app_target(const std::string& app_id);

}  // namespace berth::cli
