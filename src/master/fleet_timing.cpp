// MasterCore's fleet timing (docs/fencing.md §10): the heartbeat interval, the lease and the
// margin stretch by a whole factor as the fleet grows past what the master answers in a second,
// and come back as it shrinks. Safe because the master judges agents by the longest timing
// whose leases may still run (the ceiling), which it stores before any answer grants it.
#include <nlohmann/json.hpp>

#include "json/bounded.h"
#include "master/master_core.h"

namespace berth::master {
namespace {

const char* const kLeaseCeilingKey = "/leaseCeiling";

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Status MasterCore::store_lease_ceiling(const lease::LeaseOptions& timing) {
  nlohmann::json j = {{"heartbeatIntervalMs", timing.heartbeat_interval.count()},
                      {"leaseMs", timing.lease.count()},
                      {"marginMs", timing.margin.count()}};
  auto stored = store_.put(kLeaseCeilingKey, j.dump());
  if (!stored) return stored.error();
  return {};
}

// The stored ceiling, or `base` when none is stored or it is shorter (load(), under mu_).
Result<lease::LeaseOptions> MasterCore::load_lease_ceiling(const lease::LeaseOptions& base) {
  auto kv = store_.get(kLeaseCeilingKey);
  if (!kv) return kv.error();
  if (!*kv) return base;
  nlohmann::json j = json::parse_or_discarded((*kv)->value);
  if (!j.is_object() || !j.value("leaseMs", nlohmann::json()).is_number_integer() ||
      !j.value("marginMs", nlohmann::json()).is_number_integer() ||
      !j.value("heartbeatIntervalMs", nlohmann::json()).is_number_integer()) {
    return make_error(ErrorCode::kInternal, std::string("stored lease ceiling at ") +
                                                kLeaseCeilingKey +
                                                " is not valid: " + (*kv)->value);
  }
  lease::LeaseOptions stored{std::chrono::milliseconds(j["heartbeatIntervalMs"].get<int64_t>()),
                             std::chrono::milliseconds(j["leaseMs"].get<int64_t>()),
                             std::chrono::milliseconds(j["marginMs"].get<int64_t>())};
  return stored.lost_after() > base.lost_after() ? stored : base;
}

void MasterCore::adjust_fleet_timing(MonoTime now) {
  if (fleet_changed_) {  // counted again only after a registration or a loss
    fleet_changed_ = false;
    fleet_ = 0;
    for (const auto& [id, agent] : state_.agents) {
      if (!agent.lost) ++fleet_;
    }
  }
  const size_t fleet = fleet_;
  const lease::LeaseOptions want =
      lease::fleet_timing(options_.timing, fleet, options_.max_heartbeats_per_second);
  const std::chrono::milliseconds granted(granted_lease_ms_.load());
  if (want.lost_after() > ceiling_.lost_after()) {
    // Longer than any lease the master may judge by: stored first, judged by, then granted.
    if (Status stored = store_lease_ceiling(want); !stored) {
      note("fleet of " + std::to_string(fleet) + " agents: cannot store the longer lease " +
           ms_text(want.lease) + ", keeping " + ms_text(granted) + ": " + stored.error().message);
      return;
    }
    ceiling_ = want;
    leases_.set_timing(want);
    note("fleet of " + std::to_string(fleet) + " agents: heartbeats every " +
         ms_text(want.heartbeat_interval) + ", lease " + ms_text(want.lease) + ", lost after " +
         ms_text(want.lost_after()));
  }
  if (want.lease != granted) {
    granted_lease_ms_ = want.lease.count();
    granted_interval_ms_ = want.heartbeat_interval.count();
    if (want.lease < granted) {
      // Read after the store above: a heartbeat that read the longer lease was received, and
      // its lease began, before this moment.
      lowered_at_ = clock_.mono_now();
      note("fleet of " + std::to_string(fleet) + " agents: heartbeats every " +
           ms_text(want.heartbeat_interval) + ", lease " + ms_text(want.lease) +
           "; agents are judged by the longer lease " + ms_text(ceiling_.lease) +
           " until the last one granted has run out");
    }
  }
  // Every lease longer than the one granted now was granted before lowered_at_, and has run
  // out (with its margin) once the ceiling's lost_after has passed since.
  if (ceiling_.lost_after() > want.lost_after() && now - lowered_at_ > ceiling_.lost_after()) {
    if (!store_lease_ceiling(want)) return;  // judged by the longer one until it is stored
    ceiling_ = want;
    leases_.set_timing(want);
  }
}

}  // namespace berth::master
