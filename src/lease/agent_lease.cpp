#include "lease/agent_lease.h"

#include <algorithm>

#include "base/check.h"

namespace berth::lease {

AgentLease AgentLease::resumed(MonoTime supervisor_deadline, MonoTime now) {
  AgentLease lease;
  if (supervisor_deadline > now) {
    lease.deadline_ = supervisor_deadline;
    lease.held_ = true;
  }
  return lease;
}

void AgentLease::on_heartbeat_sent(uint64_t seq, MonoTime now) {
  BERTH_CHECK(!last_sent_seq_ || seq > *last_sent_seq_);
  last_sent_seq_ = seq;
  outstanding_.push_back(Sent{seq, now});
  if (outstanding_.size() > kMaxOutstanding) outstanding_.pop_front();
}

LeaseUpdate AgentLease::on_ack(uint64_t seq, std::chrono::nanoseconds lease_duration,
                               MonoTime now) {
  LeaseUpdate update = tick(now);
  auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                         [seq](const Sent& sent) { return sent.seq == seq; });
  if (it == outstanding_.end() || lease_duration <= std::chrono::nanoseconds::zero()) {
    return update;
  }
  MonoTime until = it->at + lease_duration;
  // Answers to older heartbeats can only grant less than this one did.
  outstanding_.erase(outstanding_.begin(), it + 1);
  if (until <= now) return update;
  if (!held_) {
    held_ = true;
    deadline_ = until;
    update.granted = true;
    update.extended = true;
  } else if (until > *deadline_) {
    deadline_ = until;
    update.extended = true;
  }
  return update;
}

LeaseUpdate AgentLease::tick(MonoTime now) {
  LeaseUpdate update;
  if (held_ && now >= *deadline_) {
    held_ = false;
    ++fences_;
    update.fence = true;
  }
  return update;
}

}  // namespace berth::lease
