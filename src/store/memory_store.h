// MemoryStore: the in-memory fake of Store for unit tests and simulations. Same semantics as
// SqliteStore exactly (both run tests/contract/store_contract_test.cpp), nothing durable.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/commit_plan.h"
#include "store/store.h"
#include "store/watch_hub.h"

namespace berth {

class MemoryStore final : public Store {
 public:
  Result<std::optional<KeyValue>> get(std::string_view key) override;
  Result<int64_t> put(std::string_view key, std::string_view value) override;
  Result<bool> erase(std::string_view key) override;
  Result<int64_t> compare_and_swap(std::string_view key, std::string_view value,
                                   int64_t expected_mod_revision) override;
  Result<std::vector<KeyValue>> list(std::string_view prefix) override;
  Result<int64_t> commit(const std::vector<StoreOp>& ops) override;
  Result<int64_t> revision() override;
  uint64_t watch(std::string_view prefix, WatchCallback callback) override;
  void unwatch(uint64_t watch_id) override;

 private:
  // Checks, applies and delivers one transaction.
  Result<CommitPlan> apply(const std::vector<StoreOp>& ops);

  std::mutex mutex_;  // guards entries_ and revision_
  std::map<std::string, KeyValue, std::less<>> entries_;
  int64_t revision_ = 0;
  WatchHub watches_;
};

}  // namespace berth
