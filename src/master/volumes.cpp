// MasterCore and apps with external volumes (issue: datasets follow their apps): datasets are
// created on first use, a task is placed only where its dataset can be attached, the dataset's
// primary follows the task (a new epoch when it changes node), and the launch is sent only once
// the node reports the dataset attached at that epoch and no other task still uses it.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "master/master_core.h"

namespace berth::master {
namespace {

uint64_t requested_size(const model::ExternalVolume& v) {
  if (auto mib = v.options.find("berth/size-mib"); mib != v.options.end()) {
    try {
      uint64_t bytes = std::stoull(mib->second) * 1048576ULL;
      return std::max<uint64_t>(bytes, model::kMinimumDatasetSize);
    } catch (...) {
    }
  }
  for (const char* key : {"size", "dvdi/size", "berth/size"}) {
    auto it = v.options.find(key);
    if (it == v.options.end()) continue;
    try {
      double gib = std::stod(it->second);
      if (gib > 0) return static_cast<uint64_t>(gib * 1073741824.0) / 1024 * 1024;
    } catch (...) {
    }
  }
  return model::kDefaultDatasetSize;
}

}  // namespace

const model::Dataset* MasterCore::dataset_named(const std::string& name) const {
  auto named = state_.live_datasets_by_name.find(name);
  if (named == state_.live_datasets_by_name.end()) return nullptr;
  return &state_.datasets.at(*named->second.begin());  // the first by id, as a scan would find
}

std::vector<model::Dataset> MasterCore::missing_datasets(const model::App& app) {
  std::vector<model::Dataset> out;
  for (const auto& v : model::dataset_volumes(app)) {
    if (dataset_named(v.name)) continue;
    model::Dataset d;
    d.dataset_id = ids_.uuid();
    d.metadata["name"] = v.name;
    auto driver = v.options.find("berth/driver");
    d.driver = driver != v.options.end() ? driver->second : options_.default_dataset_driver;
    d.maximum_size = requested_size(v);
    d.epoch = 0;
    out.push_back(d);
  }
  return out;
}

std::vector<std::string> MasterCore::volume_conflicts(const model::App& app) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& v : model::external_volumes(app)) {
    if (v.shared) continue;
    for (const auto& [id, record] : state_.apps) {
      if (id == app.id || record.deleting) continue;
      for (const auto& other : model::external_volumes(record.app)) {
        if (other.name == v.name) out.push_back(v.name + " (used by " + id + ")");
      }
    }
  }
  return out;
}

Status MasterCore::drain_node(const std::string& agent_id, bool drain) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end())
    return make_error(ErrorCode::kNotFound, "Node '" + agent_id + "' does not exist");
  it->second.draining = drain;
  return {};
}

void MasterCore::place_volume_app(const std::string& app_id,
                                  const scheduler::ClusterSnapshot& snapshot,
                                  const std::vector<AgentRecord*>& agents) {
  AppRecord& record = state_.apps[app_id];
  const model::App& app = record.app;
  std::vector<model::Dataset*> datasets;
  for (const auto& v : model::dataset_volumes(app)) {
    auto named = state_.live_datasets_by_name.find(v.name);
    if (named == state_.live_datasets_by_name.end()) continue;
    for (const auto& id : named->second) datasets.push_back(&state_.datasets.at(id));
  }
  // Where may it go? A local dataset only where its data is; others anywhere, preferring the
  // node that holds them now so nothing moves without need.
  std::string pinned, preferred;
  for (auto* d : datasets) {
    if (d->driver == "local" && !d->primary.empty()) pinned = d->primary;
    if (!d->primary.empty()) preferred = d->primary;
  }
  scheduler::PlacementRequest request = placement_request(app, 1);
  auto restricted = [&](const std::string& only) {
    scheduler::ClusterSnapshot copy = snapshot;
    for (auto& node : copy.nodes) {
      if (node.id != only) node.schedulable = false;
    }
    return scheduler::place(copy, {request});
  };
  scheduler::PlacementResult result;
  if (!pinned.empty()) {
    result = restricted(pinned);
  } else {
    if (!preferred.empty()) result = restricted(preferred);
    if (result.assignments.empty()) result = scheduler::place(snapshot, {request});
  }
  if (result.assignments.empty()) {
    const auto& outcome = result.outcomes[0];
    if (!record.queue) record.queue = QueueInfo{};
    if (record.queue->since == WallTime{}) record.queue->since = clock_.wall_now();
    record.queue->count = 1;
    record.queue->rejections = outcome.rejections;
    record.queue->reason_counts = outcome.reason_counts;
    record.queue->nodes_considered = static_cast<uint32_t>(snapshot.nodes.size());
    return;
  }
  record.queue.reset();
  const auto& a = result.assignments[0];
  AgentRecord& agent = *agents[a.node_index];
  for (auto* d : datasets) {
    if (d->primary == agent.id) continue;
    model::Dataset next = *d;
    next.primary = agent.id;
    next.epoch += 1;
    if (!persist_dataset(next)) return;  // retried next pass
  }
  TaskRecord task;
  task.id = model::safe_app_id(app_id) + ".instance-" + ids_.uuid() + "._app.1";
  task.app_id = app_id;
  task.agent_id = agent.id;
  task.host = agent.address;
  task.ports = ports_in_app_order(app, a.ports);
  task.version = app.version;
  task.config_version = app.version_info.last_config_change_at;
  task.staged_at = clock_.wall_now();
  task.cpus = app.cpus;
  task.mem = app.mem;
  task.disk = app.disk;
  auto spec = launch_spec(app, task.id, task.ports);
  if (!spec) return fail_unlaunchable(std::move(task), spec.error().message);
  auto volumes = model::dataset_volumes(app);
  for (size_t i = 0; i < volumes.size() && i < datasets.size(); ++i) {
    protocol::VolumeMount m;
    m.dataset_id = datasets[i]->dataset_id;
    m.container_path = volumes[i].container_path;
    m.mode = volumes[i].mode;
    m.epoch = datasets[i]->epoch;
    spec->volumes.push_back(m);
    task.datasets.push_back(m.dataset_id);
  }
  task.pending_launch = std::move(*spec);
  task.message = "waiting for its datasets to be attached on " + agent.hostname;
  state_.tasks_pending_launch.insert(task.id);
  state_.tasks.emplace(task.id, std::move(task));
}

void MasterCore::send_ready_launches() {
  // Ids leave the set when their task is gone or launched (tasks_pending_launch may name
  // tasks that have since been removed).
  std::vector<std::string> pending(state_.tasks_pending_launch.begin(),
                                   state_.tasks_pending_launch.end());
  for (const auto& tid : pending) {
    auto found = state_.tasks.find(tid);
    if (found == state_.tasks.end() || !found->second.pending_launch) {
      state_.tasks_pending_launch.erase(tid);
      continue;
    }
    TaskRecord& task = found->second;
    if (task.kill_requested) continue;
    auto agent = state_.agents.find(task.agent_id);
    if (agent == state_.agents.end() || agent->second.lost) continue;
    bool ready = true;
    for (auto& v : task.pending_launch->volumes) {
      auto d = state_.datasets.find(v.dataset_id);
      if (d == state_.datasets.end() || d->second.epoch != v.epoch) {
        ready = false;
        break;
      }
      bool attached = false;
      for (const auto& r : agent->second.datasets) {
        if (r.dataset_id == v.dataset_id && r.attached && r.epoch == v.epoch) {
          attached = true;
          v.host_path = r.path;
        }
      }
      if (!attached) {
        ready = false;
        break;
      }
      // Another task (e.g. the one this replaces, still stopping) must be gone first.
      for (const auto& [other_id, other] : state_.tasks) {
        if (other_id == tid) continue;
        for (const auto& used : other.datasets) {
          if (used == v.dataset_id) attached = false;
        }
      }
      ready = ready && attached;
    }
    if (!ready) continue;
    protocol::Command launch;
    launch.body = protocol::LaunchCommand{*task.pending_launch};
    task.pending_launch.reset();
    state_.tasks_pending_launch.erase(tid);
    task.message.clear();
    task.launch_sent_at = clock_.mono_now();
    enqueue(agent->second, std::move(launch));
  }
}

}  // namespace berth::master
