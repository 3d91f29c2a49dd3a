// LeaseOptions: the timing of the lease protocol (docs/fencing.md §3), shared by the agent's and
// the master's halves so both read the same numbers.
#pragma once

#include <chrono>

#include "base/result.h"

namespace berth::lease {

// The defaults here are the longer timing the unit tests and simulations are written against;
// the master's flags default to 200 ms, 1 s and 1.2 s (docs/fencing.md §9).
struct LeaseOptions {
  // How often an agent sends a heartbeat.
  std::chrono::milliseconds heartbeat_interval{500};
  // L: how long one acknowledged heartbeat lets the agent keep its exclusive datasets,
  // counted from when that heartbeat was sent.
  std::chrono::milliseconds lease{2500};
  // What the master waits beyond L before declaring an agent lost. It covers the drift
  // between the agent's and the master's clock rates over one lease.
  std::chrono::milliseconds margin{500};

  // How long after the last received heartbeat the master declares an agent lost.
  std::chrono::milliseconds lost_after() const { return lease + margin; }
};

// The one check of these numbers (docs/fencing.md §3): 0 < heartbeat_interval < lease, and a
// margin of at least a tenth of the lease (clock rates may differ by a few per cent) and at
// least 100 ms. kInvalidArgument naming the master's flags otherwise.
Status check_timing(const LeaseOptions& options);

// The timing a master answering at most `max_heartbeats_per_second` gives a fleet of `agents`
// (docs/fencing.md §10): `base` with every duration multiplied by the smallest whole k >= 1
// for which the fleet's heartbeats fit, agents * 1 s / (k * interval) <= the maximum. So the
// interval, the lease and the margin keep their ratios and check_timing() holds for the
// result. A maximum of 0 or less keeps `base` whatever the fleet.
LeaseOptions fleet_timing(const LeaseOptions& base, size_t agents,
                          int64_t max_heartbeats_per_second);

}  // namespace berth::lease
