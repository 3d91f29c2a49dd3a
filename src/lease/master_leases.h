// MasterLeases: the master's half of the lease protocol (docs/fencing.md §3) as a pure state
// machine: which agents are lost, and who holds each exclusive dataset under which epoch. The node
// controller feeds it received heartbeats and asks it before moving a dataset; the master's
// shell persists datasets() and hands it back through restore_dataset() after a restart.
// It reads no clock: every time is the master's monotonic time, passed in.
//
// An agent is lost once L + margin has passed since its last received heartbeat. A master
// that (re)started at `started_at` counts every agent as heard at `started_at`, so it
// declares nobody lost before started_at + L + margin and agents have time to come back.
// A dataset moves away from its holder only when that holder is lost or released it, and
// every assignment takes a new, larger epoch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "lease/lease_options.h"

namespace berth::lease {

// Who holds a dataset. Durable: the master persists it before acting on an assignment.
struct DatasetHolder {
  std::string agent;   // empty when released or never assigned
  uint64_t epoch = 0;  // the epoch of the latest assignment; never drops

  bool operator==(const DatasetHolder&) const = default;
};

// One assignment, as the master tells an agent in a heartbeat answer.
struct Assignment {
  std::string dataset;
  uint64_t epoch = 0;

  bool operator==(const Assignment&) const = default;
};

class MasterLeases {
 public:
  MasterLeases(LeaseOptions options, MonoTime started_at);

  const LeaseOptions& options() const { return options_; }

  // Puts back a holder persisted before a restart. Call before any other input.
  void restore_dataset(const std::string& dataset, DatasetHolder holder);

  // A heartbeat from `agent` arrived at `now`. Earlier times than one already seen are
  // ignored.
  void on_heartbeat_received(const std::string& agent, MonoTime now);

  // Whether `agent` is lost at `now`: more than L + margin since its last heartbeat, or
  // since started_at if none arrived since.
  bool is_lost(const std::string& agent, MonoTime now) const;
  // When `agent` will be lost unless another heartbeat arrives.
  MonoTime lost_at(const std::string& agent) const;
  // The agents known here (heard since started_at, or holding a dataset) that are lost at
  // `now`, sorted.
  std::vector<std::string> lost_agents(MonoTime now) const;
  // The last heartbeat from `agent` since started_at, if any.
  std::optional<MonoTime> last_received(const std::string& agent) const;

  // Gives `dataset` to `agent` under a new epoch, returned. Allowed when the dataset is
  // unheld, when its holder released it, or when its holder is lost at `now`. Assigning a
  // dataset to the agent that holds it changes nothing and returns its epoch.
  // kInvalidArgument: an empty name. kConflict: another agent holds it and is not lost.
  Result<uint64_t> assign(const std::string& dataset, const std::string& agent, MonoTime now);

  // `agent` reports it no longer uses `dataset` at `epoch` (it fenced or detached). Applies
  // only if `agent` holds it at exactly `epoch`, so a late or repeated report cannot release
  // a newer assignment. Returns whether it applied.
  bool release(const std::string& dataset, const std::string& agent, uint64_t epoch);

  // The holder of `dataset`, if the master knows the dataset.
  std::optional<DatasetHolder> holder(const std::string& dataset) const;
  // What `agent` holds, sorted by dataset: the assignments for its heartbeat answer.
  std::vector<Assignment> assignments_of(const std::string& agent) const;
  // Every dataset's holder, for the shell to persist.
  const std::map<std::string, DatasetHolder>& datasets() const { return datasets_; }

 private:
  MonoTime heard_at(const std::string& agent) const;

  LeaseOptions options_;
  MonoTime started_at_;
  std::map<std::string, MonoTime> last_received_;  // one entry per agent of the cluster
  std::map<std::string, DatasetHolder> datasets_;
};

}  // namespace berth::lease
