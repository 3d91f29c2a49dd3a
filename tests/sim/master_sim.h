// A discrete-event simulation of the shipping master core with agents (docs/fencing.md §7):
// one `master::MasterCore` over a `MemoryStore` that outlives master restarts, and 2-4
// agents whose lease is the shipping `lease::AgentLease` and whose dataset convergence is the
// shipping `agent::compute_dataset_changes`, attaching through the shipping epoch rules of
// the storage (`volume/epoch_rules.h`). Every node's clock runs at its own rate; messages
// (registration, heartbeats and their answers, command polls) go over a network that drops,
// duplicates, delays and reorders them; seeded faults pause, crash and partition agents and
// restart the master. A user moves datasets through the Flocker API at random, and now and
// then a writer (a container's mount) starts on a node where a dataset is attached, under a
// supervisor that kills it at the lease deadline its agent last gave it. The user also runs one
// app with an external volume through the API: the master creates its dataset, places its task
// (master/plan.h), moves the dataset with it, launches it once the dataset is attached and
// replaces it when its node is lost; agents run launched tasks as writers under the same rules,
// report them in status updates (resent until acknowledged) and on registration.
//
// After every step it checks: no dataset is written from two nodes at once; no writer starts
// unless the storage records its node as the holder at its epoch; every move and the app the
// master acknowledged are in the store after a master restart, and epochs never drop. After
// the faults stop, every dataset must end up attached on its primary only, and the app must
// have exactly one task, running, on the node the master says. The same seed gives the same
// run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lease/lease_options.h"

namespace berth::sim {

// A deliberately broken rule, to show that the checker catches what it should.
enum class MasterSimFlaw {
  kNone,
  kLeaseFromAckArrival,  // agents count the lease from when the answer arrived
  kNoSupervisor,         // writers outlive a paused agent's lease
};

struct MasterSimConfig {
  uint64_t seed = 1;
  int agents = 0;    // 2..4; 0 picks from the seed
  int datasets = 0;  // 1..3; 0 picks from the seed
  // Faults and moves happen until `duration`; then the cluster gets `settle` to converge.
  std::chrono::milliseconds duration{40000};
  std::chrono::milliseconds settle{15000};
  lease::LeaseOptions options;
  double max_drift = 0.01;  // every clock runs at a rate within 1 +- max_drift
  double drop = 0.1;        // chance a message is lost
  double duplicate = 0.05;  // chance a message is delivered twice
  // The mean time between two faults; 0 picks it from the seed, between 1 s and 10 s.
  std::chrono::milliseconds mean_fault_interval{0};
  std::chrono::milliseconds mean_move_interval{1500};
  MasterSimFlaw flaw = MasterSimFlaw::kNone;
  // Called with a line for every notable step (and the master's own log), for replaying one
  // seed by hand.
  std::function<void(const std::string&)> trace;
};

struct MasterSimResult {
  std::optional<std::string> violation;  // the first one, naming the seed and the time
  uint64_t steps = 0;
  uint64_t writer_starts = 0;
  uint64_t fences = 0;
  uint64_t supervisor_kills = 0;
  uint64_t moves_accepted = 0;
  uint64_t moves_refused = 0;
  uint64_t attaches = 0;
  uint64_t registrations = 0;
  uint64_t task_launches = 0;  // the app's tasks started by their agents
  uint64_t task_moves = 0;     // ... of which on another node than the one before
  uint64_t agent_pauses = 0;
  uint64_t agent_crashes = 0;
  uint64_t partitions = 0;
  uint64_t master_restarts = 0;
};

MasterSimResult run_master_sim(const MasterSimConfig& config);

}  // namespace berth::sim
