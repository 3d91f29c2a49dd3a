#include "store/etcd_client.h"

#include <chrono>
#include <utility>

#include "http/http.h"
#include "store/etcd_wire.h"

namespace berth {
namespace {

// Large enough for a range of many values of kMaxValueBytes, each a third larger as base64.
constexpr size_t kMaxAnswerBytes = size_t{256} << 20;

constexpr char kOutcomeUnknown[] =
    "; etcd may or may not have committed this write: read the keys again before retrying";

// http::request's messages for a request that never left: the endpoint could not be resolved
// or connected to, so another endpoint may safely get it. The contract suite's
// EtcdStoreEndpoints test fails if these words change.
bool never_sent(const Error& error) {
  return error.message.starts_with("cannot connect to ") ||
         error.message.starts_with("cannot resolve ");
}

}  // namespace

EtcdClient::EtcdClient(std::vector<std::string> endpoints, int request_timeout_ms)
    : endpoints_(std::move(endpoints)), request_timeout_ms_(request_timeout_ms) {}

std::string EtcdClient::endpoint_list() const {
  std::string out;
  for (const std::string& item : endpoints_) out += (out.empty() ? "" : ", ") + item;
  return out;
}

Result<std::string> EtcdClient::call(std::string_view method, const std::string& body,
                                     bool idempotent, int timeout_ms) const {
  const std::string target = "/v3/" + std::string(method);
  using std::chrono::steady_clock;
  const auto give_up = steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const size_t first = endpoint_.load();
  std::string failures;
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    int timeout = request_timeout_ms_;
    if (timeout_ms > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(give_up - steady_clock::now());
      if (left.count() <= 0) break;
      timeout = static_cast<int>(left.count());
    }
    const size_t index = (first + attempt) % endpoints_.size();
    const std::string& endpoint = endpoints_[index];
    Result<http::ClientResponse> answer =
        http::request(endpoint, "POST", target, body, timeout,
                      {{"Content-Type", "application/json"}}, kMaxAnswerBytes);
    if (!answer.ok()) {
      const Error& error = answer.error();
      if (error.code != ErrorCode::kUnavailable) return error;
      if (!idempotent && !never_sent(error)) {
        return make_error(ErrorCode::kUnavailable, error.message + kOutcomeUnknown);
      }
      failures += "; " + error.message;
      continue;
    }
    if (answer->status == 200) {
      endpoint_.store(index);
      return std::move(answer->body);
    }
    Error error = etcd::read_error_answer(endpoint, target, answer->status, answer->body);
    if (error.code != ErrorCode::kUnavailable) return error;
    if (!idempotent) {
      // E.g. "request timed out, possibly due to previous leader failure": the proposal may
      // still commit.
      error.message += kOutcomeUnknown;
      return error;
    }
    failures += "; " + error.message;
  }
  return make_error(ErrorCode::kUnavailable, "no etcd endpoint answered " + target + failures +
                                                 "; check that etcd runs at " + endpoint_list());
}

}  // namespace berth
