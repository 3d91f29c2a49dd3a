// MasterCore's events for GET /v2/events, in Marathon's shapes (docs/compatibility.md §2.6). Called
// under the master's lock where the state changes; each builds a small JSON object only when
// someone listens, and publishing only appends to bounded queues.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "master/master_core.h"
#include "master/plan.h"

namespace berth::master {
namespace {

// berth's task ids are "<app>.instance-<uuid>._app.<n>"; the instance id drops the suffix.
std::string instance_id(const std::string& task_id) {
  size_t at = task_id.rfind("._app.");
  return at == std::string::npos ? task_id : task_id.substr(0, at);
}

bool is_ipv4_literal(const std::string& host) {
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
}

// A deployment's plan: id, version and steps (Marathon's "light" plan), with `original` and
// `target` holding the affected apps before and after, since clients of the full plan format
// (python-marathon) read those two and fail without them.
nlohmann::json plan_json(const DeploymentRecord& d, const MasterState& state) {
  auto root = [&](nlohmann::json apps) {
    return nlohmann::json{{"id", "/"},
                          {"version", d.version},
                          {"apps", std::move(apps)},
                          {"groups", nlohmann::json::array()},
                          {"dependencies", nlohmann::json::array()},
                          {"pods", nlohmann::json::array()}};
  };
  nlohmann::json before = nlohmann::json::array(), after = nlohmann::json::array();
  for (const auto& [id, original] : d.original_apps) {
    if (original.empty()) continue;
    nlohmann::json app = nlohmann::json::parse(original, nullptr, false);
    if (app.is_object()) before.push_back(std::move(app));
  }
  for (const auto& id : d.affected_apps) {
    auto app = state.apps.find(id);
    if (app != state.apps.end() && !app->second.deleting)
      after.push_back(model::app_to_json(app->second.app));
  }
  return {{"id", d.id},
          {"version", d.version},
          {"steps", deployment_steps_json(d)},
          {"original", root(std::move(before))},
          {"target", root(std::move(after))}};
}

}  // namespace

void MasterCore::publish_event(const std::string& type, const nlohmann::json& event) {
  if (!events_.has_subscribers()) return;
  nlohmann::json out = event.is_object() ? event : nlohmann::json::object();
  out["eventType"] = type;
  out["timestamp"] = format_iso8601(clock_.wall_now());
  events_.publish(type, out.dump());
}

void MasterCore::publish_status_update(const TaskRecord& task, protocol::TaskState state,
                                       const std::string& message) {
  note("task " + task.id + " of " + task.app_id + " on " + node_name(task.agent_id) + ": " +
       protocol::to_string(state) + (message.empty() ? "" : " (" + message + ")"));
  if (!events_.has_subscribers()) return;
  nlohmann::json ips = nlohmann::json::array();
  if (is_ipv4_literal(task.host)) ips.push_back({{"ipAddress", task.host}, {"protocol", "IPv4"}});
  publish_event("status_update_event", {{"slaveId", task.agent_id},
                                        {"taskId", task.id},
                                        {"taskStatus", state},
                                        {"message", message},
                                        {"appId", task.app_id},
                                        {"host", task.host},
                                        {"ipAddresses", ips},
                                        {"ports", task.ports},
                                        {"version", task.version}});
}

void MasterCore::publish_node_change(const AgentRecord& agent) {
  publish_event("berth_node_changed", {{"nodeId", agent.id},
                                       {"hostname", agent.hostname},
                                       {"state", agent.lost       ? "lost"
                                                 : agent.draining ? "draining"
                                                                  : "active"}});
}

void MasterCore::publish_health_change(const TaskRecord& task, bool alive) {
  if (!events_.has_subscribers()) return;
  publish_event("health_status_changed_event", {{"appId", task.app_id},
                                                {"taskId", task.id},
                                                {"instanceId", instance_id(task.id)},
                                                {"version", task.version},
                                                {"alive", alive}});
}

void MasterCore::publish_deployment(const std::string& type, const DeploymentRecord& deployment,
                                    const std::string& reason) {
  if (!events_.has_subscribers()) return;
  nlohmann::json plan = plan_json(deployment, state_);
  if (type == "deployment_info" || type == "deployment_step_success") {
    size_t step = std::min(deployment.current_step, deployment.steps.size() - 1);
    publish_event(type, {{"plan", plan}, {"currentStep", plan["steps"][step]}});
    return;
  }
  nlohmann::json event{{"id", deployment.id}, {"plan", plan}};
  if (!reason.empty()) event["reason"] = reason;
  publish_event(type, event);
}

void MasterCore::drop_overridden_deployments(const std::vector<StoreOp>& ops) {
  const std::string prefix = "/deployments/";
  for (const auto& op : ops) {
    if (op.kind != StoreOp::Kind::kErase || op.key.rfind(prefix, 0) != 0) continue;
    auto it = state_.deployments.find(op.key.substr(prefix.size()));
    if (it == state_.deployments.end()) continue;
    publish_deployment("deployment_failed", it->second, "overridden by a forced deployment");
    state_.deployments.erase(it);
  }
}

}  // namespace berth::master
