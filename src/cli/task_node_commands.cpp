#include "cli/task_node_commands.h"

#include "cli/dataset_view.h"
#include "cli/deployment_watch.h"
#include "cli/table.h"
#include "http/http.h"

namespace berth::cli {
namespace {

std::string health_text(const nlohmann::json& task) {
  if (!task.contains("healthCheckResults") || !task["healthCheckResults"].is_array() ||
      task["healthCheckResults"].empty()) {
    return "-";
  }
  for (const auto& result : task["healthCheckResults"]) {
    if (!result.is_object() || !result.value("alive", false)) return "unhealthy";
  }
  return "healthy";
}

// "0.5/4" for used and total amounts of one resource.
std::string usage_text(const nlohmann::json& node, const char* resource) {
  const auto used = node.value("used", nlohmann::json::object());
  const auto total = node.value("resources", nlohmann::json::object());
  return number_field(used, resource, "0") + "/" + number_field(total, resource, "0");
}

std::string attributes_text(const nlohmann::json& node) {
  if (!node.contains("attributes") || !node["attributes"].is_object() ||
      node["attributes"].empty()) {
    return "-";
  }
  std::string text;
  for (const auto& [key, value] : node["attributes"].items()) {
    text += (text.empty() ? "" : ",") + key + "=" + scalar_text(value, value.dump());
  }
  return text;
}

}  // namespace

std::string render_tasks(const nlohmann::json& tasks, bool with_app_column,
                         bool with_health_column) {
  std::vector<std::string> headers = {"ID"};
  if (with_app_column) headers.push_back("APP");
  for (const char* header : {"HOST", "PORTS", "STATE", "STARTED"}) headers.push_back(header);
  if (with_health_column) headers.push_back("HEALTH");
  Table table(headers);
  if (tasks.is_array()) {
    for (const auto& task : tasks) {
      std::vector<std::string> row = {text_field(task, "id")};
      if (with_app_column) row.push_back(text_field(task, "appId"));
      row.push_back(text_field(task, "host"));
      row.push_back(joined_field(task, "ports"));
      row.push_back(text_field(task, "state"));
      row.push_back(text_field(task, "startedAt"));
      if (with_health_column) row.push_back(health_text(task));
      table.add_row(std::move(row));
    }
  }
  return table.render();
}

int task_list(const CommandContext& context, const std::string& app_id) {
  std::string target = app_id.empty() ? "/v2/tasks" : app_target(app_id) + "/tasks";
  auto answer = call_or_report(context, "GET", target);
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  const auto tasks = answer->json.is_object() ? answer->json.value("tasks", nlohmann::json::array())
                                              : nlohmann::json::array();
  context.out << render_tasks(tasks, true, false);
  return kExitOk;
}

int task_kill(const CommandContext& context, const std::string& task_id, bool scale) {
  nlohmann::json body = {{"ids", {task_id}}};
  std::string target = std::string("/v2/tasks/delete?scale=") + (scale ? "true" : "false");
  auto answer = call_or_report(context, "POST", target, body.dump());
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  std::string deployment_id = deployment_id_of(*answer);
  context.out << "killed task " << task_id;
  if (!deployment_id.empty())
    context.out << "; its app scales down in deployment " << deployment_id;
  context.out << "\n";
  return kExitOk;
}

int node_list(const CommandContext& context) {
  auto answer = call_or_report(context, "GET", "/berth/v1/nodes");
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  Table table({"ID", "HOSTNAME", "STATE", "CPUS", "MEM", "TASKS", "ATTRIBUTES"});
  const auto nodes = answer->json.is_object() ? answer->json.value("nodes", nlohmann::json::array())
                                              : nlohmann::json::array();
  for (const auto& node : nodes) {
    table.add_row({text_field(node, "id"), text_field(node, "hostname"), text_field(node, "state"),
                   usage_text(node, "cpus"), usage_text(node, "mem"),
                   number_field(node, "tasks", "0"), attributes_text(node)});
  }
  context.out << table.render();
  return kExitOk;
}

int node_drain(const CommandContext& context, const std::string& node, bool drain) {
  auto listed = call_or_report(context, "GET", "/berth/v1/nodes");
  if (!listed) return kExitFailure;
  const auto nodes = listed->json.is_object() ? listed->json.value("nodes", nlohmann::json::array())
                                              : nlohmann::json::array();
  auto found = find_node(nodes, "id", node);
  if (!found.ok()) {
    context.err << found.error().message << "\n";
    return kExitFailure;
  }
  const std::string id = text_field(*found, "id");
  const std::string name = text_field(*found, "hostname", id) + " (" + id + ")";
  auto answer = call_or_report(context, drain ? "POST" : "DELETE",
                               "/berth/v1/nodes/" + http::percent_encode(id) + "/drain");
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  if (drain) {
    context.out << "draining " << name
                << ": no new tasks go there and its tasks move to other nodes\n";
  } else {
    context.out << name << " takes new tasks again\n";
  }
  return kExitOk;
}

}  // namespace berth::cli
