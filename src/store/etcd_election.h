// LeaderElection: one master's candidacy for the leadership of a cluster whose state is in etcd
// (docs/architecture.md §5, "Leader election"). The candidate holds an etcd lease, keeps it
// alive, and campaigns with one transaction: if the leader key (prefix + "leader") was never
// created, put the candidate's identity there on the lease. The candidate that created the key
// leads, until the key is gone or no longer the one it created, or its lease may have expired.
// The leadership is the key's create_revision, R: Fence{key, R} fences the leader's writes
// (EtcdStore::set_fence), so a master deposed without knowing it cannot write.
//
// The safety rule. The lease's deadline is measured on this machine from when the grant or
// keepalive request was SENT, plus the TTL etcd granted: etcd restarts the lease's TTL no
// earlier than it receives the request, so etcd cannot expire the lease before that local
// deadline (clocks running at the same rate). The moment the deadline passes the candidate stops
// leading (is_leader() reads the clock), even if etcd cannot be reached to tell it so; a leader
// paused for longer than its TTL therefore knows, when it resumes, that it may be deposed.
//
// etcd raises a TTL below its floor without saying so except in the grant's answer: 2 s for
// etcd 3.4 with its default --election-timeout of 1000 ms (the floor is 1.5 election timeouts,
// rounded up to whole seconds). The candidate uses the TTL granted, not the one asked for.
//
// Rounds. step() does one round: give up the lease if its deadline passed (revoking it, best
// effort); grant a lease if there is none; else keep it alive; then campaign if not leading,
// or check that the key is still ours if leading. start() runs rounds on a thread every
// ttl/3 (and at the lease deadline), as etcd's own clients keep leases alive. Requests wait at
// most until the lease deadline, so a leader blocked on an unreachable etcd is back to notice
// the deadline when it passes.
// Thread-safe. Callbacks run on the thread doing the round (the election thread after start(),
// or the caller of step() or resign()); they may call is_leader(), fence() and leader(), but not
// step(), resign() or stop().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "store/etcd_client.h"
#include "store/etcd_wire.h"

namespace berth {

struct LeaderElectionOptions {
  // etcd's client URLs, as EtcdStoreOptions::endpoints.
  std::vector<std::string> endpoints;
  // The cluster's key prefix, the EtcdStore's: the leader key is prefix + "leader". Store keys
  // start with '/', so it is no Store key's name.
  std::string prefix = "/berth/";
  // Who this candidate is: the master's advertised "host:port", what leader() returns.
  std::string identity;
  // The lease TTL asked for; etcd may grant more (its floor, see above).
  int64_t ttl_seconds = 3;
  // The longest a request waits for etcd; never past the lease's deadline.
  int request_timeout_ms = 10000;
  // Called when this candidate starts leading, with the fence of its leadership.
  std::function<void(const Fence&)> on_elected;
  // Called when it stops leading: its lease may have expired, the key is gone or another's, or
  // it resigned. Not called after stop().
  std::function<void()> on_deposed;
};

class LeaderElection {
 public:
  // Checks the options: kInvalidArgument for no endpoints, a URL that is not http(s), a prefix
  // not ending with '/', an empty identity or a TTL below 1. Sends nothing.
  static Result<std::unique_ptr<LeaderElection>> create(LeaderElectionOptions options,
                                                        const Clock& clock);
  // Stops (see stop()).
  ~LeaderElection();
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  // Runs rounds on a thread of its own until stop().
  void start();
  // Stops the thread without resigning or revoking the lease, as a crash would: others lead
  // once the lease expires at etcd. Call resign() first to hand over promptly. Returns once
  // the round in progress has ended (its requests wait until the lease deadline at most, a
  // grant the request timeout). Idempotent.
  void stop();
  // One round (see above), for tests and for callers that drive the election themselves. The
  // error of the round's first failed request; the candidate's state is consistent either way.
  Status step();

  // Whether this candidate leads now: it won, has seen nothing saying otherwise, and its lease
  // deadline has not passed.
  bool is_leader() const;
  // The fence of the current leadership; nullopt when not leading.
  std::optional<Fence> fence() const;
  // The identity of the current leader, read from etcd now; nullopt when nobody leads.
  Result<std::optional<std::string>> leader() const;
  // Ends this candidate's leadership: deletes the leader key if it is still the one it created
  // (for DELETE /v2/leader), and does not campaign again for one TTL, so another candidate
  // takes over. Not leading: does nothing. The candidate stops leading even if etcd cannot be
  // reached (then the error is returned and the key goes when the lease expires).
  Status resign();

  // The TTL etcd granted the current lease; 0 before the first grant.
  int64_t granted_ttl_seconds() const;
  // The current lease's local deadline (clock's monotonic time): when its last successful
  // grant or keepalive was sent, plus the TTL granted. MonoTime{} when there is no lease.
  MonoTime lease_deadline() const;

 private:
  LeaderElection(LeaderElectionOptions options, const Clock& clock);
  // The round's parts, with round_mutex_ held.
  Status ensure_lease();
  Status campaign_or_check();
  // How long a request may wait now: the request timeout, capped by the lease deadline.
  int request_budget_ms() const;
  // Marks this candidate as not leading; returns whether it was, so the caller calls
  // on_deposed. Takes mutex_.
  bool depose();
  void run();

  const LeaderElectionOptions options_;
  const Clock& clock_;
  const EtcdClient client_;
  const std::string key_;

  std::mutex round_mutex_;  // one round or resign at a time
  // Guarded by mutex_ (taken inside round_mutex_, never the other way round):
  mutable std::mutex mutex_;
  int64_t lease_id_ = 0;  // 0: none
  int64_t granted_ttl_ = 0;
  MonoTime deadline_{};  // of the lease, measured from the send of its last grant or keepalive
  std::optional<Fence> leading_;
  MonoTime hold_off_until_{};  // no campaign before this, after resign()
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace berth
