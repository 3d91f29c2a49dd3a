// EtcdClient: one request to etcd's JSON gateway (docs/architecture.md §5) with failover over
// the cluster's endpoints, shared by EtcdStore and LeaderElection. No state beyond the
// endpoint that answered last. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth {

class EtcdClient {
 public:
  // endpoints: "http://host:port" or "https://host:port", checked by the caller.
  EtcdClient(std::vector<std::string> endpoints, int request_timeout_ms);

  // Sends one gateway request (`method` is e.g. "kv/range") and returns etcd's JSON answer as
  // text. Waits at most `timeout_ms` in all, or, when 0, the request timeout per endpoint. Moves on
  // to the next endpoint when one cannot be reached; an `idempotent` request (a read, or a write
  // that may safely be applied twice) also when one answers that it is unavailable, or did not
  // answer. Any other write whose outcome is unknown (sent, then no answer) fails with
  // kUnavailable and is not sent again.
  Result<std::string> call(std::string_view method, const std::string& body, bool idempotent,
                           int timeout_ms = 0) const;

  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // The endpoints for messages: "http://a:2379, http://b:2379".
  std::string endpoint_list() const;

 private:
  const std::vector<std::string> endpoints_;
  const int request_timeout_ms_;
  mutable std::atomic<size_t> endpoint_{0};  // the member that answered last
};

}  // namespace berth
