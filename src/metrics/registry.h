// Registry: the master's metrics, kept in one prometheus-cpp registry and shown two ways from
// the same numbers (docs/compatibility.md §2.9): Prometheus' text format for
// GET /metrics/prometheus and Marathon's Dropwizard-style JSON for GET /metrics.
//
// The metrics are a fixed list (`Metric`), each a family of series told apart by label
// values, given in the order the list gives them. Gauges are set from the master's state just
// before a scrape (api/metrics_routes.cpp); counters and timers are updated as things happen
// (MasterCore for failovers and dataset moves, the API dispatch for request latency). Time
// comes in as durations: the registry reads no clock.
//
// Thread-safe. prometheus-cpp stays inside registry.cpp: builds are slow, and this header is
// included by MasterCore's options.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"

namespace berth::metrics {

enum class Metric {
  // gauges
  kApps,               // apps defined (not being deleted)
  kTasks,              // tasks by state: {state}
  kDeployments,        // deployments in progress
  kAgents,             // agents by state: {state} = registered, draining, lost
  kLeaseAssignments,   // datasets the leases assign to an agent
  kLeaseGrants,        // grants to attach that agents hold (attach=true answers not yet let go)
  kLeaseEpochMax,      // the largest epoch the leases have given a dataset
  kDatasets,           // live datasets: {driver, state} with state = attached, moving, detached
  kFailoversRecorded,  // failover records the master keeps (the last 100)
  // counters
  kFailovers,     // nodes declared lost
  kDatasetMoves,  // datasets moved to another node: {driver}
  // timers, in seconds
  kFailoverPhase,    // from a node declared lost to: {phase} = attached, running, healthy
  kRequestDuration,  // API requests: {method, route}
  // How long agents' heartbeats waited for the state lock: {answer} = full, lease_only
  // (docs/fencing.md §9).
  kHeartbeatLockWait,
  // How late the master's lease clock thread woke: its scheduling stalls (docs/fencing.md §9).
  kSchedulingStall,
  // How long each controller pass held the state lock: {pass} = plan (apps, placement, routes
  // and deployments planned) or leases (only leases and launch timeouts: nothing changed).
  kReconcilePass,
};

// Label values, in the order of the metric's labels (see Metric).
using Labels = std::vector<std::string>;

class Registry {
 public:
  // `created_at`: the master's monotonic time now; timers' mean_rate counts from it.
  explicit Registry(MonoTime created_at = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Gauges. set_all also zeroes the gauge's series that `values` leaves out, so a state that
  // emptied (no more lost agents) reads 0 instead of its last value.
  void set(Metric gauge, const Labels& labels, double value);
  void set_all(Metric gauge, const std::map<Labels, double>& values);
  // Counters.
  void increment(Metric counter, const Labels& labels = {});
  // Timers: one observation of `took`.
  void observe(Metric timer, const Labels& labels, std::chrono::nanoseconds took);

  // The Prometheus text exposition format (version 0.0.4).
  std::string prometheus_text() const;
  // Marathon's /metrics JSON: {"version", "gauges", "counters", "histograms", "meters",
  // "timers"}. `uptime` is how long the registry has counted, for the timers' mean_rate.
  std::string dropwizard_json(std::chrono::nanoseconds uptime) const;
  MonoTime created_at() const { return created_at_; }

  // The value the series holds now: a gauge's value, a counter's count, a timer's count.
  // 0 for a series never set.
  double value(Metric metric, const Labels& labels = {}) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  MonoTime created_at_;
};

}  // namespace berth::metrics
