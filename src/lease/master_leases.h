// MasterLeases: the master's half of the lease protocol (docs/fencing.md §3, §4) as a pure
// state machine, and the only place where the master decides which agents are lost, which
// epoch a dataset moves at, and when a node may attach a dataset. MasterCore and both
// simulations (tests/sim/) drive this class. It reads no clock: every time is the master's
// monotonic time, passed in.
//
// Agents. An agent is lost once L + margin has passed since its last received heartbeat. A
// master that (re)started at `started_at` counts every agent as heard at `started_at`, so it
// declares nobody lost before started_at + L + margin and agents have time to come back.
// declare_lost() turns "lost by the clock" into "declared lost", which lasts until the agent
// registers again.
//
// Datasets. Each dataset is assigned to one agent (its primary) at an epoch. A move assigns it
// elsewhere at once, at a larger epoch; the new agent may attach it only when no other agent
// that is not declared lost holds it: reports it attached, or was granted it (attach=true in
// a heartbeat answer) and has not shown since that it let go. A report counts only from a
// heartbeat newer than the last one taken, and a grant ends only with a report taken after
// the agent applied the answer that granted it (Heartbeat::applied_seq).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "lease/lease_options.h"

namespace berth::lease {

// Which agent a dataset is assigned to and at which epoch. Durable: the master persists it
// (as the dataset's primary and epoch) before anything acts on it.
struct DatasetHolder {
  std::string agent;   // empty when assigned to no agent
  uint64_t epoch = 0;  // the epoch of the latest assignment; never drops

  bool operator==(const DatasetHolder&) const = default;
};

class MasterLeases {
 public:
  MasterLeases(LeaseOptions options, MonoTime started_at);

  const LeaseOptions& options() const { return options_; }
  // Judges agents by `timing` from now on (lost L + margin after their last heartbeat). The
  // master sets the longest timing whose leases may still run (docs/fencing.md §10); the
  // restart grace stays what the constructor's timing made it.
  void set_timing(const LeaseOptions& timing) { options_ = timing; }

  // --- agents ---
  // A heartbeat (or a registration) from `agent` arrived at `now`. Earlier times than one
  // already seen are ignored.
  void on_heartbeat_received(const std::string& agent, MonoTime now);
  // Whether `agent` is lost at `now`: more than L + margin since its last heartbeat, or since
  // started_at if none arrived since.
  bool is_lost(const std::string& agent, MonoTime now) const;
  // When `agent` will be lost unless another heartbeat arrives.
  MonoTime lost_at(const std::string& agent) const;
  // The agents heard since started_at that are lost at `now`, sorted.
  std::vector<std::string> lost_agents(MonoTime now) const;
  // The last heartbeat from `agent` since started_at, if any.
  std::optional<MonoTime> last_received(const std::string& agent) const;
  // Declares lost the agents heard since started_at that are lost at `now` and were not
  // declared lost before, and returns them, sorted. They stay declared lost until
  // on_registered().
  std::vector<std::string> declare_lost(MonoTime now);
  bool declared_lost(const std::string& agent) const { return declared_lost_.count(agent) > 0; }
  // Whether `now` is within L + margin of started_at: nodes that held datasets before the
  // restart may not have registered again yet, and their leases may still run.
  bool in_restart_grace(MonoTime now) const;
  // `agent` registered (again) at `now`; its process had sent `heartbeat_seq` heartbeats. It
  // is no longer declared lost, reports count from that heartbeat on, and grants from answers
  // to heartbeats it never sent (a process that is gone) end at the first report.
  void on_registered(const std::string& agent, uint64_t heartbeat_seq, MonoTime now);
  // The newest heartbeat whose report was taken from `agent` (0: none).
  uint64_t report_seq(const std::string& agent) const;

  // --- datasets: assignments and epochs ---
  // Puts back an assignment persisted before (at load, and after the master persisted one).
  void restore_dataset(const std::string& dataset, DatasetHolder holder);
  // The assignment of `dataset`, if known.
  std::optional<DatasetHolder> holder(const std::string& dataset) const;
  // The assignment that moving `dataset` to `agent` ("" for none) makes: the next epoch, or
  // the current assignment when it is already there. Changes nothing: the master persists it,
  // then hands it to restore_dataset(). Every epoch the master gives out comes from here.
  DatasetHolder moved(const std::string& dataset, const std::string& agent) const;
  // Every dataset's assignment.
  const std::map<std::string, DatasetHolder>& datasets() const { return datasets_; }

  // --- datasets: reports and grants (docs/fencing.md §4) ---
  // The report of heartbeat `seq` from `agent`: the datasets it has attached, taken after it
  // applied every answer up to `applied_seq`. Returns false, taking nothing, when a report of
  // a heartbeat as new was already taken (reordered or retried).
  bool on_report(const std::string& agent, uint64_t seq, const std::set<std::string>& attached,
                 uint64_t applied_seq);
  // The datasets `agent`'s newest taken report shows attached.
  const std::set<std::string>& attached_by(const std::string& agent) const;
  // Whether an agent other than `agent` that is not declared lost reports `dataset` attached
  // or holds a grant of it.
  bool held_elsewhere(const std::string& dataset, const std::string& agent) const;
  // Whether `agent` may be granted `dataset` at `now`: it is assigned there, nobody else holds
  // it, and outside the restart grace (inside it, only what the agent reports attached).
  bool may_attach(const std::string& dataset, const std::string& agent, MonoTime now) const;
  // The answer to heartbeat `seq` grants `dataset` to `agent`.
  void on_granted(const std::string& dataset, const std::string& agent, uint64_t seq);
  // The agents holding a grant of `dataset`.
  std::set<std::string> granted_to(const std::string& dataset) const;

 private:
  MonoTime heard_at(const std::string& agent) const;
  struct AgentState {
    uint64_t report_seq = 0;
    std::set<std::string> attached;          // as of its newest taken report
    std::map<std::string, uint64_t> grants;  // dataset -> newest answer that granted it
  };

  LeaseOptions options_;
  MonoTime started_at_;
  std::chrono::milliseconds restart_grace_;        // L + margin of the constructor's timing
  std::map<std::string, MonoTime> last_received_;  // one entry per agent of the cluster
  std::set<std::string> declared_lost_;
  // At or before the last heartbeat of every agent not declared lost (declare_lost()).
  MonoTime earliest_{};
  std::map<std::string, AgentState> agents_;
  std::map<std::string, DatasetHolder> datasets_;
  // Indexes kept with agents_, so one dataset's holders cost no scan of every agent.
  std::map<std::string, std::set<std::string>> attached_on_;
  std::map<std::string, std::set<std::string>> granted_on_;
};

}  // namespace berth::lease
