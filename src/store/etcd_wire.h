// The pure half of EtcdStore: what it sends to etcd's JSON gateway and how it reads the
// answers, without the network. etcd's gateway carries keys and values as base64, int64 fields
// as JSON strings, and leaves out every field whose value is zero, false or empty (a failed
// transaction has no "succeeded", an empty value no "value").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/commit_plan.h"
#include "store/store.h"

namespace berth::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt for text that is not padded base64.
std::optional<std::string> base64_decode(std::string_view text);

// The /v3/kv/txn body for ops (which passed check_ops()), every key under `prefix`: a compare
// on the mod revision per expectation; on success the puts and deletes, asking for the previous
// key-values; on failure a keys-only range of every key with an expectation.
nlohmann::json txn_request(const std::vector<StoreOp>& ops, std::string_view prefix);
// The /v3/kv/range body for one key, or for every key in [key, range_end) when range_end is set.
nlohmann::json range_request(std::string_view key, std::optional<std::string> range_end = {});

// Reads etcd's answer to txn_request(ops, ...): the plan of what was committed (its changes
// carry etcd's revisions), or kConflict naming the key whose expectation failed, as
// plan_commit() decides for the other stores. kInternal for an answer that is not etcd's.
Result<CommitPlan> read_txn_answer(const std::vector<StoreOp>& ops, std::string_view answer);
// The key-values of a range answer, in etcd's (key) order, with `prefix` taken off their keys.
Result<std::vector<KeyValue>> read_range_answer(std::string_view answer, std::string_view prefix);
// The revision of the store when etcd answered (the answer's header).
Result<int64_t> read_header_revision(std::string_view answer);

// An error for a non-200 answer of `endpoint` to `method`: etcd's message with a code chosen by
// etcd's own (gRPC) code, and a hint naming the etcd flag when a request was too large.
Error read_error_answer(std::string_view endpoint, std::string_view method, int status,
                        std::string_view body);

}  // namespace berth::etcd
