#include "store/etcd_store.h"

#include <utility>

#include "json/bounded.h"
#include "store/etcd_wire.h"

namespace berth {

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
    return make_error(
        revision.error().code,
        "cannot use etcd at " + store->client_.endpoint_list() + ": " + revision.error().message);
  }
  return store;
}

EtcdStore::EtcdStore(EtcdStoreOptions options)
    : options_(std::move(options)), client_(options_.endpoints, options_.request_timeout_ms) {}

Result<std::optional<KeyValue>> EtcdStore::get(std::string_view key) {
  if (Status s = check_key(key); !s.ok()) return s.error();
  const std::string body = json::dump(etcd::range_request(options_.prefix + std::string(key)));
  Result<std::string> answer = client_.call("kv/range", body, true);
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
  Result<std::string> answer = client_.call("kv/range", body, true);
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
  Result<std::string> answer = client_.call("kv/range", json::dump(request), true);
  if (!answer.ok()) return answer.error();
  return etcd::read_header_revision(*answer);
}

uint64_t EtcdStore::watch(std::string_view prefix, WatchCallback callback) {
  std::lock_guard lock(write_mutex_);
  return watches_.add(prefix, std::move(callback));
}

void EtcdStore::unwatch(uint64_t watch_id) { watches_.remove(watch_id); }

void EtcdStore::set_fence(std::optional<Fence> fence) {
  std::lock_guard lock(fence_mutex_);
  fence_ = std::move(fence);
}

Result<CommitPlan> EtcdStore::apply(const std::vector<StoreOp>& ops) {
  if (Status s = check_ops(ops); !s.ok()) return s.error();
  if (ops.empty()) {
    Result<int64_t> revision = this->revision();
    if (!revision.ok()) return revision.error();
    return CommitPlan{*revision, {}};
  }
  std::optional<Fence> fence;
  {
    std::lock_guard fence_lock(fence_mutex_);
    fence = fence_;
  }
  const std::string body = json::dump(etcd::txn_request(ops, options_.prefix, fence));
  std::unique_lock lock(write_mutex_);
  Result<std::string> answer = client_.call("kv/txn", body, false);
  if (!answer.ok()) return answer.error();
  Result<CommitPlan> plan = etcd::read_txn_answer(ops, *answer, fence);
  if (!plan.ok() || plan->changes.empty()) return plan;
  watches_.deliver(plan->changes, lock);
  return plan;
}

}  // namespace berth
