// A discrete-event simulation of the shipping master core with agents (docs/fencing.md §7):
// `master::MasterCore`s over one `MemoryStore` that outlives them, and 2-4 agents whose lease
// is the shipping `lease::AgentLease` and whose dataset convergence is the shipping
// `agent::compute_dataset_changes`, attaching through the shipping epoch rules of the storage
// (`volume/epoch_rules.h`). Every node's clock runs at its own rate; messages (registration,
// heartbeats and their answers, command polls) go over a network that drops, duplicates,
// delays and reorders them; seeded faults pause, crash and partition agents, restart the master
// and fail it over. A restart builds a new core on the same node, which loads the store. A
// failover is an HA master's (docs/architecture.md §5, "Leader election"): a new leader on
// another node, with its own clock, loads the store and takes over, while the old one runs on
// without knowing it was deposed, as a leader paused past its lease does until its election
// thread notices. Its store is fenced from that moment, as `EtcdStore::set_fence` fences it:
// every write it attempts fails with kPreconditionFailed "not the leader" and changes nothing;
// reads go through. Until a seeded moment up to 2 L after the takeover it still answers the
// requests agents sent it before they turned to the new leader, runs its reconcile loop and
// gets half the user's requests; then it stops. A user moves datasets through the Flocker API
// at random, and now and then a writer (a container's mount) starts on a node where a dataset
// is attached, under a supervisor that kills it at the lease deadline its agent last gave it.
// The user also runs one app with an external volume through the API: the master creates its
// dataset, places its task (master/plan.h), moves the dataset with it, launches it once the
// dataset is attached and replaces it when its node is lost; agents run launched tasks as
// writers under the same rules, report them in status updates (resent until acknowledged) and
// on registration.
//
// After every step it checks: no dataset is written from two nodes at once; no writer starts
// unless the storage records its node as the holder at its epoch; every write a deposed master
// attempted was refused, and the store changed only through the leader (its revision is the one
// the leader's last write left). Whenever a master loads the store, and once more at the end,
// every move and the app the master acknowledged are in it and no epoch is lower than one a
// leader has shown (the leader's own state is held to that at every reconcile too). After the
// faults stop, every dataset must end up attached on its primary only, and the app must have
// exactly one task, running, on the node the master says. The same seed gives the same run.
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
  kLeaseFromAckArrival,    // agents count the lease from when the answer arrived
  kNoSupervisor,           // writers outlive a paused agent's lease
  kUnfencedDeposedLeader,  // a deposed master's writes reach the store
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
  // Whether the store may change only through the leader is checked after every step; without
  // that check a stray write is caught only by what it does (an epoch going back, an
  // acknowledged change lost).
  bool check_store_writers = true;
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
  uint64_t master_failovers = 0;        // another master elected while the old one runs on
  uint64_t deposed_answers = 0;         // requests a deposed master handled before it noticed
  uint64_t deposed_writes_refused = 0;  // its writes the store refused
};

MasterSimResult run_master_sim(const MasterSimConfig& config);

}  // namespace berth::sim
