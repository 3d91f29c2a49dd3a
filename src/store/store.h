// Store: the master's durable key-value state (docs/architecture.md §5), modelled on etcd: every
// key has create/mod revisions and a version; the store has one revision counter that grows by one
// per committed write or transaction. Nothing is acknowledged before it is durable.
// Implementations: SqliteStore (the embedded default), EtcdStore (on an etcd cluster) and
// MemoryStore (the fake for unit tests); all pass tests/contract/store_contract_test.cpp.
// Thread-safe.
//
// Revisions. SqliteStore and MemoryStore start at revision 0 and count only their own commits.
// EtcdStore's revision is etcd's: it starts at 1 and also counts writes that other clients make
// to the etcd cluster (other key prefixes included). So callers may rely on this, and no more:
// every committed change takes a revision greater than every earlier one, all changes of one
// transaction share it, a commit that changes nothing takes none, and with no other writer the
// next revision is exactly one more. Revisions order changes and serve as compare-and-swap
// tokens; they do not count them.
//
// Keys are non-empty byte strings of at most kMaxKeyBytes with no NUL byte; values are any
// bytes, at most kMaxValueBytes. A call that breaks these (a get or list prefix with a NUL
// byte too) fails with kInvalidArgument and changes nothing. Keys sort bytewise (unsigned), as
// memcmp does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth {

inline constexpr size_t kMaxKeyBytes = 4096;
inline constexpr size_t kMaxValueBytes = 16 * 1024 * 1024;

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // number of puts since creation
};

// One operation of an atomic transaction.
struct StoreOp {
  enum class Kind { kPut, kErase };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;
  // When set, the whole transaction fails with kConflict unless the key's mod_revision equals
  // this (0 means "the key must not exist").
  std::optional<int64_t> expected_mod_revision;
};

struct WatchEvent {
  enum class Kind { kPut, kErase };
  Kind kind = Kind::kPut;
  KeyValue kv;  // for kErase: key and the revision of the delete, value empty
};

class Store {
 public:
  virtual ~Store() = default;

  // The key's current value, or nullopt when absent.
  virtual Result<std::optional<KeyValue>> get(std::string_view key) = 0;
  // Creates or replaces; returns the new store revision.
  virtual Result<int64_t> put(std::string_view key, std::string_view value) = 0;
  // Removes the key; returns true if it existed. Erasing an existing key takes a new store
  // revision; erasing an absent key changes nothing, the revision included.
  virtual Result<bool> erase(std::string_view key) = 0;
  // Puts only if the key's mod_revision equals expected (0 = must not exist). kConflict
  // otherwise, with nothing changed. Returns the new store revision.
  virtual Result<int64_t> compare_and_swap(std::string_view key, std::string_view value,
                                           int64_t expected_mod_revision) = 0;
  // All keys starting with prefix, in key order.
  virtual Result<std::vector<KeyValue>> list(std::string_view prefix) = 0;
  // Applies every op atomically or none (kConflict when an expectation fails). Expectations
  // are checked against the state before the transaction, and every change it makes carries
  // the same new revision. A key may appear at most once (kInvalidArgument otherwise). A
  // transaction that changes nothing (no ops, or only erases of absent keys) keeps the
  // revision. Returns the store revision after the transaction.
  virtual Result<int64_t> commit(const std::vector<StoreOp>& ops) = 0;
  // The current store revision: 0 for a never-written SqliteStore or MemoryStore; etcd's current
  // revision (at least 1) for EtcdStore.
  virtual Result<int64_t> revision() = 0;

  // Calls `callback` after each committed change to a key under prefix made through this Store
  // object (EtcdStore does not see the writes of other clients of its etcd), in commit order, on
  // the committing thread, after the change is durable. The watch lasts until the returned
  // id is passed to unwatch(). A watch sees exactly the changes committed after watch()
  // returns, so "watch, then list" misses nothing (an event may repeat what the list already
  // shows; compare mod_revision). The events of one transaction arrive in op order;
  // a conflict or a change-nothing transaction sends none. Callbacks must not call back into
  // the store (watch and unwatch included); other commits wait while they run.
  // After unwatch() returns the callback is not called again; an unknown id is ignored.
  using WatchCallback = std::function<void(const WatchEvent&)>;
  virtual uint64_t watch(std::string_view prefix, WatchCallback callback) = 0;
  virtual void unwatch(uint64_t watch_id) = 0;
};

// Opens (creating if needed) the SQLite store at `path`: WAL mode, synchronous commits.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);
// The in-memory fake.
std::unique_ptr<Store> make_memory_store();

}  // namespace berth
