#include "store/memory_store.h"

#include <utility>

namespace berth {

std::unique_ptr<Store> make_memory_store() { return std::make_unique<MemoryStore>(); }

Result<std::optional<KeyValue>> MemoryStore::get(std::string_view key) {
  if (Status s = check_key(key); !s.ok()) return s.error();
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(it->second);
}

Result<int64_t> MemoryStore::put(std::string_view key, std::string_view value) {
  Result<CommitPlan> plan =
      apply({StoreOp{StoreOp::Kind::kPut, std::string(key), std::string(value), std::nullopt}});
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<bool> MemoryStore::erase(std::string_view key) {
  Result<CommitPlan> plan =
      apply({StoreOp{StoreOp::Kind::kErase, std::string(key), "", std::nullopt}});
  if (!plan.ok()) return plan.error();
  return !plan->changes.empty();
}

Result<int64_t> MemoryStore::compare_and_swap(std::string_view key, std::string_view value,
                                              int64_t expected_mod_revision) {
  Result<CommitPlan> plan = apply(
      {StoreOp{StoreOp::Kind::kPut, std::string(key), std::string(value), expected_mod_revision}});
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<std::vector<KeyValue>> MemoryStore::list(std::string_view prefix) {
  if (Status s = check_prefix(prefix); !s.ok()) return s.error();
  std::lock_guard lock(mutex_);
  std::vector<KeyValue> result;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.starts_with(prefix); ++it) {
    result.push_back(it->second);
  }
  return result;
}

Result<int64_t> MemoryStore::commit(const std::vector<StoreOp>& ops) {
  Result<CommitPlan> plan = apply(ops);
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<int64_t> MemoryStore::revision() {
  std::lock_guard lock(mutex_);
  return revision_;
}

uint64_t MemoryStore::watch(std::string_view prefix, WatchCallback callback) {
  std::lock_guard lock(mutex_);
  return watches_.add(prefix, std::move(callback));
}

void MemoryStore::unwatch(uint64_t watch_id) { watches_.remove(watch_id); }

Result<CommitPlan> MemoryStore::apply(const std::vector<StoreOp>& ops) {
  if (Status s = check_ops(ops); !s.ok()) return s.error();
  std::unique_lock lock(mutex_);
  std::vector<std::optional<KeyMeta>> current;
  current.reserve(ops.size());
  for (const StoreOp& op : ops) {
    auto it = entries_.find(op.key);
    if (it == entries_.end()) {
      current.emplace_back();
    } else {
      const KeyValue& kv = it->second;
      current.push_back(KeyMeta{kv.create_revision, kv.mod_revision, kv.version});
    }
  }
  Result<CommitPlan> plan = plan_commit(ops, current, revision_);
  if (!plan.ok() || plan->changes.empty()) return plan;
  for (const WatchEvent& change : plan->changes) {
    if (change.kind == WatchEvent::Kind::kPut) {
      entries_.insert_or_assign(change.kv.key, change.kv);
    } else {
      entries_.erase(change.kv.key);
    }
  }
  revision_ = plan->revision;
  watches_.deliver(plan->changes, lock);
  return plan;
}

}  // namespace berth
