// Failover records: pure bookkeeping, timed by the caller (master/failovers.h).
#include "master/failovers.h"

#include <set>

#include "master/master_state.h"
#include "master/plan.h"

namespace berth::master {
namespace {

std::chrono::milliseconds since(MonoTime from, MonoTime to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

}  // namespace

const char* phase_name(FailoverPhase phase) {
  switch (phase) {
    case FailoverPhase::kAttached:
      return "attached";
    case FailoverPhase::kRunning:
      return "running";
    case FailoverPhase::kHealthy:
      return "healthy";
    case FailoverPhase::kRouted:
      return "routed";
  }
  return "unknown";
}

bool Failover::complete() const {
  for (const auto& d : datasets) {
    if (!d.attached_at) return false;
  }
  for (const auto& t : tasks) {
    if (!t.running_at || (t.health_checked && !t.healthy_at)) return false;
  }
  return true;
}

void FailoverLog::add(Failover failover) {
  failover.id = next_id_++;
  entries_.push_back(std::move(failover));
  while (entries_.size() > kKept) entries_.pop_front();
}

std::vector<PhaseReached> FailoverLog::dataset_attached(const std::string& dataset_id,
                                                        const std::string& agent_id, uint64_t epoch,
                                                        WallTime wall, MonoTime mono) {
  std::vector<PhaseReached> reached;
  for (auto& f : entries_) {
    for (auto& d : f.datasets) {
      if (d.dataset_id != dataset_id || d.attached_at || epoch <= d.epoch_at_loss) continue;
      d.attached_on = agent_id;
      d.attached_epoch = epoch;
      d.attached_at = wall;
      d.attached_after = since(f.lost_at_mono, mono);
      reached.push_back(
          {f.id, FailoverPhase::kAttached, dataset_id, agent_id, epoch, *d.attached_after});
    }
  }
  return reached;
}

std::vector<PhaseReached> FailoverLog::task_running(const std::string& task_id,
                                                    const std::string& app_id,
                                                    const std::string& agent_id, WallTime staged_at,
                                                    WallTime wall, MonoTime mono) {
  for (auto& f : entries_) {
    if (staged_at < f.lost_at) continue;  // placed before the loss: not a replacement
    for (auto& t : f.tasks) {
      if (t.app_id != app_id || !t.replacement_id.empty()) continue;
      t.replacement_id = task_id;
      t.replacement_agent = agent_id;
      t.running_at = wall;
      t.running_after = since(f.lost_at_mono, mono);
      return {{f.id, FailoverPhase::kRunning, t.task_id, agent_id, 0, *t.running_after}};
    }
  }
  return {};
}

std::vector<PhaseReached> FailoverLog::task_healthy(const std::string& task_id, WallTime wall,
                                                    MonoTime mono) {
  for (auto& f : entries_) {
    for (auto& t : f.tasks) {
      if (t.replacement_id != task_id || !t.health_checked || t.healthy_at) continue;
      t.healthy_at = wall;
      t.healthy_after = since(f.lost_at_mono, mono);
      return {{f.id, FailoverPhase::kHealthy, t.task_id, t.replacement_agent, 0, *t.healthy_after}};
    }
  }
  return {};
}

std::vector<PhaseReached> FailoverLog::task_routed(const std::string& task_id, WallTime wall,
                                                   MonoTime mono) {
  for (auto& f : entries_) {
    for (auto& t : f.tasks) {
      if (t.replacement_id != task_id || !t.service_routed || t.routed_at) continue;
      t.routed_at = wall;
      t.routed_after = since(f.lost_at_mono, mono);
      return {{f.id, FailoverPhase::kRouted, t.task_id, t.replacement_agent, 0, *t.routed_after}};
    }
  }
  return {};
}

Failover failover_of(const MasterState& state, const std::string& agent_id, WallTime wall,
                     MonoTime mono) {
  Failover f;
  f.agent_id = agent_id;
  f.lost_at = wall;
  f.lost_at_mono = mono;
  std::set<std::string> held;
  auto agent = state.agents.find(agent_id);
  if (agent != state.agents.end()) {
    f.hostname = agent->second.hostname;
    for (const auto& r : agent->second.datasets) {
      if (r.attached) held.insert(r.dataset_id);
    }
  }
  auto primary = state.datasets_by_primary.find(agent_id);
  if (primary != state.datasets_by_primary.end()) {
    held.insert(primary->second.begin(), primary->second.end());
  }
  for (const auto& id : held) {
    auto d = state.datasets.find(id);
    if (d == state.datasets.end() || d->second.deleted) continue;
    FailoverDataset held_dataset;
    held_dataset.dataset_id = id;
    held_dataset.driver = d->second.driver;
    held_dataset.epoch_at_loss = d->second.epoch;
    f.datasets.push_back(std::move(held_dataset));
  }
  for (const auto& [tid, task] : state.tasks) {
    if (task.agent_id != agent_id) continue;
    FailoverTask t;
    t.task_id = tid;
    t.app_id = task.app_id;
    auto app = state.apps.find(task.app_id);
    t.health_checked = app != state.apps.end() && has_health_checks(app->second.app);
    if (app != state.apps.end()) {
      // Service port 0 is one not assigned (yet): no router listens for it.
      for (uint32_t port : model::service_ports(app->second.app)) t.service_routed |= port != 0;
    }
    f.tasks.push_back(std::move(t));
  }
  return f;
}

}  // namespace berth::master
