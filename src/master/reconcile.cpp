// MasterCore::reconcile: the controller pass. Detects lost agents, asks the app controller
// what each app needs, places new instances and retires finished deployments.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "master/master_core.h"
#include "scheduler/placement.h"

namespace berth::master {
namespace {

int64_t to_ms(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool app_has_health_checks(const model::App& app) {
  const auto& extra = app.extra.get();
  return extra.is_object() && extra.contains("healthChecks") && !extra["healthChecks"].empty();
}

int64_t wall_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Free port ranges: the agent's ranges minus the ports its tasks hold.
std::vector<scheduler::PortRange> free_ranges(const protocol::AgentResources& resources,
                                              const std::vector<uint32_t>& used_sorted) {
  std::vector<scheduler::PortRange> out;
  for (const auto& range : resources.ports) {
    uint32_t start = range.begin;
    auto it = std::lower_bound(used_sorted.begin(), used_sorted.end(), range.begin);
    for (; it != used_sorted.end() && *it <= range.end; ++it) {
      if (*it > start) out.push_back({start, *it - 1});
      start = *it + 1;
    }
    if (start <= range.end) out.push_back({start, range.end});
  }
  return out;
}

}  // namespace

void MasterCore::reconcile() {
  std::lock_guard<std::mutex> lock(mu_);
  MonoTime now = clock_.mono_now();
  int64_t now_ms = to_ms(now);

  // 1. Agents that stopped heartbeating are lost; their tasks with them.
  for (auto& [id, agent] : state_.agents) {
    if (agent.lost || !leases_.is_lost(id, now)) continue;
    agent.lost = true;
    agent.outbox.clear();
    std::vector<std::string> gone;
    for (auto& [tid, task] : state_.tasks) {
      if (task.agent_id == id) gone.push_back(tid);
    }
    note("agent " + id + " (" + agent.hostname + ") lost: last heartbeat " +
         std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(now - agent.last_heartbeat)
                 .count()) +
         " ms ago (lost after " + std::to_string(options_.timing.lost_after().count()) + " ms); " +
         std::to_string(gone.size()) + " task(s) on it are lost");
    for (const auto& tid : gone) {
      record_terminal(state_.tasks[tid], protocol::TaskState::kLost, "agent " + id + " lost");
      if (agent.lost_task_ids.size() < 100000) agent.lost_task_ids.insert(tid);
    }
  }

  // 1b. Launches the agent never confirmed fail (it may have lost them) and are replaced; the
  // agent is told to kill the task in case it does run it.
  std::vector<std::string> unconfirmed;
  for (const auto& [tid, task] : state_.tasks) {
    if (task.launch_sent_at && now - *task.launch_sent_at > options_.task_launch_timeout) {
      unconfirmed.push_back(tid);
    }
  }
  for (const auto& tid : unconfirmed) {
    TaskRecord& task = state_.tasks[tid];
    auto agent = state_.agents.find(task.agent_id);
    if (agent != state_.agents.end() && !agent->second.lost) {
      protocol::Command kill;
      kill.body = protocol::KillCommand{tid, 0};
      enqueue(agent->second, std::move(kill));
    }
    record_terminal(task, protocol::TaskState::kFailed,
                    "agent " + task.agent_id + " did not confirm the launch within " +
                        std::to_string(options_.task_launch_timeout.count()) + " ms");
  }

  // 2. After a restart, wait for agents to re-register before changing anything.
  if (now - loaded_at_ < options_.timing.lost_after()) return;

  // 3. Per app: kills and launches.
  std::map<std::string, std::vector<control::TaskView>> live;
  for (const auto& [tid, task] : state_.tasks) {
    control::TaskView v;
    v.task_id = tid;
    v.config_version = task.config_version;
    v.running = task.state == protocol::TaskState::kRunning;
    auto app = state_.apps.find(task.app_id);
    bool checked = app != state_.apps.end() && app_has_health_checks(app->second.app);
    v.healthy =
        task.state == protocol::TaskState::kRunning && (!checked || task.healthy.value_or(false));
    v.kill_requested = task.kill_requested;
    v.staged_at_ms = wall_ms(task.staged_at);
    v.started_at_ms = task.started_at ? wall_ms(*task.started_at) : 0;
    live[task.app_id].push_back(v);
  }
  std::vector<std::pair<std::string, uint32_t>> wanted;
  std::vector<std::string> finished_deletes;
  for (auto& [app_id, record] : state_.apps) {
    control::AppView view;
    view.instances = record.app.instances;
    view.config_version = record.app.version_info.last_config_change_at;
    view.minimum_health_capacity = record.app.upgrade_strategy.minimum_health_capacity;
    view.maximum_over_capacity = record.app.upgrade_strategy.maximum_over_capacity;
    view.oldest_first = record.app.kill_selection == "OLDEST_FIRST";
    view.deleting = record.deleting;
    view.exclusive_volumes = !model::dataset_volumes(record.app).empty();
    const auto& tasks = live[app_id];
    control::AppPlan plan = control::plan_app(view, tasks);
    for (const auto& tid : plan.kill) request_kill(state_.tasks[tid]);
    if (record.deleting && tasks.empty()) finished_deletes.push_back(app_id);
    if (plan.launch == 0) {
      record.queue.reset();
    } else if (control::may_launch(record.backoff, now_ms)) {
      wanted.emplace_back(app_id, plan.launch);
    } else if (!record.queue) {
      record.queue = QueueInfo{plan.launch, clock_.wall_now(), {}, {}, 0};
    }
  }
  for (const auto& id : finished_deletes) {
    state_.apps.erase(id);
    publish_event("app_terminated_event", {{"appId", id}});
  }

  // Tasks of apps that no longer exist are stopped, and so are tasks on draining nodes (the
  // app controller then places their replacements elsewhere).
  for (auto& [tid, task] : state_.tasks) {
    if (task.kill_requested) continue;
    auto agent = state_.agents.find(task.agent_id);
    bool draining = agent != state_.agents.end() && agent->second.draining;
    if (!state_.apps.count(task.app_id) || draining) request_kill(task);
  }
  // A task waiting for its datasets that was killed never started: it is simply gone.
  for (auto it = state_.tasks.begin(); it != state_.tasks.end();) {
    if (it->second.pending_launch && it->second.kill_requested) {
      it = state_.tasks.erase(it);
    } else {
      ++it;
    }
  }

  if (!wanted.empty()) place_pending(wanted, now_ms);
  send_ready_launches();
  push_routes_if_changed();

  // 4. Deployments whose apps have converged are done.
  std::vector<std::string> done;
  for (const auto& [did, deployment] : state_.deployments) {
    bool converged = true;
    for (const auto& app_id : deployment.affected_apps) {
      auto app = state_.apps.find(app_id);
      const auto& tasks = live[app_id];
      if (app == state_.apps.end()) {
        converged = converged && tasks.empty();
        continue;
      }
      control::AppView view;
      view.instances = app->second.app.instances;
      view.config_version = app->second.app.version_info.last_config_change_at;
      view.deleting = app->second.deleting;
      converged = converged && control::app_converged(view, tasks);
    }
    if (converged) done.push_back(did);
  }
  for (const auto& did : done) {
    if (!store_.erase("/deployments/" + did).ok()) continue;
    publish_deployment("deployment_success", state_.deployments[did]);
    state_.deployments.erase(did);
  }
}

scheduler::PlacementRequest placement_request(const model::App& app, uint32_t count) {
  scheduler::PlacementRequest r;
  r.app_id = app.id;
  r.cpus = app.cpus;
  r.mem = app.mem;
  r.disk = app.disk;
  if (model::network_mode(app) == "host") {
    for (const auto& pd : app.port_definitions) {
      if (app.require_ports) {
        r.fixed_ports.push_back(pd.port);
      } else {
        r.dynamic_ports++;
      }
    }
  } else {
    for (const auto& mapping : model::port_mappings(app)) {
      if (!mapping.host_port) continue;
      if (*mapping.host_port != 0) {
        r.fixed_ports.push_back(*mapping.host_port);
      } else {
        r.dynamic_ports++;
      }
    }
  }
  for (const auto& c : app.constraints) r.constraints.push_back({c.field, c.op, c.value});
  r.count = count;
  return r;
}

std::vector<uint32_t> ports_in_app_order(const model::App& app,
                                         const std::vector<uint32_t>& assigned) {
  if (model::network_mode(app) == "host") return assigned;
  std::vector<model::PortMapping> mappings = model::port_mappings(app);
  size_t fixed = 0;
  for (const auto& m : mappings) {
    if (m.host_port && *m.host_port != 0) ++fixed;
  }
  std::vector<uint32_t> out;
  size_t next_fixed = 0, next_dynamic = fixed;
  for (const auto& m : mappings) {
    if (!m.host_port) continue;
    size_t index = *m.host_port != 0 ? next_fixed++ : next_dynamic++;
    if (index < assigned.size()) out.push_back(assigned[index]);
  }
  return out;
}

std::string MasterCore::routing_table() const {
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& [app_id, record] : state_.apps) {
    if (record.deleting) continue;
    bool checked = app_has_health_checks(record.app);
    std::vector<uint32_t> service_ports = model::service_ports(record.app);
    for (size_t i = 0; i < service_ports.size(); ++i) {
      uint32_t service_port = service_ports[i];
      if (service_port == 0) continue;
      nlohmann::json backends = nlohmann::json::array();
      for (const auto& [tid, task] : state_.tasks) {
        if (task.app_id != app_id || task.state != protocol::TaskState::kRunning ||
            task.kill_requested)
          continue;
        if (checked && !task.healthy.value_or(false)) continue;
        if (i >= task.ports.size()) continue;
        backends.push_back({{"host", task.host}, {"port", task.ports[i]}});
      }
      routes.push_back(
          {{"service_port", service_port}, {"app_id", app_id}, {"backends", backends}});
    }
  }
  return routes.dump();
}

void MasterCore::push_routes_if_changed() {
  std::string routes = routing_table();
  if (routes == routes_) return;
  routes_ = routes;
  ++routes_version_;
  for (auto& [id, agent] : state_.agents) {
    if (!agent.lost) push_routes(agent);
  }
}

void MasterCore::push_routes(AgentRecord& agent) {
  protocol::Command command;
  command.body = protocol::RoutesCommand{
      nlohmann::json{{"version", routes_version_},
                     {"routes", nlohmann::json::parse(routes_.empty() ? "[]" : routes_)}}
          .dump()};
  enqueue(agent, std::move(command));
}

Result<protocol::LaunchSpec> MasterCore::launch_spec(const model::App& app,
                                                     const std::string& task_id,
                                                     const std::vector<uint32_t>& ports) const {
  protocol::LaunchSpec spec;
  spec.task_id = task_id;
  spec.app_id = app.id;
  spec.version = app.version;
  spec.config_version = app.version_info.last_config_change_at;
  spec.cmd = app.cmd;
  if (app.args) spec.args = *app.args;
  spec.user = app.user;
  spec.env = app.env;
  spec.labels = app.labels;
  spec.cpus = app.cpus;
  spec.mem = app.mem;
  spec.disk = app.disk;
  spec.ports = ports;
  if (model::network_mode(app) == "host") {
    for (const auto& pd : app.port_definitions) spec.port_names.push_back(pd.name.value_or(""));
  } else {
    for (const auto& mapping : model::port_mappings(app)) {
      if (mapping.host_port) spec.port_names.push_back(mapping.name);
    }
  }
  spec.port_names.resize(spec.ports.size());
  spec.kill_grace_ms = static_cast<int64_t>(app.task_kill_grace_period_seconds.value_or(3) * 1000);
  const auto& extra = app.extra.get();
  if (extra.is_object() && extra.contains("healthChecks") && !extra["healthChecks"].empty()) {
    spec.health_checks = extra["healthChecks"].dump();
  }
  if (extra.is_object() && extra.contains("container") &&
      extra["container"].value("type", "") == "DOCKER") {
    auto container = model::parse_container_spec(extra["container"]);
    if (!container) return container.error();
    spec.container = std::move(*container);
    auto networks = model::parse_networks(extra.value("networks", nlohmann::json::array()));
    if (!networks) return networks.error();
    spec.networks = std::move(*networks);
  }
  return spec;
}

void MasterCore::fail_unlaunchable(TaskRecord task, const std::string& message) {
  std::string id = task.id;
  auto [it, inserted] = state_.tasks.emplace(id, std::move(task));
  if (inserted) record_terminal(it->second, protocol::TaskState::kFailed, message);
}

void MasterCore::place_pending(const std::vector<std::pair<std::string, uint32_t>>& wanted,
                               int64_t now_ms) {
  (void)now_ms;
  scheduler::ClusterSnapshot snapshot;
  std::vector<AgentRecord*> agents;
  std::map<std::string, uint32_t> agent_index;
  for (auto& [id, agent] : state_.agents) {
    if (agent.lost) continue;
    agent_index[id] = static_cast<uint32_t>(agents.size());
    agents.push_back(&agent);
  }
  std::vector<double> cpus(agents.size()), mem(agents.size()), disk(agents.size());
  std::vector<std::vector<uint32_t>> ports(agents.size());
  for (const auto& [tid, task] : state_.tasks) {
    auto it = agent_index.find(task.agent_id);
    if (it == agent_index.end()) continue;
    cpus[it->second] += task.cpus;
    mem[it->second] += task.mem;
    disk[it->second] += task.disk;
    ports[it->second].insert(ports[it->second].end(), task.ports.begin(), task.ports.end());
    snapshot.placed.push_back({task.app_id, it->second});
  }
  for (size_t i = 0; i < agents.size(); ++i) {
    scheduler::NodeView node;
    node.id = agents[i]->id;
    node.hostname = agents[i]->hostname;
    node.attributes = agents[i]->attributes;
    node.cpus_free = agents[i]->resources.cpus - cpus[i];
    node.mem_free = agents[i]->resources.mem - mem[i];
    node.disk_free = agents[i]->resources.disk - disk[i];
    std::sort(ports[i].begin(), ports[i].end());
    node.free_ports = free_ranges(agents[i]->resources, ports[i]);
    node.schedulable = !agents[i]->draining;
    snapshot.nodes.push_back(std::move(node));
  }
  std::vector<scheduler::PlacementRequest> requests;
  std::vector<std::pair<std::string, uint32_t>> regular;
  for (const auto& want : wanted) {
    if (!model::dataset_volumes(state_.apps[want.first].app).empty()) {
      place_volume_app(want.first, snapshot, agents);
    } else {
      regular.push_back(want);
    }
  }
  for (const auto& [app_id, count] : regular) {
    requests.push_back(placement_request(state_.apps[app_id].app, count));
  }
  scheduler::PlacementResult result = scheduler::place(snapshot, requests);
  WallTime wall = clock_.wall_now();
  for (const auto& a : result.assignments) {
    const auto& [app_id, count] = regular[a.request_index];
    const model::App& app = state_.apps[app_id].app;
    AgentRecord& agent = *agents[a.node_index];
    TaskRecord task;
    task.id = model::safe_app_id(app_id) + ".instance-" + ids_.uuid() + "._app.1";
    task.app_id = app_id;
    task.agent_id = agent.id;
    task.host = agent.address;
    task.ports = ports_in_app_order(app, a.ports);
    task.version = app.version;
    task.config_version = app.version_info.last_config_change_at;
    task.staged_at = wall;
    task.cpus = app.cpus;
    task.mem = app.mem;
    task.disk = app.disk;

    auto spec = launch_spec(app, task.id, task.ports);
    if (!spec) {
      fail_unlaunchable(std::move(task), spec.error().message);
      continue;
    }
    protocol::Command launch;
    launch.body = protocol::LaunchCommand{std::move(*spec)};
    enqueue(agent, std::move(launch));
    task.launch_sent_at = clock_.mono_now();
    state_.tasks.emplace(task.id, std::move(task));
  }
  for (size_t i = 0; i < regular.size(); ++i) {
    AppRecord& record = state_.apps[regular[i].first];
    const auto& outcome = result.outcomes[i];
    if (outcome.unplaced == 0) {
      record.queue.reset();
      continue;
    }
    if (!record.queue) record.queue = QueueInfo{};
    if (record.queue->since == WallTime{}) record.queue->since = wall;
    record.queue->count = outcome.unplaced;
    record.queue->rejections = outcome.rejections;
    record.queue->reason_counts = outcome.reason_counts;
    record.queue->nodes_considered = static_cast<uint32_t>(snapshot.nodes.size());
  }
}

}  // namespace berth::master
