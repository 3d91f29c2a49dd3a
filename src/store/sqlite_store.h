// SqliteStore: the embedded Store (docs/architecture.md §5), one SQLite file in the master's data
// directory. WAL mode with synchronous=FULL, so every write is on disk before the call returns and
// the master may acknowledge it. Rows follow etcd: kv(key, value, create_rev, mod_rev, version)
// plus a meta table holding the store revision; every write is one IMMEDIATE transaction. One
// connection guarded by a mutex; statements are prepared once at open.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/commit_plan.h"
#include "store/store.h"
#include "store/watch_hub.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth {

class SqliteStore final : public Store {
 public:
  // Opens the store at path, creating the file and tables if needed. Fails with kNotFound
  // when path's directory does not exist (it is not created: a missing data directory is a
  // configuration error), kUnavailable when another process holds the file locked, and
  // kPermissionDenied or kInternal otherwise; every message names the path.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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
  enum Sql {
    kBegin,
    kCommit,
    kRollback,
    kSelectKey,
    kSelectMeta,
    kListFrom,
    kListRange,
    kUpsert,
    kDelete,
    kSelectRevision,
    kUpdateRevision,
    kSqlCount,
  };

  SqliteStore(std::string path, sqlite3* db);
  // Sets the connection up, creates the tables if needed and prepares the statements.
  Status initialize();
  // Checks, applies, makes durable and delivers one transaction.
  Result<CommitPlan> apply(const std::vector<StoreOp>& ops);
  // The body of apply()'s SQL transaction; the caller begins and ends it.
  Result<CommitPlan> write_in_transaction(const std::vector<StoreOp>& ops);
  Result<int64_t> read_revision();
  Result<std::optional<KeyMeta>> read_meta(std::string_view key);
  Status write_change(const WatchEvent& change);
  void rollback();
  // An error for a failed SQLite call: `what` failed at this store's path, with SQLite's text.
  Error failure(int rc, std::string_view what) const;

  const std::string path_;
  std::mutex mutex_;  // guards db_ and the statements
  sqlite3* db_;
  std::array<sqlite3_stmt*, kSqlCount> statements_{};
  WatchHub watches_;
};

}  // namespace berth
