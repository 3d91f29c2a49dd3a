#include "store/etcd_store.h"

#include <utility>

#include "http/http.h"
#include "json/bounded.h"
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

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

Result<std::unique_ptr<EtcdStore>> EtcdStore::open(EtcdStoreOptions options) {
  if (options.endpoints.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no etcd endpoints: give at least one, e.g. etcd://127.0.0.1:2379");
  }
  for (const std::string& endpoint : options.endpoints) {
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "etcd endpoint '" + endpoint +
                            "' is not a URL: expected http://host:port or https://host:port");
    }
  }
  const std::string& prefix = options.prefix;
  if (prefix.empty() || !prefix.ends_with('/') || prefix.find('\0') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "etcd key prefix '" + prefix +
                          "' must be non-empty and end with '/', e.g. /berth/, so that "
                          "/prod/ and /prod2/ stay apart");
  }
  std::unique_ptr<EtcdStore> store(new EtcdStore(std::move(options)));
  Result<int64_t> revision = store->revision();
  if (!revision.ok()) {
    return make_error(revision.error().code, "cannot use etcd at " +
                                                 joined(store->options_.endpoints) + ": " +
                                                 revision.error().message);
  }
  return store;
}

EtcdStore::EtcdStore(EtcdStoreOptions options) : options_(std::move(options)) {}

Result<std::optional<KeyValue>> EtcdStore::get(std::string_view key) {
  if (Status s = check_key(key); !s.ok()) return s.error();
  const std::string body = json::dump(etcd::range_request(options_.prefix + std::string(key)));
  Result<std::string> answer = call("kv/range", body, true);
  if (!answer.ok()) return answer.error();
  Result<std::vector<KeyValue>> kvs = etcd::read_range_answer(*answer, options_.prefix);
  if (!kvs.ok()) return kvs.error();
  if (kvs->empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(kvs->front()));
}

Result<int64_t> EtcdStore::put(std::string_view key, std::string_view value) {
  Result<CommitPlan> plan =
      apply({StoreOp{StoreOp::Kind::kPut, std::string(key), std::string(value), std::nullopt}});
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<bool> EtcdStore::erase(std::string_view key) {
  Result<CommitPlan> plan =
      apply({StoreOp{StoreOp::Kind::kErase, std::string(key), "", std::nullopt}});
  if (!plan.ok()) return plan.error();
  return !plan->changes.empty();
}

Result<int64_t> EtcdStore::compare_and_swap(std::string_view key, std::string_view value,
                                            int64_t expected_mod_revision) {
  Result<CommitPlan> plan = apply(
      {StoreOp{StoreOp::Kind::kPut, std::string(key), std::string(value), expected_mod_revision}});
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<std::vector<KeyValue>> EtcdStore::list(std::string_view prefix) {
  if (Status s = check_prefix(prefix); !s.ok()) return s.error();
  const std::string start = options_.prefix + std::string(prefix);
  // options_.prefix ends with '/', so the successor exists.
  const std::string body = json::dump(etcd::range_request(start, prefix_successor(start)));
  Result<std::string> answer = call("kv/range", body, true);
  if (!answer.ok()) return answer.error();
  return etcd::read_range_answer(*answer, options_.prefix);
}

Result<int64_t> EtcdStore::commit(const std::vector<StoreOp>& ops) {
  Result<CommitPlan> plan = apply(ops);
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<int64_t> EtcdStore::revision() {
  // Any read answers with the revision in its header; this one reads at most one key.
  nlohmann::json request = etcd::range_request(options_.prefix);
  request["count_only"] = true;
  Result<std::string> answer = call("kv/range", json::dump(request), true);
  if (!answer.ok()) return answer.error();
  return etcd::read_header_revision(*answer);
}

uint64_t EtcdStore::watch(std::string_view prefix, WatchCallback callback) {
  std::lock_guard lock(write_mutex_);
  return watches_.add(prefix, std::move(callback));
}

void EtcdStore::unwatch(uint64_t watch_id) { watches_.remove(watch_id); }

Result<CommitPlan> EtcdStore::apply(const std::vector<StoreOp>& ops) {
  if (Status s = check_ops(ops); !s.ok()) return s.error();
  if (ops.empty()) {
    Result<int64_t> revision = this->revision();
    if (!revision.ok()) return revision.error();
    return CommitPlan{*revision, {}};
  }
  const std::string body = json::dump(etcd::txn_request(ops, options_.prefix));
  std::unique_lock lock(write_mutex_);
  Result<std::string> answer = call("kv/txn", body, false);
  if (!answer.ok()) return answer.error();
  Result<CommitPlan> plan = etcd::read_txn_answer(ops, *answer);
  if (!plan.ok() || plan->changes.empty()) return plan;
  watches_.deliver(plan->changes, lock);
  return plan;
}

Result<std::string> EtcdStore::call(std::string_view method, const std::string& body,
                                    bool read_only) {
  const std::string target = "/v3/" + std::string(method);
  const std::vector<std::string>& endpoints = options_.endpoints;
  const size_t first = endpoint_.load();
  std::string failures;
  for (size_t attempt = 0; attempt < endpoints.size(); ++attempt) {
    const size_t index = (first + attempt) % endpoints.size();
    const std::string& endpoint = endpoints[index];
    Result<http::ClientResponse> answer =
        http::request(endpoint, "POST", target, body, options_.request_timeout_ms,
                      {{"Content-Type", "application/json"}}, kMaxAnswerBytes);
    if (!answer.ok()) {
      const Error& error = answer.error();
      if (error.code != ErrorCode::kUnavailable) return error;
      if (!read_only && !never_sent(error)) {
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
    if (!read_only) {
      // E.g. "request timed out, possibly due to previous leader failure": the proposal may
      // still commit.
      error.message += kOutcomeUnknown;
      return error;
    }
    failures += "; " + error.message;
  }
  return make_error(ErrorCode::kUnavailable, "no etcd endpoint answered " + target + failures +
                                                 "; check that etcd runs at " + joined(endpoints));
}

}  // namespace berth
