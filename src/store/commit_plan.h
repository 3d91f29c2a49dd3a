// The pure half of every Store write, shared by SqliteStore and MemoryStore so the two cannot
// disagree: input checks, the transaction decision (conflict, or the changes to make and the
// new revision) and prefix arithmetic. No I/O; the stores fetch the current state, call
// plan_commit() and apply the plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace berth {

// What a store knows about an existing key, apart from its value.
struct KeyMeta {
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
};

// The outcome of a transaction whose expectations hold.
struct CommitPlan {
  int64_t revision = 0;  // the store revision after the transaction
  // The changes to apply, in op order; also the watch events to deliver. Puts carry the full
  // new KeyValue; erases appear only for keys that existed. Empty when nothing changes, and
  // then `revision` is the unchanged current revision.
  std::vector<WatchEvent> changes;
};

// kInvalidArgument unless key is non-empty, at most kMaxKeyBytes and free of NUL bytes.
Status check_key(std::string_view key);
// kInvalidArgument if prefix contains a NUL byte (no stored key can).
Status check_prefix(std::string_view prefix);
// Checks every key and value, that expectations are not negative and that no key appears
// twice. Run before looking anything up.
Status check_ops(const std::vector<StoreOp>& ops);

// Decides a transaction. current[i] is the state of ops[i].key before it (nullopt when absent)
// and `revision` the store revision before it. kConflict, naming the key and both revisions,
// when an expectation fails. ops must have passed check_ops().
Result<CommitPlan> plan_commit(const std::vector<StoreOp>& ops,
                               const std::vector<std::optional<KeyMeta>>& current,
                               int64_t revision);

// The smallest string greater than every string that starts with prefix, comparing bytes as
// unsigned; nullopt when there is none (prefix empty or all 0xff bytes). Lets a sorted store
// list a prefix as the range [prefix, successor) without pattern matching.
std::optional<std::string> prefix_successor(std::string_view prefix);

// The key in double quotes for error messages: bytes outside printable ASCII escaped as \xNN,
// long keys shortened.
std::string quote_key(std::string_view key);

}  // namespace berth
