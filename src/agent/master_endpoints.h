// MasterEndpoints: the masters an agent talks to (docs/protocol.md §1). `berth agent --master`
// takes one URL or several, comma-separated. Every call goes to the current master; when it
// cannot be reached (no connection, or no answer within the call's timeout) the next one becomes
// current and the call goes there at once, so a dead master costs one timeout per call, never a
// stall. A standby answers 503 naming the leader (X-Berth-Leader); the leader becomes current
// and the call goes there at once. Thread-safe: the heartbeat, status, poll and plugin threads
// share one.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "http/http.h"

namespace berth::agent {

class MasterEndpoints {
 public:
  // "http://a:8080" or "http://a:8080,https://b:8443": kInvalidArgument naming the first entry
  // that is not an http:// or https:// URL.
  static Result<std::vector<std::string>> parse(const std::string& list);
  // `list` as parse() takes it; it must parse.
  explicit MasterEndpoints(const std::string& list);

  std::string current() const;
  const std::vector<std::string>& all() const { return urls_; }
  // One request to the current master, then to each other one in turn while none answers.
  // An answer with any status ends the search. The error, when no master answered, names them.
  Result<http::ClientResponse> request(
      const std::string& method, const std::string& target, const std::string& body, int timeout_ms,
      const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  // `url` did not answer: the one after it becomes current, unless another call moved on.
  void unreachable(const std::string& url);
  // `url` answered 503: when the answer names the leader (X-Berth-Leader, "host:port") and it is
  // one of the masters, it becomes current and the call is to go there (true).
  bool follow_leader(const std::string& url, const http::ClientResponse& answer);

  std::vector<std::string> urls_;
  mutable std::mutex mu_;
  size_t current_ = 0;
};

}  // namespace berth::agent
