#include "api/metrics_routes.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "api/responses.h"
#include "metrics/registry.h"

namespace berth::api {
namespace {

// The route classes requests are counted under; longest first where one prefixes another.
constexpr std::array<const char*, 22> kRoutes = {
    "/metrics/prometheus",
    "/metrics",
    "/ping",
    "/v2/apps",
    "/v2/tasks",
    "/v2/deployments",
    "/v2/groups",
    "/v2/queue",
    "/v2/events",
    "/v2/info",
    "/v2/leader",
    "/v2/pods",
    "/v1/configuration/datasets",
    "/v1/state/datasets",
    "/v1/state/nodes",
    "/v1/version",
    "/berth/v1/agents",
    "/berth/v1/nodes",
    "/berth/v1/tasks",
    "/berth/v1/tokens",
    "/berth/v1/failovers",
    "/berth/v1",
};

// "running" for TASK_RUNNING: the state's word in the metrics; "staged" for TASK_STAGING, as
// Marathon names its gauge (marathon.tasks.staged.gauge).
std::string state_word(protocol::TaskState state) {
  if (state == protocol::TaskState::kStaging) return "staged";
  std::string name = protocol::to_string(state);
  if (name.rfind("TASK_", 0) == 0) name = name.substr(5);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

nlohmann::json optional_time(const std::optional<WallTime>& t) {
  return t ? nlohmann::json(format_iso8601(*t)) : nlohmann::json(nullptr);
}

nlohmann::json optional_ms(const std::optional<std::chrono::milliseconds>& d) {
  return d ? nlohmann::json(d->count()) : nlohmann::json(nullptr);
}

// When the last dataset or task reached each phase; null until every one that has the phase
// reached it (and for a phase none of them has).
nlohmann::json phases_json(const master::Failover& f) {
  std::optional<int64_t> attached = 0, running = 0, healthy = 0, routed = 0;
  bool any_checked = false, any_routed = false;
  auto latest = [](std::optional<int64_t>& acc, const std::optional<std::chrono::milliseconds>& d) {
    if (!acc) return;
    if (!d) {
      acc.reset();
      return;
    }
    acc = std::max(*acc, static_cast<int64_t>(d->count()));
  };
  for (const auto& d : f.datasets) latest(attached, d.attached_after);
  for (const auto& t : f.tasks) {
    latest(running, t.running_after);
    if (t.health_checked) {
      any_checked = true;
      latest(healthy, t.healthy_after);
    }
    if (t.service_routed) {
      any_routed = true;
      latest(routed, t.routed_after);
    }
  }
  auto show = [](bool has, const std::optional<int64_t>& v) {
    return has && v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"attachedAfterMs", show(!f.datasets.empty(), attached)},
          {"runningAfterMs", show(!f.tasks.empty(), running)},
          {"healthyAfterMs", show(any_checked, healthy)},
          {"routedAfterMs", show(any_routed, routed)}};
}

nlohmann::json failover_json(const master::Failover& f) {
  nlohmann::json datasets = nlohmann::json::array();
  for (const auto& d : f.datasets) {
    datasets.push_back(
        {{"datasetId", d.dataset_id},
         {"driver", d.driver},
         {"epochAtLoss", d.epoch_at_loss},
         {"attachedOn", d.attached_at ? nlohmann::json(d.attached_on) : nullptr},
         {"attachedEpoch", d.attached_at ? nlohmann::json(d.attached_epoch) : nullptr},
         {"attachedAt", optional_time(d.attached_at)},
         {"attachedAfterMs", optional_ms(d.attached_after)}});
  }
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : f.tasks) {
    bool replaced = !t.replacement_id.empty();
    tasks.push_back({{"taskId", t.task_id},
                     {"appId", t.app_id},
                     {"healthChecked", t.health_checked},
                     {"replacementTaskId", replaced ? nlohmann::json(t.replacement_id) : nullptr},
                     {"replacementNode", replaced ? nlohmann::json(t.replacement_agent) : nullptr},
                     {"runningAt", optional_time(t.running_at)},
                     {"runningAfterMs", optional_ms(t.running_after)},
                     {"healthyAt", optional_time(t.healthy_at)},
                     {"healthyAfterMs", optional_ms(t.healthy_after)},
                     {"serviceRouted", t.service_routed},
                     {"routedAt", optional_time(t.routed_at)},
                     {"routedAfterMs", optional_ms(t.routed_after)}});
  }
  return {{"id", f.id},
          {"node", {{"id", f.agent_id}, {"hostname", f.hostname}}},
          {"lostAt", format_iso8601(f.lost_at)},
          {"complete", f.complete()},
          {"phases", phases_json(f)},
          {"datasets", datasets},
          {"tasks", tasks}};
}

}  // namespace

std::string method_class(const std::string& method) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}) {
    if (method == known) return method;
  }
  return "other";
}

std::string route_class(const std::string& path) {
  for (const char* route : kRoutes) {
    std::string r = route;
    if (path == r || path.rfind(r + "/", 0) == 0) return r;
  }
  return "other";
}

void record_request(master::MasterCore& core, const http::Request& request,
                    std::chrono::nanoseconds took) {
  metrics::Registry* registry = core.options().metrics;
  if (!registry) return;
  registry->observe(metrics::Metric::kRequestDuration,
                    {method_class(request.method), route_class(request.path)}, took);
}

void update_gauges(metrics::Registry& registry, const master::MasterState& state,
                   const lease::MasterLeases& leases) {
  using metrics::Metric;
  double apps = 0;
  for (const auto& [id, app] : state.apps) apps += app.deleting ? 0 : 1;
  registry.set(Metric::kApps, {}, apps);
  std::map<metrics::Labels, double> tasks = {{{"running"}, 0}, {{"staged"}, 0}};
  for (const auto& [id, task] : state.tasks) tasks[{state_word(task.state)}] += 1;
  registry.set_all(Metric::kTasks, tasks);
  registry.set(Metric::kDeployments, {}, static_cast<double>(state.deployments.size()));
  std::map<metrics::Labels, double> agents = {
      {{"registered"}, 0}, {{"draining"}, 0}, {{"lost"}, 0}};
  // (dataset, agent, epoch) for every dataset a live agent reports attached.
  std::set<std::tuple<std::string, std::string, uint64_t>> attached;
  for (const auto& [id, agent] : state.agents) {
    agents[{agent.lost ? "lost" : "registered"}] += 1;
    if (!agent.lost && agent.draining) agents[{"draining"}] += 1;
    if (agent.lost) continue;
    for (const auto& r : agent.datasets) {
      if (r.attached) attached.emplace(r.dataset_id, id, r.epoch);
    }
  }
  registry.set_all(Metric::kAgents, agents);
  double assignments = 0, grants = 0, epoch_max = 0;
  for (const auto& [id, holder] : leases.datasets()) {
    if (!holder.agent.empty()) assignments += 1;
    // A declared-lost agent's grant no longer blocks anyone (docs/fencing.md §4): not counted.
    for (const auto& agent : leases.granted_to(id)) grants += leases.declared_lost(agent) ? 0 : 1;
    epoch_max = std::max(epoch_max, static_cast<double>(holder.epoch));
  }
  registry.set(Metric::kLeaseAssignments, {}, assignments);
  registry.set(Metric::kLeaseGrants, {}, grants);
  registry.set(Metric::kLeaseEpochMax, {}, epoch_max);
  // attached: its primary reports it attached at its epoch; moving: it has a primary that does
  // not yet; detached: no primary.
  std::map<metrics::Labels, double> datasets;
  for (const auto& [id, d] : state.datasets) {
    if (d.deleted) continue;
    const char* where = d.primary.empty()                          ? "detached"
                        : attached.count({id, d.primary, d.epoch}) ? "attached"
                                                                   : "moving";
    datasets[{d.driver, where}] += 1;
  }
  registry.set_all(Metric::kDatasets, datasets);
  registry.set(Metric::kFailoversRecorded, {},
               static_cast<double>(state.failovers.entries().size()));
}

http::Response handle_metrics(master::MasterCore& core, Clock& clock,
                              const http::Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return message_response(405, "Method not allowed");
  }
  // A core built without metrics (tests) still answers, with its gauges.
  metrics::Registry unmeasured(clock.mono_now());
  metrics::Registry& registry = core.options().metrics ? *core.options().metrics : unmeasured;
  core.read_with_leases([&](const master::MasterState& state, const lease::MasterLeases& leases) {
    update_gauges(registry, state, leases);
  });
  http::Response response;
  if (request.path == "/metrics/prometheus") {
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = registry.prometheus_text();
  } else {
    response.body = registry.dropwizard_json(clock.mono_now() - registry.created_at());
  }
  return response;
}

nlohmann::json failovers_json(const master::FailoverLog& log) {
  nlohmann::json out = nlohmann::json::array();
  const auto& entries = log.entries();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) out.push_back(failover_json(*it));
  return {{"failovers", out}};
}

http::Response handle_failovers(master::MasterCore& core, const http::Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return message_response(405, "Method not allowed");
  }
  nlohmann::json body;
  core.read([&](const master::MasterState& state) { body = failovers_json(state.failovers); });
  return json_response(200, body);
}

}  // namespace berth::api
