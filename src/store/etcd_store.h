// EtcdStore: the Store on an etcd v3 cluster (docs/architecture.md §5), so that the master's
// state outlives the master's machine and several masters can share it. `berth master --store
// etcd://h1:2379,h2:2379/prefix` opens one (store/store_url.h). It speaks etcd's JSON gateway
// (/v3/kv/range, /v3/kv/txn) over berth's HTTP client: no gRPC.
//
// Mapping onto etcd. Every Store key K is the etcd key prefix+K, so clusters with different
// prefixes share one etcd. Each write is one etcd transaction: expectations become compares on
// the key's mod revision ("MOD EQUAL 0" for "must not exist"), and nothing is acknowledged
// before etcd answers, which it does once a quorum has the transaction in its log. KeyValue's
// create_revision, mod_revision and version are etcd's own, and the store revision is etcd's
// revision. Gaps against the Store contract in store/store.h, all stated there too:
//  - etcd's revision counts every write to the etcd cluster, under other prefixes too. A
//    committed change still takes exactly one new revision shared by all its changes, but the
//    revision may also grow between two writes of this store, and a fresh etcd starts at 1.
//  - etcd limits a request's size (--max-request-bytes, 1.5 MiB by default) and a
//    transaction's operations (--max-txn-ops, 128 by default). A write past either fails with
//    kInvalidArgument naming the flag; run etcd with --max-request-bytes=33554432 for values up
//    to kMaxValueBytes (base64 makes them a third larger on the wire).
//  - A write that etcd may have committed without saying so (no answer, or etcd's "request
//    timed out" after its leader died) fails with kUnavailable and is not retried: the caller
//    reads again. Nothing unacknowledged is reported as done, but such a write may be done.
//  - Watches see the changes committed through this EtcdStore object, delivered on the
//    committing thread after etcd acknowledged them, as SqliteStore does. Changes other
//    processes make under the same prefix are not delivered.
//  - Fencing (docs/architecture.md §5, "Leader election"): with set_fence(), every write
//    transaction also compares the leader key's create_revision with the fence's, so a master
//    that has lost the leadership it won cannot write, however late its write arrives. A write
//    refused by the fence fails with kPreconditionFailed, "not the leader ...", and changes
//    nothing; no other Store write fails with that code. Reads are not fenced.
// Thread-safe. Reads go to etcd concurrently; writes are serialised so that watches see them in
// revision order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/commit_plan.h"
#include "store/etcd_client.h"
#include "store/etcd_wire.h"
#include "store/store.h"
#include "store/watch_hub.h"

namespace berth {

struct EtcdStoreOptions {
  // Client URLs of the etcd members, "http://host:port" or "https://host:port". A request
  // that cannot reach one member goes to the next.
  std::vector<std::string> endpoints;
  // Prepended to every key; ends with '/' so that "/a/" and "/ab/" never overlap. Clusters
  // sharing an etcd must not nest their prefixes ("/a/" and "/a/b/").
  std::string prefix = "/berth/";
  int request_timeout_ms = 10000;
};

class EtcdStore final : public Store {
 public:
  // Checks the options and that some endpoint answers. kInvalidArgument for no endpoints or a
  // prefix that is empty or does not end with '/'; kUnavailable, naming every endpoint, when
  // none answers.
  static Result<std::unique_ptr<EtcdStore>> open(EtcdStoreOptions options);
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

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

  // Fences every later write on `fence` (LeaderElection::fence() of the leadership this master
  // won), or stops fencing with nullopt. A write already sent keeps the fence it was sent with.
  // Keep the fence after losing the leadership: writes then fail instead of going through.
  void set_fence(std::optional<Fence> fence);

 private:
  explicit EtcdStore(EtcdStoreOptions options);
  // Checks, sends and delivers one transaction.
  Result<CommitPlan> apply(const std::vector<StoreOp>& ops);

  const EtcdStoreOptions options_;
  const EtcdClient client_;
  std::mutex write_mutex_;  // one transaction in flight, so watches see revision order
  WatchHub watches_;
  mutable std::mutex fence_mutex_;
  std::optional<Fence> fence_;  // guarded by fence_mutex_
};

}  // namespace berth
