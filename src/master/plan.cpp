#include "master/plan.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>

#include "scheduler/placement.h"

namespace berth::master {
namespace {

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

// Each app's live tasks as the app controller sees them, with whether the app exists: tasks of
// apps that no longer exist are listed too. One pass over the tasks and one hash lookup each:
// this runs on every plan (docs/architecture.md §4).
struct AppTasks {
  bool exists = false;
  bool checked = false;  // the app has health checks
  std::vector<control::TaskView> tasks;
};
using LiveTasks = std::unordered_map<std::string_view, AppTasks>;

// With `only`, the tasks of those apps alone.
LiveTasks live_tasks(const MasterState& state, const std::set<std::string_view>* only = nullptr) {
  LiveTasks live;
  live.reserve((only ? only->size() : state.apps.size()) + 16);
  for (const auto& [id, record] : state.apps) {
    if (only && !only->count(id)) continue;
    AppTasks& app = live[id];
    app.exists = true;
    app.checked = has_health_checks(record.app);
  }
  for (const auto& [tid, task] : state.tasks) {
    if (only && !only->count(task.app_id)) continue;
    AppTasks& app = live[task.app_id];
    control::TaskView& v = app.tasks.emplace_back();
    v.task_id = tid;
    v.config_version = task.config_version;
    v.running = task.state == protocol::TaskState::kRunning;
    // A task that is not ready yet (readiness checks) counts as not healthy: a deployment step
    // waits for it, and no old task is killed for it (docs/compatibility.md §2.5).
    v.healthy = task.state == protocol::TaskState::kRunning &&
                (!app.checked || task.healthy.value_or(false)) && task.ready.value_or(true);
    v.kill_requested = task.kill_requested;
    v.staged_at_ms = wall_ms(task.staged_at);
    v.started_at_ms = task.started_at ? wall_ms(*task.started_at) : 0;
  }
  return live;
}

const std::vector<control::TaskView>& tasks_in(const LiveTasks& live, std::string_view app_id) {
  static const std::vector<control::TaskView> kNone;
  auto it = live.find(app_id);
  return it == live.end() ? kNone : it->second.tasks;
}

control::AppView app_view(const AppRecord& record) {
  control::AppView view;
  view.instances = record.app.instances;
  view.config_version = record.app.version_info.last_config_change_at;
  view.minimum_health_capacity = record.app.upgrade_strategy.minimum_health_capacity;
  view.maximum_over_capacity = record.app.upgrade_strategy.maximum_over_capacity;
  view.oldest_first = record.app.kill_selection == "OLDEST_FIRST";
  view.deleting = record.deleting;
  view.exclusive_volumes = !model::dataset_volumes(record.app).empty();
  return view;
}

// The cluster as placement sees it: live agents (in `agents`, by node index) with what their
// tasks leave free.
struct Cluster {
  scheduler::ClusterSnapshot snapshot;
  std::vector<const AgentRecord*> agents;
};

Cluster cluster_of(const MasterState& state) {
  Cluster cluster;
  std::map<std::string, uint32_t> agent_index;
  for (const auto& [id, agent] : state.agents) {
    if (agent.lost) continue;
    agent_index[id] = static_cast<uint32_t>(cluster.agents.size());
    cluster.agents.push_back(&agent);
  }
  size_t n = cluster.agents.size();
  std::vector<double> cpus(n), mem(n), disk(n);
  std::vector<std::vector<uint32_t>> ports(n);
  for (const auto& [tid, task] : state.tasks) {
    auto it = agent_index.find(task.agent_id);
    if (it == agent_index.end()) continue;
    cpus[it->second] += task.cpus;
    mem[it->second] += task.mem;
    disk[it->second] += task.disk;
    ports[it->second].insert(ports[it->second].end(), task.ports.begin(), task.ports.end());
    cluster.snapshot.placed.push_back({task.app_id, it->second});
  }
  for (size_t i = 0; i < n; ++i) {
    const AgentRecord& agent = *cluster.agents[i];
    scheduler::NodeView node;
    node.id = agent.id;
    node.hostname = agent.hostname;
    node.attributes = agent.attributes;
    node.cpus_free = agent.resources.cpus - cpus[i];
    node.mem_free = agent.resources.mem - mem[i];
    node.disk_free = agent.resources.disk - disk[i];
    // Ports something else holds on the node are as good as taken (docs/protocol.md §3).
    ports[i].insert(ports[i].end(), agent.busy_ports.begin(), agent.busy_ports.end());
    std::sort(ports[i].begin(), ports[i].end());
    node.free_ports = free_ranges(agent.resources, ports[i]);
    node.schedulable = !agent.draining;
    cluster.snapshot.nodes.push_back(std::move(node));
  }
  return cluster;
}

TaskRecord new_task(const model::App& app, IdSource& ids, const AgentRecord& agent,
                    const std::vector<uint32_t>& assigned_ports, WallTime wall) {
  TaskRecord task;
  task.id = model::safe_app_id(app.id) + ".instance-" + ids.uuid() + "._app.1";
  task.app_id = app.id;
  task.agent_id = agent.id;
  task.host = agent.address;
  task.ports = ports_in_app_order(app, assigned_ports);
  task.version = app.version;
  task.config_version = app.version_info.last_config_change_at;
  task.staged_at = wall;
  task.cpus = app.cpus;
  task.mem = app.mem;
  task.disk = app.disk;
  if (has_readiness_checks(app)) task.ready = false;
  return task;
}

QueueInfo queue_info(const scheduler::RequestOutcome& outcome, uint32_t count,
                     const std::optional<QueueInfo>& before, size_t nodes, WallTime wall) {
  QueueInfo info = before.value_or(QueueInfo{});
  if (info.since == WallTime{}) info.since = wall;
  info.count = count;
  info.rejections = outcome.rejections;
  info.reason_counts = outcome.reason_counts;
  info.nodes_considered = static_cast<uint32_t>(nodes);
  return info;
}

// Up to `n` schedulable nodes with the fewest tasks (those running and those placed so far in
// `plan`), fewest first.
std::vector<std::string> least_busy_nodes(const MasterState& state, const Cluster& cluster,
                                          const PlacementPlan& plan, size_t n) {
  std::map<std::string, size_t> tasks;
  for (const auto& node : cluster.snapshot.nodes) {
    if (node.schedulable) tasks[node.id] = 0;
  }
  for (const auto& [tid, task] : state.tasks) {
    if (auto it = tasks.find(task.agent_id); it != tasks.end()) ++it->second;
  }
  for (const auto& placed : plan.tasks) {
    if (auto it = tasks.find(placed.task.agent_id); it != tasks.end()) ++it->second;
  }
  std::vector<std::pair<size_t, std::string>> order;
  for (const auto& [id, count] : tasks) order.emplace_back(count, id);
  std::sort(order.begin(), order.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < order.size() && i < n; ++i) out.push_back(order[i].second);
  return out;
}

// Where one instance of a volume app goes. A local dataset's app goes where its data is
// (`pinned`), unless that node cannot take it (drained, a changed constraint, full) while it is
// up: then the data moves by copying (docs/fencing.md §5). A lost node's local dataset waits
// for it. Others prefer the node holding their data now (`preferred`), so nothing moves
// without need.
scheduler::PlacementResult volume_app_placement(const MasterState& state, const Cluster& cluster,
                                                const PlacementPlan& plan,
                                                const scheduler::PlacementRequest& request,
                                                const std::string& pinned,
                                                const std::string& preferred) {
  auto restricted = [&](const std::string& only) {
    scheduler::ClusterSnapshot copy = cluster.snapshot;
    for (auto& node : copy.nodes) {
      if (node.id != only) node.schedulable = false;
    }
    return scheduler::place(copy, {request});
  };
  scheduler::PlacementResult result;
  if (!pinned.empty()) result = restricted(pinned);
  auto holder = state.agents.find(pinned);
  bool may_move = pinned.empty() || (holder != state.agents.end() && !holder->second.lost);
  if (!result.assignments.empty() || !may_move) return result;
  if (!preferred.empty() && preferred != pinned) result = restricted(preferred);
  // Otherwise the least busy nodes first, so stateful apps spread and one node's death takes
  // as few of them as it can.
  for (const auto& node : least_busy_nodes(state, cluster, plan, 3)) {
    if (!result.assignments.empty()) break;
    result = restricted(node);
  }
  if (result.assignments.empty()) result = scheduler::place(cluster.snapshot, {request});
  return result;
}

// One instance of an app with external volumes: where its datasets may go, and those
// datasets following it there.
void place_volume_app(const MasterState& state, const lease::MasterLeases& leases,
                      const AppRecord& record, const Cluster& cluster, IdSource& ids, WallTime wall,
                      PlacementPlan* plan) {
  const model::App& app = record.app;
  std::vector<const model::Dataset*> datasets;
  for (const auto& v : model::dataset_volumes(app)) {
    auto named = state.live_datasets_by_name.find(v.name);
    if (named == state.live_datasets_by_name.end()) continue;
    for (const auto& id : named->second) datasets.push_back(&state.datasets.at(id));
  }
  std::string pinned, preferred;
  for (const auto* d : datasets) {
    if (d->driver == "local" && !d->primary.empty()) pinned = d->primary;
    if (!d->primary.empty()) preferred = d->primary;
  }
  scheduler::PlacementResult result =
      volume_app_placement(state, cluster, *plan, placement_request(app, 1), pinned, preferred);
  if (result.assignments.empty()) {
    plan->queue[app.id] =
        queue_info(result.outcomes[0], 1, record.queue, cluster.snapshot.nodes.size(), wall);
    return;
  }
  plan->queue[app.id] = std::nullopt;
  const auto& a = result.assignments[0];
  const AgentRecord& agent = *cluster.agents[a.node_index];
  NewTask placed;
  placed.task = new_task(app, ids, agent, a.ports, wall);
  auto launch = launch_spec(app, placed.task.id, placed.task.ports);
  if (!launch) {
    placed.failure = launch.error().message;
    plan->tasks.push_back(std::move(placed));
    return;
  }
  protocol::LaunchSpec spec = std::move(*launch);
  auto volumes = model::dataset_volumes(app);
  for (size_t i = 0; i < volumes.size() && i < datasets.size(); ++i) {
    model::Dataset next = *datasets[i];
    if (next.primary != agent.id && next.driver == "local" && !next.primary.empty()) {
      if (Status movable = check_local_move(state, next, agent.id); !movable) {
        // It waits, saying why, until the copy can start.
        scheduler::RequestOutcome waiting;
        waiting.reason_counts[movable.error().message] = 1;
        plan->queue[app.id] =
            queue_info(waiting, 1, record.queue, cluster.snapshot.nodes.size(), wall);
        return;
      }
      const std::string& from = next.moving_from.empty() ? next.primary : next.moving_from;
      next.moving_from = agent.id == from ? "" : from;
    }
    if (next.primary != agent.id) {
      lease::DatasetHolder moved = leases.moved(next.dataset_id, agent.id);
      next.primary = moved.agent;
      next.epoch = moved.epoch;
      placed.moves.push_back(next);
    }
    protocol::VolumeMount m;
    m.dataset_id = next.dataset_id;
    m.container_path = volumes[i].container_path;
    m.mode = volumes[i].mode;
    m.epoch = next.epoch;
    spec.volumes.push_back(m);
    placed.task.datasets.push_back(m.dataset_id);
  }
  placed.task.pending_launch = spec;
  placed.task.message = "waiting for its datasets to be attached on " + agent.hostname;
  plan->tasks.push_back(std::move(placed));
}

}  // namespace

bool has_health_checks(const model::App& app) {
  const auto& extra = app.extra.get();
  if (!extra.is_object()) return false;
  auto checks = extra.find("healthChecks");
  return checks != extra.end() && !checks->empty();
}

std::vector<std::string> unconfirmed_launches(const MasterState& state, MonoTime now,
                                              std::chrono::milliseconds timeout) {
  std::vector<std::string> out;
  for (const auto& [tid, task] : state.tasks) {
    if (task.launch_sent_at && now - *task.launch_sent_at > timeout) out.push_back(tid);
  }
  return out;
}

AppDecisions decide_apps(const MasterState& state, int64_t now_ms) {
  AppDecisions out;
  const LiveTasks live = live_tasks(state);
  std::set<std::string, std::less<>> killed;
  // Apps whose deployment step has not come yet are left as they are.
  const std::set<std::string> held = held_apps(state);
  for (const auto& [app_id, record] : state.apps) {
    if (held.count(app_id)) continue;
    const auto& tasks = tasks_in(live, app_id);
    control::AppPlan plan = control::plan_app(app_view(record), tasks);
    for (const auto& tid : plan.kill) {
      if (killed.insert(tid).second) out.kill.push_back(tid);
    }
    if (record.deleting && tasks.empty()) out.erase.push_back(app_id);
    if (plan.launch == 0) {
      out.satisfied.push_back(app_id);
    } else if (control::may_launch(record.backoff, now_ms)) {
      out.launch.emplace_back(app_id, plan.launch);
    } else {
      out.waiting.emplace_back(app_id, plan.launch);
    }
  }
  // Tasks of apps that no longer exist (or are about to be erased) are stopped, and so are
  // tasks on draining nodes: the app controller then places their replacements elsewhere.
  std::set<std::string_view> gone(out.erase.begin(), out.erase.end());
  for (const auto& [app_id, app] : live) {
    if (!app.exists) gone.insert(app_id);
  }
  std::set<std::string_view> draining;
  for (const auto& [id, agent] : state.agents) {
    if (agent.draining) draining.insert(id);
  }
  std::set<std::string> stop;  // in task id order
  for (std::string_view app_id : gone) {
    for (const auto& v : tasks_in(live, app_id)) {
      if (!v.kill_requested && !killed.count(v.task_id)) stop.emplace(v.task_id);
    }
  }
  if (!draining.empty()) {
    for (const auto& [tid, task] : state.tasks) {
      if (draining.count(task.agent_id) && !task.kill_requested && !killed.count(tid))
        stop.insert(tid);
    }
  }
  out.kill.insert(out.kill.end(), stop.begin(), stop.end());
  return out;
}

std::vector<std::string> unlaunched_kills(const MasterState& state) {
  std::vector<std::string> out;
  // Only tasks in tasks_pending_launch may have a pending launch (master_state.h).
  for (const auto& tid : state.tasks_pending_launch) {
    auto task = state.tasks.find(tid);
    if (task != state.tasks.end() && task->second.pending_launch && task->second.kill_requested)
      out.push_back(tid);
  }
  return out;
}

PlacementPlan plan_placement(const MasterState& state, const lease::MasterLeases& leases,
                             const std::vector<std::pair<std::string, uint32_t>>& wanted,
                             IdSource& ids, WallTime wall) {
  PlacementPlan plan;
  Cluster cluster = cluster_of(state);
  std::vector<std::pair<std::string, uint32_t>> regular;
  for (const auto& want : wanted) {
    const AppRecord& record = state.apps.at(want.first);
    if (!model::dataset_volumes(record.app).empty()) {
      place_volume_app(state, leases, record, cluster, ids, wall, &plan);
    } else {
      regular.push_back(want);
    }
  }
  std::vector<scheduler::PlacementRequest> requests;
  for (const auto& [app_id, count] : regular) {
    const AppRecord& record = state.apps.at(app_id);
    requests.push_back(placement_request(record.app, count));
    requests.back().avoid_nodes = nodes_to_avoid(record, wall);
  }
  scheduler::PlacementResult result = scheduler::place(cluster.snapshot, requests);
  for (const auto& a : result.assignments) {
    const model::App& app = state.apps.at(regular[a.request_index].first).app;
    NewTask placed;
    placed.task = new_task(app, ids, *cluster.agents[a.node_index], a.ports, wall);
    auto launch = launch_spec(app, placed.task.id, placed.task.ports);
    if (launch) {
      placed.launch = std::move(*launch);
    } else {
      placed.failure = launch.error().message;
    }
    plan.tasks.push_back(std::move(placed));
  }
  for (size_t i = 0; i < regular.size(); ++i) {
    const std::string& app_id = regular[i].first;
    const auto& outcome = result.outcomes[i];
    if (outcome.unplaced == 0) {
      plan.queue[app_id] = std::nullopt;
    } else {
      plan.queue[app_id] = queue_info(outcome, outcome.unplaced, state.apps.at(app_id).queue,
                                      cluster.snapshot.nodes.size(), wall);
    }
  }
  return plan;
}

std::vector<std::pair<std::string, protocol::LaunchSpec>> ready_launches(const MasterState& state) {
  std::vector<std::pair<std::string, protocol::LaunchSpec>> out;
  for (const auto& tid : state.tasks_pending_launch) {
    auto found = state.tasks.find(tid);
    if (found == state.tasks.end() || !found->second.pending_launch) continue;
    const TaskRecord& task = found->second;
    if (task.kill_requested) continue;
    auto agent = state.agents.find(task.agent_id);
    if (agent == state.agents.end() || agent->second.lost) continue;
    protocol::LaunchSpec spec = *task.pending_launch;
    bool ready = true;
    for (auto& v : spec.volumes) {
      auto d = state.datasets.find(v.dataset_id);
      bool attached = false;
      if (d != state.datasets.end() && d->second.epoch == v.epoch) {
        for (const auto& r : agent->second.datasets) {
          if (r.dataset_id == v.dataset_id && r.attached && r.epoch == v.epoch) {
            attached = true;
            v.host_path = r.path;
          }
        }
      }
      // Another task (e.g. the one this replaces, still stopping) must be gone first.
      for (const auto& [other_id, other] : state.tasks) {
        if (other_id == tid) continue;
        for (const auto& used : other.datasets) {
          if (used == v.dataset_id) attached = false;
        }
      }
      if (!attached) {
        ready = false;
        break;
      }
    }
    if (ready) out.emplace_back(tid, std::move(spec));
  }
  return out;
}

std::set<std::string> held_apps(const MasterState& state) {
  std::set<std::string> held;
  for (const auto& [did, deployment] : state.deployments) {
    for (size_t i = deployment.current_step + 1; i < deployment.steps.size(); ++i) {
      for (const auto& action : deployment.steps[i]) held.insert(action.app);
    }
  }
  return held;
}

std::vector<DeploymentProgress> deployment_progress(const MasterState& state) {
  if (state.deployments.empty()) return {};
  std::set<std::string_view> current;  // the apps of the deployments' current steps
  for (const auto& [did, deployment] : state.deployments) {
    if (deployment.current_step >= deployment.steps.size()) continue;
    for (const auto& action : deployment.steps[deployment.current_step]) current.insert(action.app);
  }
  const LiveTasks live = live_tasks(state, &current);
  std::vector<DeploymentProgress> out;
  for (const auto& [did, deployment] : state.deployments) {
    bool converged = true;
    if (deployment.current_step < deployment.steps.size()) {
      for (const auto& action : deployment.steps[deployment.current_step]) {
        auto app = state.apps.find(action.app);
        const auto& tasks = tasks_in(live, action.app);
        if (app == state.apps.end()) {
          converged = converged && tasks.empty();
          continue;
        }
        control::AppView view;
        view.instances = app->second.app.instances;
        view.config_version = app->second.app.version_info.last_config_change_at;
        view.deleting = app->second.deleting;
        converged = converged && control::app_converged(view, tasks);
      }
    }
    if (!converged) continue;
    size_t next = deployment.current_step + 1;
    out.push_back({did, next, next >= deployment.steps.size()});
  }
  return out;
}

std::string routing_table(const MasterState& state) {
  // The apps with service ports first, then their running tasks in one pass over the tasks:
  // the table is built on every plan, so it must not cost apps x tasks, nor a pass over the
  // tasks when no app has a service port.
  struct Routed {
    std::vector<uint32_t> service_ports;
    bool checked;
    std::vector<const TaskRecord*> running;
  };
  std::map<std::string_view, Routed> routed;  // by app id, the table's order
  for (const auto& [app_id, record] : state.apps) {
    if (record.deleting) continue;
    std::vector<uint32_t> ports = model::service_ports(record.app);
    if (std::all_of(ports.begin(), ports.end(), [](uint32_t p) { return p == 0; })) continue;
    routed.emplace(app_id, Routed{std::move(ports), has_health_checks(record.app), {}});
  }
  if (!routed.empty()) {
    for (const auto& [tid, task] : state.tasks) {
      if (task.state != protocol::TaskState::kRunning || task.kill_requested) continue;
      auto app = routed.find(task.app_id);
      if (app != routed.end()) app->second.running.push_back(&task);
    }
  }
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& [app_id, app] : routed) {
    for (size_t i = 0; i < app.service_ports.size(); ++i) {
      uint32_t service_port = app.service_ports[i];
      if (service_port == 0) continue;
      nlohmann::json backends = nlohmann::json::array();
      for (const TaskRecord* running_task : app.running) {
        const TaskRecord& task = *running_task;
        if (app.checked && !task.healthy.value_or(false)) continue;
        if (i >= task.ports.size()) continue;
        backends.push_back({{"host", task.host}, {"port", task.ports[i]}});
      }
      routes.push_back({{"service_port", service_port},
                        {"app_id", std::string(app_id)},
                        {"backends", backends}});
    }
  }
  return routes.dump();
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

Result<protocol::LaunchSpec> launch_spec(const model::App& app, const std::string& task_id,
                                         const std::vector<uint32_t>& ports) {
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
  if (has_readiness_checks(app)) spec.readiness_checks = extra["readinessChecks"].dump();
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

TaskAdoption plan_task_adoption(const MasterState& state, const AgentRecord& agent,
                                const std::vector<protocol::TaskReport>& tasks) {
  TaskAdoption out;
  std::set<std::string> reported;
  for (const auto& t : tasks) {
    if (protocol::is_terminal(t.state) || !reported.insert(t.task_id).second) continue;
    auto known = state.tasks.find(t.task_id);
    if (known != state.tasks.end()) {
      out.known.push_back(t);
      if (known->second.kill_requested) out.kill.push_back(t.task_id);
      continue;
    }
    if (agent.lost_task_ids.count(t.task_id)) {
      out.kill.push_back(t.task_id);
      continue;
    }
    TaskRecord task;
    task.id = t.task_id;
    task.app_id = t.app_id;
    task.agent_id = agent.id;
    task.host = agent.address;
    task.ports = t.ports;
    task.state = t.state;
    task.version = t.version;
    task.config_version = t.config_version;
    task.cpus = t.cpus;
    task.mem = t.mem;
    task.disk = t.disk;
    task.datasets = t.datasets;
    parse_iso8601(t.staged_at, &task.staged_at);
    WallTime started;
    if (parse_iso8601(t.started_at, &started)) task.started_at = started;
    // Adopt what desired state still wants; stop the rest.
    auto app = state.apps.find(t.app_id);
    if (app == state.apps.end() || app->second.deleting) out.kill.push_back(t.task_id);
    out.adopted.push_back(std::move(task));
  }
  out.running = reported.size();
  for (const auto& [tid, task] : state.tasks) {
    if (task.agent_id == agent.id && !reported.count(tid)) out.vanished.push_back(tid);
  }
  return out;
}

}  // namespace berth::master
