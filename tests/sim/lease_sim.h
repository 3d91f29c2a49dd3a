// A discrete-event simulation of the lease and fencing protocol (docs/fencing.md §3, §7): one
// master and 2-4 agents on a virtual clock, each node's clock running at its own rate, messages
// over a lossy network, and seeded faults (agent pauses and crashes, partitions, master restarts).
// Agents run lease::AgentLease, the master runs lease::MasterLeases, and every task that
// writes a dataset runs under a supervisor that kills it at the deadline its agent last gave
// it, even while the agent is paused or gone.
//
// The master now and then moves a dataset while its node is alive (a rebalance), so the new
// node must wait for the old one to let go (docs/fencing.md §4). After every step it checks the
// safety invariant: no dataset is written by live tasks on two nodes at once, and no writer
// starts under an epoch the master did not grant its node. The same seed gives the same run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lease/lease_options.h"

namespace berth::sim {

// A deliberately broken rule, to show that the checker catches what it should.
enum class Flaw {
  kNone,
  kLeaseFromAckArrival,  // agents count the lease from when the answer arrived
  kNoMargin,             // the master declares agents lost after L, leaving no room for drift
  kNoRestartGrace,       // a restarted master declares agents it has not heard lost at once
  // The agent does not say which answers it applied before its report (applied_seq), so a
  // grant ends with the first report that does not show the dataset.
  kNoAppliedSeq,
};

struct LeaseSimConfig {
  uint64_t seed = 1;
  int agents = 0;    // 2..4; 0 picks from the seed
  int datasets = 0;  // 1..agents; 0 picks from the seed
  std::chrono::milliseconds duration{120000};
  lease::LeaseOptions options;
  double max_drift = 0.01;  // every clock runs at a rate within 1 +- max_drift
  double drop = 0.1;        // chance a message is lost
  double duplicate = 0.05;  // chance a message is delivered twice
  // The mean time between two faults; 0 picks it from the seed, between 1 s and 10 s.
  std::chrono::milliseconds mean_fault_interval{0};
  Flaw flaw = Flaw::kNone;
  // Called with a line for every notable step, for replaying one seed by hand.
  std::function<void(const std::string&)> trace;
};

struct LeaseSimResult {
  std::optional<std::string> violation;  // the first one, naming the seed and the time
  uint64_t steps = 0;
  uint64_t writer_starts = 0;
  uint64_t fences = 0;            // lease lapses the agent process acted on
  uint64_t supervisor_kills = 0;  // deadlines enforced by a supervisor
  uint64_t moves = 0;             // datasets moved away from an agent (lost or not)
  uint64_t agent_pauses = 0;
  uint64_t agent_crashes = 0;
  uint64_t partitions = 0;
  uint64_t master_restarts = 0;
};

LeaseSimResult run_lease_sim(const LeaseSimConfig& config);

}  // namespace berth::sim
