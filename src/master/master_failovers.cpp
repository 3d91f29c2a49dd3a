// MasterCore's shell around the failover records (master/failovers.h): opens a record when an
// agent is declared lost, and logs and measures each phase the records report reached.
#include <nlohmann/json.hpp>

#include "master/master_core.h"
#include "metrics/registry.h"

namespace berth::master {

void MasterCore::read_with_leases(
    const std::function<void(const MasterState&, const lease::MasterLeases&)>& reader) const {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  reader(state_, leases_);
}

void MasterCore::record_failover(const std::string& id, MonoTime now) {
  state_.failovers.add(failover_of(state_, id, clock_.wall_now(), now));
  publish_event("berth_failover_changed", {{"failoverId", state_.failovers.entries().back().id}});
  if (options_.metrics) options_.metrics->increment(metrics::Metric::kFailovers);
}

void MasterCore::failover_phases(const std::vector<PhaseReached>& reached) {
  for (const auto& r : reached) {
    std::string what;
    switch (r.phase) {
      case FailoverPhase::kAttached:
        what = "dataset " + r.subject + " attached on " + node_name(r.node) + " at epoch " +
               std::to_string(r.epoch);
        break;
      case FailoverPhase::kRunning:
        what = "a replacement of task " + r.subject + " running on " + node_name(r.node);
        break;
      case FailoverPhase::kHealthy:
        what = "the replacement of task " + r.subject + " healthy";
        break;
      case FailoverPhase::kRouted:
        what = "the first connection routed to the replacement of task " + r.subject;
        break;
    }
    publish_event("berth_failover_changed", {{"failoverId", r.failover_id}});
    note("failover " + std::to_string(r.failover_id) + ": " + what + ", " +
         std::to_string(r.after.count()) + " ms after the node was declared lost");
    if (options_.metrics) {
      options_.metrics->observe(metrics::Metric::kFailoverPhase, {phase_name(r.phase)}, r.after);
    }
  }
}

}  // namespace berth::master
