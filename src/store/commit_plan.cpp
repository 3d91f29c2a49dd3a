#include "store/commit_plan.h"

#include <set>

#include "base/check.h"

namespace berth {
namespace {

constexpr size_t kQuotedKeyBytes = 200;

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string conflict_message(const StoreOp& op, const std::optional<KeyMeta>& current) {
  const int64_t expected = *op.expected_mod_revision;
  std::string message = "conflict on key " + quote_key(op.key) + ": ";
  if (expected == 0) {
    message += "expected it to be absent, but it exists at mod_revision " +
               std::to_string(current->mod_revision);
  } else if (!current) {
    message += "expected mod_revision " + std::to_string(expected) + ", but the key does not exist";
  } else {
    message += "expected mod_revision " + std::to_string(expected) + ", but it is " +
               std::to_string(current->mod_revision);
  }
  return message + "; nothing was changed: read the key again and retry";
}

}  // namespace

Status check_key(std::string_view key) {
  if (key.empty()) return invalid("the key is empty; store keys must be non-empty");
  if (key.size() > kMaxKeyBytes) {
    return invalid("key " + quote_key(key) + " is " + std::to_string(key.size()) +
                   " bytes; the limit is " + std::to_string(kMaxKeyBytes));
  }
  if (key.find('\0') != std::string_view::npos) {
    return invalid("key " + quote_key(key) + " contains a NUL byte; store keys must not");
  }
  return {};
}

Status check_prefix(std::string_view prefix) {
  if (prefix.find('\0') != std::string_view::npos) {
    return invalid("prefix " + quote_key(prefix) + " contains a NUL byte; store keys never do");
  }
  return {};
}

Status check_ops(const std::vector<StoreOp>& ops) {
  std::set<std::string_view> seen;
  for (const StoreOp& op : ops) {
    if (Status s = check_key(op.key); !s.ok()) return s;
    if (op.kind == StoreOp::Kind::kPut && op.value.size() > kMaxValueBytes) {
      return invalid("the value for key " + quote_key(op.key) + " is " +
                     std::to_string(op.value.size()) + " bytes; the limit is " +
                     std::to_string(kMaxValueBytes));
    }
    if (op.expected_mod_revision && *op.expected_mod_revision < 0) {
      return invalid("expected mod_revision " + std::to_string(*op.expected_mod_revision) +
                     " for key " + quote_key(op.key) +
                     " is negative; use 0 for \"the key must not exist\"");
    }
    if (!seen.insert(op.key).second) {
      return invalid("key " + quote_key(op.key) +
                     " appears twice in one transaction; combine its operations into one");
    }
  }
  return {};
}

Result<CommitPlan> plan_commit(const std::vector<StoreOp>& ops,
                               const std::vector<std::optional<KeyMeta>>& current,
                               int64_t revision) {
  BERTH_CHECK(ops.size() == current.size());
  BERTH_CHECK(revision >= 0);
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!ops[i].expected_mod_revision) continue;
    const int64_t actual = current[i] ? current[i]->mod_revision : 0;
    if (actual != *ops[i].expected_mod_revision) {
      return make_error(ErrorCode::kConflict, conflict_message(ops[i], current[i]));
    }
  }
  const int64_t next = revision + 1;
  CommitPlan plan;
  for (size_t i = 0; i < ops.size(); ++i) {
    const StoreOp& op = ops[i];
    const std::optional<KeyMeta>& meta = current[i];
    if (op.kind == StoreOp::Kind::kPut) {
      KeyValue kv{op.key, op.value, meta ? meta->create_revision : next, next,
                  meta ? meta->version + 1 : 1};
      plan.changes.push_back(WatchEvent{WatchEvent::Kind::kPut, std::move(kv)});
    } else if (meta) {
      plan.changes.push_back(
          WatchEvent{WatchEvent::Kind::kErase, KeyValue{op.key, "", 0, next, 0}});
    }
  }
  plan.revision = plan.changes.empty() ? revision : next;
  return plan;
}

std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string successor(prefix);
  while (!successor.empty() && static_cast<unsigned char>(successor.back()) == 0xff) {
    successor.pop_back();
  }
  if (successor.empty()) return std::nullopt;
  successor.back() = static_cast<char>(static_cast<unsigned char>(successor.back()) + 1);
  return successor;
}

std::string quote_key(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string quoted = "\"";
  for (char c : key.substr(0, kQuotedKeyBytes)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      quoted += "\\x";
      quoted += kHex[byte >> 4];
      quoted += kHex[byte & 0xf];
    } else {
      quoted += c;
    }
  }
  quoted += '"';
  if (key.size() > kQuotedKeyBytes) {
    quoted += " (first " + std::to_string(kQuotedKeyBytes) + " of " + std::to_string(key.size()) +
              " bytes)";
  }
  return quoted;
}

}  // namespace berth
