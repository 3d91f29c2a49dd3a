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

namespace berth {

// The leadership a fenced write depends on (docs/architecture.md §5, "Leader election"): the
// etcd key that records the leader, and its create_revision when this master won it. A fenced
// transaction commits only while the key still has that create_revision, i.e. while the
// leadership this master won has not ended (expired, resigned or been deleted).
struct Fence {
  std::string key;  // the whole etcd key, prefix included, e.g. "/berth/leader"
  int64_t create_revision = 0;
};

}  // namespace berth

namespace berth::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt for text that is not padded base64.
std::optional<std::string> base64_decode(std::string_view text);

// The /v3/kv/txn body for ops (which passed check_ops()), every key under `prefix`: a compare
// on the mod revision per expectation; on success the puts and deletes, asking for the previous
// key-values; on failure a keys-only range of every key with an expectation. With a fence, a
// first compare that the fence's key has the fence's create_revision, and a first failure range
// of that key.
nlohmann::json txn_request(const std::vector<StoreOp>& ops, std::string_view prefix,
                           const std::optional<Fence>& fence = std::nullopt);
// The /v3/kv/range body for one key, or for every key in [key, range_end) when range_end is set.
nlohmann::json range_request(std::string_view key, std::optional<std::string> range_end = {});

// Reads etcd's answer to txn_request(ops, ...): the plan of what was committed (its changes
// carry etcd's revisions), or kConflict naming the key whose expectation failed, as
// plan_commit() decides for the other stores. kInternal for an answer that is not etcd's.
// With the fence the request carried: kPreconditionFailed, "not the leader ...", when the fence
// compare failed, whatever the other compares did.
Result<CommitPlan> read_txn_answer(const std::vector<StoreOp>& ops, std::string_view answer,
                                   const std::optional<Fence>& fence = std::nullopt);
// The key-values of a range answer, in etcd's (key) order, with `prefix` taken off their keys.
Result<std::vector<KeyValue>> read_range_answer(std::string_view answer, std::string_view prefix);
// The revision of the store when etcd answered (the answer's header).
Result<int64_t> read_header_revision(std::string_view answer);

// Leases and the leader key (store/etcd_election.h).
struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl_seconds = 0;  // what etcd granted: at least its floor, whatever was asked
};
// Who holds the leader key: the value is the leader's identity.
struct LeaderRecord {
  std::string identity;
  int64_t create_revision = 0;
  int64_t lease_id = 0;
};
struct CampaignOutcome {
  bool won = false;  // the key is ours (created now, or already on our lease)
  LeaderRecord leader;
};

// The /v3/lease/grant body, and its answer.
nlohmann::json lease_grant_request(int64_t ttl_seconds);
Result<LeaseGrant> read_lease_grant_answer(std::string_view answer);
// The body of /v3/lease/keepalive and /v3/lease/revoke: the lease's ID.
nlohmann::json lease_request(int64_t lease_id);
// The TTL left after a keepalive, as the gateway answers one request of the keepalive stream
// ({"result": {...}}); 0 when etcd no longer has the lease. kUnavailable for a stream error.
Result<int64_t> read_keepalive_answer(std::string_view answer);
// The campaign transaction: if `key` does not exist (create_revision 0), put `identity` there
// on the lease; else read the key.
nlohmann::json campaign_request(std::string_view key, std::string_view identity, int64_t lease_id);
Result<CampaignOutcome> read_campaign_answer(std::string_view answer, std::string_view identity,
                                             int64_t lease_id);
// Deletes the fence's key if it still has the fence's create_revision.
nlohmann::json resign_request(const Fence& fence);
// The leader record in an answer to range_request(key); nullopt when nobody leads.
Result<std::optional<LeaderRecord>> read_leader_answer(std::string_view answer);

// An error for a non-200 answer of `endpoint` to `method`: etcd's message with a code chosen by
// etcd's own (gRPC) code, and a hint naming the etcd flag when a request was too large.
Error read_error_answer(std::string_view endpoint, std::string_view method, int status,
                        std::string_view body);

}  // namespace berth::etcd
