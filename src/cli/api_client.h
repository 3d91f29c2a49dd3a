// ApiClient: the `berth` client's view of the master's HTTP API (Marathon v2, /berth/v1
// and Flocker v1): the masters' URLs, one blocking request at a time, and the error text a user
// sees. Used by the command implementations in src/cli/ only.
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

// The masters of `list`: one URL, or several separated by commas ("http://m1:8080,http://m2:8080").
// Blanks around an entry and empty entries are dropped; the entries are not checked here (a
// malformed one fails when it is called). An empty list gives one empty URL.
std::vector<std::string> split_master_urls(const std::string& list);

class ApiClient {
 public:
  // `masters` as split_master_urls() reads it. `token` (empty: none) is sent with every call
  // as "Authorization: Bearer <token>".
  explicit ApiClient(const std::string& masters, int timeout_ms = 10000, std::string token = "");

  // Any answer, 2xx or not, is a value. A master that gives no answer (no connection, no answer
  // within the timeout, a malformed URL) is left for the next one in the list, and the next
  // call starts from the master that answered. The error, when none answered (kUnavailable, or
  // kInvalidArgument for one malformed URL), reads "cannot reach the berth master at URL:
  // <reason>" for one master, or names every master tried with its reason.
  Result<ApiAnswer> call(const std::string& method, const std::string& target,
                         const std::string& body = "") const;

  // GET `target` as an event stream: the body goes to `on_data` as it arrives until the
  // master ends it or `on_data` returns false. A status other than 200 is an answer with its
  // body, as call() gives it; errors as call(). The next master is tried only while none has
  // sent anything.
  Result<ApiAnswer> stream(const std::string& target,
                           const std::function<bool(std::string_view)>& on_data) const;

  // One request to the master `url` only (one of urls()), with the token: for commands that
  // ask every master in turn.
  Result<ApiAnswer> call_one(const std::string& url, const std::string& method,
                             const std::string& target, int timeout_ms) const;

  const std::vector<std::string>& urls() const { return urls_; }

 private:
  // One request to `url`: its answer, or why there was none.
  using Attempt = std::function<Result<ApiAnswer>(const std::string& url)>;

  std::vector<std::pair<std::string, std::string>> auth_headers() const;
  // `attempt` on each master from the current one on, until one answers or `give_up` says so.
  Result<ApiAnswer> try_masters(const Attempt& attempt, const std::function<bool()>& give_up) const;

  std::vector<std::string> urls_;
  mutable size_t current_ = 0;  // the master that answered last; calls are made one at a time
  int timeout_ms_;
  std::string token_;
};

// What a user reads for a failed answer: the API's `message` (Marathon) or `description`
// (Flocker), or the status and raw body when there is neither; then one "path: error, error"
// line per entry of Marathon's `details`.
std::vector<std::string> describe_failure(const ApiAnswer& answer);

// "/prod/web" for "prod/web", "/prod/web/" or "/prod/web".
std::string normalize_app_id(const std::string& app_id);
// `collection` + the id, slashes kept, each segment percent-encoded ("/" adds nothing).
std::string path_target(const std::string& collection, const std::string& path_id);
// "/v2/apps/prod/web".
std::string app_target(const std::string& app_id);
// "/v2/groups/prod".
std::string group_target(const std::string& group_id);

}  // namespace berth::cli
