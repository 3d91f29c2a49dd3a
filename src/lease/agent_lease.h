// AgentLease: the agent's half of the lease protocol (docs/fencing.md §3) as a pure state machine.
// The agent's shell tells it when it sends a heartbeat and when an acknowledgment arrives,
// and ticks it; it answers with the lease deadline and with the moment the node must fence
// itself. It reads no clock: every time is the agent's monotonic time, passed in.
//
// The rule that keeps it safe: a lease runs from when the acknowledged heartbeat was *sent*,
// never from when the answer arrived. The master received that heartbeat no earlier than it
// was sent, and waits L + margin after the last heartbeat it received before it hands the
// node's datasets to another node, so this lease always ends first.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "base/clock.h"

namespace berth::lease {

// What one input did to the lease. Act on the fields in their order: fence first.
struct LeaseUpdate {
  // The lease ran out without renewal: kill every task that writes an exclusive dataset,
  // then detach those datasets. Reported once per lapse.
  bool fence = false;
  // A new lease began: the first one, or the first after a fence. A dataset fenced before
  // may be attached again only under a newer epoch from the master.
  bool granted = false;
  // The deadline moved later (also set with granted): hand deadline() to every task
  // supervisor.
  bool extended = false;
};

class AgentLease {
 public:
  // Heartbeats whose send time is kept while they await an answer. An answer to an older
  // one is ignored, which can only shorten the lease.
  static constexpr std::size_t kMaxOutstanding = 64;

  AgentLease() = default;

  // The lease of an agent process that restarted while its task supervisors still hold
  // `supervisor_deadline`, so it re-adopts their tasks without a fence. A deadline at or
  // before `now` gives an agent with no lease.
  static AgentLease resumed(MonoTime supervisor_deadline, MonoTime now);

  // The agent sent heartbeat `seq` at `now`. Sequence numbers must grow with every send and
  // must not be reused by a restarted agent (CHECKed within one AgentLease).
  void on_heartbeat_sent(uint64_t seq, MonoTime now);

  // The master acknowledged heartbeat `seq`, granting `lease_duration` from its send time.
  // A lapse that tick() has not reported yet is reported first (fence), so a late answer
  // can never bridge a gap in the lease. The answer is ignored (no granted/extended) when
  // `seq` is unknown or too old, when `lease_duration` is not positive, or when the lease it
  // grants has already ended by `now`. Duplicates and reordered answers are harmless.
  LeaseUpdate on_ack(uint64_t seq, std::chrono::nanoseconds lease_duration, MonoTime now);

  // Reports fence once when `now` has reached the deadline of a lease in force.
  LeaseUpdate tick(MonoTime now);

  // Whether a lease is in force as of the last input (it may have run out since; see
  // expired()).
  bool held() const { return held_; }
  // The end of the current lease, or of the last one after a fence; nullopt before the
  // first lease.
  std::optional<MonoTime> deadline() const { return deadline_; }
  // True when no lease covers `now`: none was granted, it was fenced, or it ran out.
  bool expired(MonoTime now) const { return !held_ || now >= *deadline_; }
  // How many times the lease lapsed into a fence.
  uint64_t fences() const { return fences_; }

 private:
  struct Sent {
    uint64_t seq;
    MonoTime at;
  };

  std::deque<Sent> outstanding_;  // ascending seq, at most kMaxOutstanding
  std::optional<uint64_t> last_sent_seq_;
  std::optional<MonoTime> deadline_;
  bool held_ = false;
  uint64_t fences_ = 0;
};

}  // namespace berth::lease
