#include "api/views.h"

#include <string_view>
#include <unordered_map>

#include "json/bounded.h"
#include "master/plan.h"

namespace berth::api {
namespace {

// Health results are kept as the agent sent them (the master checked their shape when it took
// them); anything that does not read back as bounded JSON shows as none.
nlohmann::json health_results_json(const std::string& text) {
  auto parsed = json::parse(text);
  if (!parsed || !parsed->is_array()) return nlohmann::json::array();
  return std::move(*parsed);
}

// The tasks of the app `app_id`, from `index` or from a scan of every task.
std::vector<const master::TaskRecord*> tasks_of(const master::MasterState& state,
                                                const std::string& app_id,
                                                const TasksByApp* index) {
  if (index) {
    auto it = index->find(app_id);
    return it == index->end() ? std::vector<const master::TaskRecord*>{} : it->second;
  }
  std::vector<const master::TaskRecord*> tasks;
  for (const auto& [tid, task] : state.tasks) {
    if (task.app_id == app_id) tasks.push_back(&task);
  }
  return tasks;
}

}  // namespace

TasksByApp tasks_by_app(const master::MasterState& state,
                        const std::unordered_set<std::string>* apps) {
  TasksByApp index;
  for (const auto& [tid, task] : state.tasks) {
    if (!apps || apps->count(task.app_id)) index[task.app_id].push_back(&task);
  }
  return index;
}

nlohmann::json task_json(const master::MasterState& state, const master::TaskRecord& task) {
  nlohmann::json j = {
      {"id", task.id},
      {"appId", task.app_id},
      {"host", task.host},
      {"ports", task.ports},
      {"stagedAt", format_iso8601(task.staged_at)},
      {"state", task.state},
      {"version", task.version},
      {"slaveId", task.agent_id},
      {"ipAddresses", nlohmann::json::array({{{"ipAddress", task.host}, {"protocol", "IPv4"}}})},
      {"healthCheckResults", task.health_results.empty()
                                 ? nlohmann::json::array()
                                 : health_results_json(task.health_results)},
      {"role", "*"},
  };
  if (task.started_at) j["startedAt"] = format_iso8601(*task.started_at);
  auto app = state.apps.find(task.app_id);
  nlohmann::json service_ports = nlohmann::json::array();
  if (app != state.apps.end()) {
    for (uint32_t port : model::service_ports(app->second.app)) service_ports.push_back(port);
  }
  j["servicePorts"] = service_ports;
  return j;
}

nlohmann::json berth_task_json(const master::MasterState& state, const master::TaskRecord& task) {
  nlohmann::json j = task_json(state, task);
  j["agentId"] = task.agent_id;
  j["message"] = task.message;
  j["datasets"] = task.datasets;
  j["killRequested"] = task.kill_requested;
  if (task.healthy) j["healthy"] = *task.healthy;
  return j;
}

nlohmann::json app_info_json(const master::MasterCore& core, const master::MasterState& state,
                             const master::AppRecord& record, bool with_tasks, bool with_failure,
                             const TasksByApp* index) {
  nlohmann::json j = model::app_to_json(record.app);
  int staged = 0, running = 0, healthy = 0, unhealthy = 0;
  nlohmann::json tasks = nlohmann::json::array();
  for (const master::TaskRecord* task : tasks_of(state, record.app.id, index)) {
    if (task->state == protocol::TaskState::kRunning) {
      ++running;
      if (task->healthy) (*task->healthy ? healthy : unhealthy)++;
    } else {
      ++staged;
    }
    if (with_tasks) tasks.push_back(task_json(state, *task));
  }
  j["tasksStaged"] = staged;
  j["tasksRunning"] = running;
  j["tasksHealthy"] = healthy;
  j["tasksUnhealthy"] = unhealthy;
  nlohmann::json deployments = nlohmann::json::array();
  for (const auto& id : core.deployments_of(state, record.app.id))
    deployments.push_back({{"id", id}});
  j["deployments"] = deployments;
  if (with_tasks) j["tasks"] = tasks;
  if (with_failure && record.last_failure) {
    const auto& f = *record.last_failure;
    j["lastTaskFailure"] = {{"appId", record.app.id}, {"host", f.host},
                            {"message", f.message},   {"state", f.state},
                            {"taskId", f.task_id},    {"timestamp", f.timestamp},
                            {"version", f.version},   {"slaveId", f.agent_id}};
  }
  return j;
}

nlohmann::json task_stats_json(const master::MasterState& state, const master::AppRecord& record,
                               const TasksByApp* index) {
  struct Counts {
    int staged = 0, running = 0, healthy = 0, unhealthy = 0;
    void add(const master::TaskRecord& t) {
      if (t.state != protocol::TaskState::kRunning) {
        ++staged;
        return;
      }
      ++running;
      if (t.healthy) (*t.healthy ? healthy : unhealthy)++;
    }
    bool empty() const { return staged + running == 0; }
    nlohmann::json json() const {
      return {{"stats",
               {{"counts",
                 {{"staged", staged},
                  {"running", running},
                  {"healthy", healthy},
                  {"unhealthy", unhealthy}}}}}};
    }
  };
  Counts total, latest, outdated, after_scaling;
  const auto& info = record.app.version_info;
  for (const master::TaskRecord* task : tasks_of(state, record.app.id, index)) {
    total.add(*task);
    (task->config_version == info.last_config_change_at ? latest : outdated).add(*task);
    if (task->started_at && format_iso8601(*task->started_at) >= info.last_scaling_at)
      after_scaling.add(*task);
  }
  // Marathon leaves out a category no task is in.
  nlohmann::json stats = nlohmann::json::object();
  if (!after_scaling.empty()) stats["startedAfterLastScaling"] = after_scaling.json();
  if (!latest.empty()) stats["withLatestConfig"] = latest.json();
  if (!outdated.empty()) stats["withOutdatedConfig"] = outdated.json();
  if (!total.empty()) stats["totalSummary"] = total.json();
  return stats;
}

std::string app_info_text(const master::MasterCore& core, const master::MasterState& state,
                          const master::AppRecord& record, bool with_tasks, bool with_failure,
                          const TasksByApp* index) {
  std::string text = app_info_json(core, state, record, false, with_failure, index).dump();
  if (!with_tasks) return text;
  std::string tasks = ",\"tasks\":[";
  bool first = true;
  for (const master::TaskRecord* task : tasks_of(state, record.app.id, index)) {
    if (!first) tasks += ',';
    first = false;
    tasks += task_json(state, *task).dump();
  }
  tasks += "]}";
  text.pop_back();  // the object's closing brace
  text += tasks;
  return text;
}

nlohmann::json queue_json(const master::MasterState& state, WallTime now, MonoTime mono_now,
                          bool with_offers) {
  nlohmann::json queue = nlohmann::json::array();
  int64_t mono_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(mono_now.time_since_epoch()).count();
  for (const auto& [id, record] : state.apps) {
    if (!record.queue || record.deleting) continue;
    const auto& q = *record.queue;
    int64_t left_ms = std::max<int64_t>(0, record.backoff.next_launch_ms - mono_ms);
    nlohmann::json reasons = nlohmann::json::array();
    uint32_t declined_total = 0;
    for (const auto& [reason, count] : q.reason_counts) {
      reasons.push_back(
          {{"reason", reason}, {"declined", count}, {"processed", q.nodes_considered}});
      declined_total = std::max(declined_total, count);
    }
    nlohmann::json item = {
        {"app", model::app_to_json(record.app)},
        {"count", q.count},
        {"delay", {{"timeLeftSeconds", left_ms / 1000}, {"overdue", left_ms == 0}}},
        {"since", format_iso8601(q.since == WallTime{} ? now : q.since)},
        {"processedOffersSummary",
         {{"processedOffersCount", q.nodes_considered},
          {"unusedOffersCount", q.rejections.size()},
          {"rejectSummaryLastOffers", reasons},
          {"rejectSummaryLaunchAttempt", reasons}}},
    };
    // Why the last launch failed (e.g. Docker's "No such image"), while the app waits out its
    // backoff: in the app, where Marathon's clients accept it.
    if (record.last_failure) {
      const auto& f = *record.last_failure;
      item["app"]["lastTaskFailure"] = {{"appId", record.app.id}, {"host", f.host},
                                        {"message", f.message},   {"state", f.state},
                                        {"taskId", f.task_id},    {"timestamp", f.timestamp},
                                        {"version", f.version}};
    }
    if (with_offers) {
      nlohmann::json offers = nlohmann::json::array();
      for (const auto& r : q.rejections) {
        auto agent = state.agents.find(r.node_id);
        offers.push_back(
            {{"offer",
              {{"id", r.node_id},
               {"agentId", r.node_id},
               {"hostname", agent == state.agents.end() ? "" : agent->second.hostname}}},
             {"reason", nlohmann::json::array({r.reason})},
             {"detail", r.detail},
             {"timestamp", format_iso8601(now)}});
      }
      item["lastUnusedOffers"] = offers;
    }
    queue.push_back(item);
  }
  return {{"queue", queue}};
}

namespace {

// The readiness of the tasks of `action`'s app, for a deployment's currentActions.
nlohmann::json readiness_results(const master::MasterState& state, const nlohmann::json& action) {
  nlohmann::json out = nlohmann::json::array();
  std::string app_id = action.value("app", "");
  auto app = state.apps.find(app_id);
  if (app == state.apps.end() || !master::has_readiness_checks(app->second.app)) return out;
  std::string name = app->second.app.extra.get()["readinessChecks"][0].value("name", "");
  for (const auto& [tid, task] : state.tasks) {
    if (task.app_id != app_id || !task.ready) continue;
    out.push_back(
        {{"taskId", tid}, {"name", name}, {"ready", *task.ready}, {"lastResponse", nullptr}});
  }
  return out;
}

}  // namespace

nlohmann::json deployments_json(const master::MasterState& state) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, d] : state.deployments) {
    nlohmann::json steps = master::deployment_steps_json(d);
    size_t current = std::min(d.current_step, d.steps.empty() ? 0 : d.steps.size() - 1);
    nlohmann::json actions = steps.empty() ? nlohmann::json::array() : steps[current]["actions"];
    for (auto& action : actions) action["readinessCheckResults"] = readiness_results(state, action);
    out.push_back({{"id", d.id},
                   {"version", d.version},
                   {"affectedApps", d.affected_apps},
                   {"affectedPods", nlohmann::json::array()},
                   {"steps", steps},
                   {"currentActions", actions},
                   {"currentStep", current + 1},
                   {"totalSteps", d.steps.size()}});
  }
  return out;
}

namespace {

// The live datasets whose primary is node `id`.
nlohmann::json primary_datasets(const master::MasterState& state, const std::string& id) {
  nlohmann::json ids = nlohmann::json::array();
  auto held = state.datasets_by_primary.find(id);
  if (held == state.datasets_by_primary.end()) return ids;
  for (const auto& dataset_id : held->second) {
    auto d = state.datasets.find(dataset_id);
    if (d != state.datasets.end() && !d->second.deleted) ids.push_back(dataset_id);
  }
  return ids;
}

// Where dataset `d` stands: deleted, unassigned (no primary), moving (a local copy on its
// way), attached (its primary reports it attached at its epoch) or attaching.
const char* dataset_state(const master::MasterState& state, const model::Dataset& d) {
  if (d.deleted) return "deleted";
  if (d.primary.empty()) return "unassigned";
  if (!d.moving_from.empty()) return "moving";
  auto agent = state.agents.find(d.primary);
  if (agent == state.agents.end()) return "attaching";
  for (const auto& r : agent->second.datasets) {
    if (r.dataset_id == d.dataset_id && r.attached && r.epoch == d.epoch) return "attached";
  }
  return "attaching";
}

}  // namespace

nlohmann::json datasets_json(const master::MasterState& state) {
  // The app whose volume names each live dataset (a dataset serves one app at a time).
  std::map<std::string, std::string> app_of_name;
  for (const auto& [id, record] : state.apps) {
    if (record.deleting) continue;
    for (const auto& v : model::dataset_volumes(record.app)) app_of_name[v.name] = id;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, d] : state.datasets) {
    auto name = d.metadata.find("name");
    std::string dataset_name = name == d.metadata.end() ? "" : name->second;
    auto app = d.deleted ? app_of_name.end() : app_of_name.find(dataset_name);
    auto agent = state.agents.find(d.primary);
    list.push_back(
        {{"id", id},
         {"name", dataset_name},
         {"driver", d.driver},
         {"size", d.maximum_size ? nlohmann::json(*d.maximum_size) : nlohmann::json(nullptr)},
         {"node", d.primary.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.primary)},
         {"hostname", agent == state.agents.end() ? nlohmann::json(nullptr)
                                                  : nlohmann::json(agent->second.hostname)},
         {"epoch", d.epoch},
         {"state", dataset_state(state, d)},
         {"movingFrom",
          d.moving_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.moving_from)},
         {"app", app == app_of_name.end() ? nlohmann::json(nullptr) : nlohmann::json(app->second)},
         {"deleted", d.deleted}});
  }
  return {{"datasets", list}};
}

bool append_nodes(const master::MasterState& state, MonoTime mono_now, size_t limit,
                  std::string* after, nlohmann::json* nodes) {
  struct Used {
    double cpus = 0, mem = 0, disk = 0;
    int tasks = 0;
  };
  // The batch's agents first, then one pass over the tasks for what they use: the cost is the
  // tasks once per batch, not once per agent.
  auto from = after->empty() ? state.agents.begin() : state.agents.upper_bound(*after);
  std::unordered_map<std::string_view, Used> used;
  auto end = from;
  for (size_t n = 0; end != state.agents.end() && n < limit; ++end, ++n) used[end->first];
  if (!used.empty()) {
    for (const auto& [tid, task] : state.tasks) {
      auto u = used.find(task.agent_id);
      if (u == used.end()) continue;
      u->second.cpus += task.cpus;
      u->second.mem += task.mem;
      u->second.disk += task.disk;
      ++u->second.tasks;
    }
  }
  for (auto it = from; it != end; ++it) {
    const auto& [id, agent] = *it;
    const Used& u = used[id];
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& r : agent.resources.ports) ports.push_back({r.begin, r.end});
    auto since_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(mono_now - agent.last_heartbeat)
            .count();
    nodes->push_back({{"id", id},
                      {"hostname", agent.hostname},
                      {"address", agent.address},
                      {"state", agent.lost       ? "lost"
                                : agent.draining ? "draining"
                                                 : "active"},
                      {"resources",
                       {{"cpus", agent.resources.cpus},
                        {"mem", agent.resources.mem},
                        {"disk", agent.resources.disk},
                        {"ports", ports}}},
                      {"used", {{"cpus", u.cpus}, {"mem", u.mem}, {"disk", u.disk}}},
                      {"attributes", agent.attributes},
                      {"tasks", u.tasks},
                      {"datasets", primary_datasets(state, id)},
                      {"busyPorts", agent.busy_ports},
                      {"registeredAt", format_iso8601(agent.registered_at)},
                      {"lastHeartbeatAt", format_iso8601(agent.last_heartbeat_wall)},
                      {"msSinceHeartbeat", since_ms}});
    *after = id;
  }
  return end == state.agents.end();
}

}  // namespace berth::api
