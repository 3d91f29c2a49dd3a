#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <utility>

#include "base/check.h"

namespace berth {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

// The revision lives in meta so that it survives erases and restarts; kv rows are etcd's.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('schema_version', 1);
)sql";

// Indexed by SqliteStore::Sql.
constexpr const char* kStatements[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key = ?1",
    "SELECT create_rev, mod_rev, version FROM kv WHERE key = ?1",
    "SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key >= ?1 ORDER BY key",
    "SELECT key, value, create_rev, mod_rev, version FROM kv WHERE key >= ?1 AND key < ?2 "
    "ORDER BY key",
    "INSERT INTO kv (key, value, create_rev, mod_rev, version) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, "
    "version = excluded.version",
    "DELETE FROM kv WHERE key = ?1",
    "SELECT value FROM meta WHERE name = 'revision'",
    "UPDATE meta SET value = ?1 WHERE name = 'revision'",
};

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kUnavailable;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_CANTOPEN:
      return ErrorCode::kPermissionDenied;
    default:
      return ErrorCode::kInternal;
  }
}

std::string hint_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return " (another process holds the store; stop it or retry)";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return " (check that the file and its directory are writable by this user)";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return " (the file is not a berth store or is damaged; restore it from a backup)";
    case SQLITE_FULL:
      return " (the disk is full; free space and retry)";
    default:
      return "";
  }
}

Error sqlite_failure(sqlite3* db, int rc, const std::string& path, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return make_error(code_for(rc),
                    "store " + path + ": " + std::string(what) + ": " + detail + hint_for(rc));
}

// Resets a cached statement and drops its bindings when the scope ends, so no statement keeps
// a read transaction open or points at a caller's buffer.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* statement) : statement_(statement) {}
  ~ResetOnExit() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* statement_;
};

// Binds without copying; the bytes must outlive the statement's use (ResetOnExit ends it).
int bind_text(sqlite3_stmt* statement, int index, std::string_view text) {
  return sqlite3_bind_text(statement, index, text.empty() ? "" : text.data(),
                           static_cast<int>(text.size()), SQLITE_STATIC);
}

int bind_blob(sqlite3_stmt* statement, int index, std::string_view bytes) {
  return sqlite3_bind_blob(statement, index, bytes.empty() ? "" : bytes.data(),
                           static_cast<int>(bytes.size()), SQLITE_STATIC);
}

std::string column_bytes(sqlite3_stmt* statement, int column) {
  const void* data = sqlite3_column_blob(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

// Reads a row of SELECT key, value, create_rev, mod_rev, version.
KeyValue read_key_value(sqlite3_stmt* statement) {
  return KeyValue{column_bytes(statement, 0), column_bytes(statement, 1),
                  sqlite3_column_int64(statement, 2), sqlite3_column_int64(statement, 3),
                  sqlite3_column_int64(statement, 4)};
}

std::string describe(const std::vector<StoreOp>& ops) {
  std::string text = "the transaction on key " + quote_key(ops.front().key);
  if (ops.size() > 1) text += " and " + std::to_string(ops.size() - 1) + " more";
  return text;
}

// kNotFound or kInvalidArgument when path cannot name a store file; runs before SQLite, whose
// own message for these cases ("unable to open database file") does not say which part is wrong.
Status check_store_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the store path is empty; give a file path");
  }
  std::error_code ec;
  fs::path directory = fs::path(path).parent_path();
  if (directory.empty()) directory = ".";
  if (!fs::exists(directory, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "store " + path + ": directory " + directory.string() +
                          " does not exist; create it or choose another path");
  }
  if (!fs::is_directory(directory, ec)) {
    return make_error(ErrorCode::kInvalidArgument, "store " + path + ": " + directory.string() +
                                                       " is not a directory; choose another path");
  }
  if (fs::is_directory(path, ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "store " + path + " is a directory; give the path of a file inside it");
  }
  return {};
}

// Runs a one-row query such as a PRAGMA and returns its first column as bytes; `what` says
// what the caller was doing, for the error.
Result<std::string> query_one(sqlite3* db, const std::string& path, const char* sql,
                              std::string_view what) {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &statement, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  if (rc != SQLITE_ROW) {
    Error error = rc == SQLITE_DONE
                      ? make_error(ErrorCode::kInternal, "store " + path + ": " +
                                                             std::string(what) + ": " + sql +
                                                             " returned nothing; the file is "
                                                             "damaged: restore it from a backup")
                      : sqlite_failure(db, rc, path, what);
    sqlite3_finalize(statement);
    return error;
  }
  std::string value = column_bytes(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

// WAL lets readers run beside the writer; synchronous=FULL makes each commit durable before
// it returns, which is what lets the master acknowledge a write.
Status configure_connection(sqlite3* db, const std::string& path) {
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  Result<std::string> mode =
      query_one(db, path, "PRAGMA journal_mode=WAL", "cannot switch to WAL mode");
  if (!mode.ok()) return mode.error();
  if (*mode != "wal") {
    return make_error(ErrorCode::kInternal, "store " + path + ": journal mode is " + *mode +
                                                " instead of wal; keep the store on a local disk");
  }
  const int rc = sqlite3_exec(db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_failure(db, rc, path, "cannot set synchronous=FULL");
  return {};
}

Status create_schema(sqlite3* db, const std::string& path) {
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqlite_failure(db, rc, path, "cannot create the tables");
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return error;
  }
  Result<std::string> version =
      query_one(db, path, "SELECT value FROM meta WHERE name = 'schema_version'",
                "cannot read the schema version");
  if (!version.ok()) return version.error();
  if (*version != std::to_string(kSchemaVersion)) {
    return make_error(ErrorCode::kInternal, "store " + path + " has schema version " + *version +
                                                " but this berth reads version " +
                                                std::to_string(kSchemaVersion) +
                                                "; run the berth release that wrote it");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(path);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  static_assert(std::size(kStatements) == kSqlCount);
  if (Status s = check_store_path(path); !s.ok()) return s.error();
  sqlite3* db = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr); rc != SQLITE_OK) {
    Error error = sqlite_failure(db, rc, path, "cannot open");
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, db));
  if (Status s = store->initialize(); !s.ok()) return s.error();
  return store;
}

SqliteStore::SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

SqliteStore::~SqliteStore() {
  for (sqlite3_stmt* statement : statements_) sqlite3_finalize(statement);
  sqlite3_close(db_);
}

Status SqliteStore::initialize() {
  if (Status s = configure_connection(db_, path_); !s.ok()) return s;
  if (Status s = create_schema(db_, path_); !s.ok()) return s;
  for (int i = 0; i < kSqlCount; ++i) {
    const int rc = sqlite3_prepare_v3(db_, kStatements[i], -1, SQLITE_PREPARE_PERSISTENT,
                                      &statements_[i], nullptr);
    if (rc != SQLITE_OK) {
      return sqlite_failure(db_, rc, path_, std::string("cannot prepare ") + kStatements[i]);
    }
  }
  return {};
}

Result<std::optional<KeyValue>> SqliteStore::get(std::string_view key) {
  if (Status s = check_key(key); !s.ok()) return s.error();
  std::lock_guard lock(mutex_);
  sqlite3_stmt* statement = statements_[kSelectKey];
  ResetOnExit reset(statement);
  int rc = bind_text(statement, 1, key);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  if (rc == SQLITE_DONE) return std::optional<KeyValue>();
  if (rc != SQLITE_ROW) return failure(rc, "cannot read key " + quote_key(key));
  return std::optional<KeyValue>(read_key_value(statement));
}

Result<int64_t> SqliteStore::put(std::string_view key, std::string_view value) {
  Result<CommitPlan> plan =
      apply({StoreOp{StoreOp::Kind::kPut, std::string(key), std::string(value), std::nullopt}});
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<bool> SqliteStore::erase(std::string_view key) {
  Result<CommitPlan> plan =
      apply({StoreOp{StoreOp::Kind::kErase, std::string(key), "", std::nullopt}});
  if (!plan.ok()) return plan.error();
  return !plan->changes.empty();
}

Result<int64_t> SqliteStore::compare_and_swap(std::string_view key, std::string_view value,
                                              int64_t expected_mod_revision) {
  Result<CommitPlan> plan = apply(
      {StoreOp{StoreOp::Kind::kPut, std::string(key), std::string(value), expected_mod_revision}});
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<std::vector<KeyValue>> SqliteStore::list(std::string_view prefix) {
  if (Status s = check_prefix(prefix); !s.ok()) return s.error();
  const std::optional<std::string> end = prefix_successor(prefix);
  std::lock_guard lock(mutex_);
  sqlite3_stmt* statement = statements_[end ? kListRange : kListFrom];
  ResetOnExit reset(statement);
  int rc = bind_text(statement, 1, prefix);
  if (rc == SQLITE_OK && end) rc = bind_text(statement, 2, *end);
  std::vector<KeyValue> result;
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW)
      result.push_back(read_key_value(statement));
  }
  if (rc != SQLITE_DONE) return failure(rc, "cannot list prefix " + quote_key(prefix));
  return result;
}

Result<int64_t> SqliteStore::commit(const std::vector<StoreOp>& ops) {
  Result<CommitPlan> plan = apply(ops);
  if (!plan.ok()) return plan.error();
  return plan->revision;
}

Result<int64_t> SqliteStore::revision() {
  std::lock_guard lock(mutex_);
  return read_revision();
}

uint64_t SqliteStore::watch(std::string_view prefix, WatchCallback callback) {
  std::lock_guard lock(mutex_);
  return watches_.add(prefix, std::move(callback));
}

void SqliteStore::unwatch(uint64_t watch_id) { watches_.remove(watch_id); }

Result<CommitPlan> SqliteStore::apply(const std::vector<StoreOp>& ops) {
  if (Status s = check_ops(ops); !s.ok()) return s.error();
  std::unique_lock lock(mutex_);
  {
    ResetOnExit reset(statements_[kBegin]);
    if (int rc = sqlite3_step(statements_[kBegin]); rc != SQLITE_DONE) {
      return failure(rc, "cannot begin a write transaction");
    }
  }
  Result<CommitPlan> plan = write_in_transaction(ops);
  if (!plan.ok()) {
    rollback();
    return plan;
  }
  {
    ResetOnExit reset(statements_[kCommit]);
    if (int rc = sqlite3_step(statements_[kCommit]); rc != SQLITE_DONE) {
      Error error = failure(rc, "cannot commit " + describe(ops));
      rollback();
      return error;
    }
  }
  if (!plan->changes.empty()) watches_.deliver(plan->changes, lock);
  return plan;
}

Result<CommitPlan> SqliteStore::write_in_transaction(const std::vector<StoreOp>& ops) {
  Result<int64_t> revision = read_revision();
  if (!revision.ok()) return revision.error();
  std::vector<std::optional<KeyMeta>> current;
  current.reserve(ops.size());
  for (const StoreOp& op : ops) {
    Result<std::optional<KeyMeta>> meta = read_meta(op.key);
    if (!meta.ok()) return meta.error();
    current.push_back(*meta);
  }
  Result<CommitPlan> plan = plan_commit(ops, current, *revision);
  if (!plan.ok() || plan->changes.empty()) return plan;
  for (const WatchEvent& change : plan->changes) {
    if (Status s = write_change(change); !s.ok()) return s.error();
  }
  sqlite3_stmt* statement = statements_[kUpdateRevision];
  ResetOnExit reset(statement);
  int rc = sqlite3_bind_int64(statement, 1, plan->revision);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE)
    return failure(rc, "cannot record revision " + std::to_string(plan->revision));
  return plan;
}

Result<int64_t> SqliteStore::read_revision() {
  sqlite3_stmt* statement = statements_[kSelectRevision];
  ResetOnExit reset(statement);
  const int rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW) return static_cast<int64_t>(sqlite3_column_int64(statement, 0));
  if (rc == SQLITE_DONE) {
    return make_error(ErrorCode::kInternal, "store " + path_ +
                                                ": the meta table has no revision row; the file "
                                                "is damaged: restore it from a backup");
  }
  return failure(rc, "cannot read the store revision");
}

Result<std::optional<KeyMeta>> SqliteStore::read_meta(std::string_view key) {
  sqlite3_stmt* statement = statements_[kSelectMeta];
  ResetOnExit reset(statement);
  int rc = bind_text(statement, 1, key);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  if (rc == SQLITE_DONE) return std::optional<KeyMeta>();
  if (rc != SQLITE_ROW) return failure(rc, "cannot read key " + quote_key(key));
  return std::optional<KeyMeta>(KeyMeta{sqlite3_column_int64(statement, 0),
                                        sqlite3_column_int64(statement, 1),
                                        sqlite3_column_int64(statement, 2)});
}

Status SqliteStore::write_change(const WatchEvent& change) {
  const KeyValue& kv = change.kv;
  const bool is_put = change.kind == WatchEvent::Kind::kPut;
  sqlite3_stmt* statement = statements_[is_put ? kUpsert : kDelete];
  ResetOnExit reset(statement);
  int rc = bind_text(statement, 1, kv.key);
  if (is_put) {
    if (rc == SQLITE_OK) rc = bind_blob(statement, 2, kv.value);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(statement, 3, kv.create_revision);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(statement, 4, kv.mod_revision);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(statement, 5, kv.version);
  }
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE) {
    return failure(
        rc, std::string(is_put ? "cannot write" : "cannot erase") + " key " + quote_key(kv.key));
  }
  return {};
}

void SqliteStore::rollback() {
  if (sqlite3_get_autocommit(db_)) return;  // SQLite already rolled back
  ResetOnExit reset(statements_[kRollback]);
  sqlite3_step(statements_[kRollback]);
}

Error SqliteStore::failure(int rc, std::string_view what) const {
  return sqlite_failure(db_, rc, path_, what);
}

}  // namespace berth
