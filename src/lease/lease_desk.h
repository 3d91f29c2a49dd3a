// LeaseDesk: where the master renews agents' leases without waiting for anything else
// (docs/fencing.md §9). A heartbeat is checked against the agent's credential and stamped here,
// under a lock that guards nothing but this desk, so an agent's lease is renewed however long
// the master's state lock is held by API work, a store write or its fsync. The stamps reach
// MasterLeases, the authority on lost agents, in settle(), which the controller calls with the
// state lock held; settle() also closes the desk to the agents MasterLeases declares lost, in
// the same critical section, so a heartbeat is either stamped before that decision (and counts
// in it) or refused after it (and renews nothing).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"

namespace berth::lease {

class LeaseDesk {
 public:
  enum class Renewal {
    kRenewed,  // stamped: the agent's lease runs on
    kUnknown,  // not registered here, declared lost, or asked to register again
    kDenied,   // registered, but the credential is not its registration's
  };

  // `agent` registered with `secret` at `now`: its heartbeats are taken from here on.
  void admit(const std::string& agent, const std::string& secret, MonoTime now);
  // `agent` must register again before any heartbeat of it renews a lease.
  void close(const std::string& agent);
  // A heartbeat from `agent` carrying `secret` arrived at `now`.
  Renewal renew(const std::string& agent, const std::string& secret, MonoTime now);
  // What renew() would answer, stamping nothing (the agents' other calls).
  Renewal check(const std::string& agent, const std::string& secret) const;

  // Under the desk's lock: hands every stamp taken since the last settle() to `take` (agent,
  // newest arrival), then asks `decide` which agents are lost and closes the desk to them.
  // Returns what `decide` returned.
  std::vector<std::string> settle(const std::function<void(const std::string&, MonoTime)>& take,
                                  const std::function<std::vector<std::string>()>& decide);

  // The newest stamp of `agent`, or a default MonoTime if none.
  MonoTime last_stamp(const std::string& agent) const;

 private:
  Renewal check_locked(const std::string& agent, const std::string& secret) const;
  struct Entry {
    std::string secret;
    MonoTime stamp{};
    bool open = false;
    bool fresh = false;  // stamped since the last settle()
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // never erased, so fresh_ stays valid
  std::vector<std::map<std::string, Entry>::iterator> fresh_;  // stamped since the last settle()
};

}  // namespace berth::lease
