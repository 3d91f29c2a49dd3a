#include "cli/group_commands.h"

#include <functional>

#include "cli/table.h"

namespace berth::cli {
namespace {

// Each group of the tree under `group`, depth first.
void each_group(const nlohmann::json& group, const std::function<void(const nlohmann::json&)>& f) {
  if (!group.is_object()) return;
  f(group);
  if (group.contains("groups") && group["groups"].is_array()) {
    for (const auto& sub : group["groups"]) each_group(sub, f);
  }
}

std::string joined(const nlohmann::json& list, const char* key = nullptr) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    std::string text =
        key ? text_field(item, key, "") : (item.is_string() ? item.get<std::string>() : "");
    if (text.empty()) continue;
    out += (out.empty() ? "" : ", ") + text;
  }
  return out;
}

int change_and_follow(const CommandContext& context, const std::string& method,
                      const std::string& target, const std::string& body, const std::string& id,
                      const std::string& verb, const std::string& done,
                      const ChangeOptions& options) {
  auto answer = call_or_report(context, method, with_force(target, options.force), body);
  if (!answer) return kExitFailure;
  return finish_change(context, *answer, id, verb, done, options);
}

}  // namespace

int group_deploy(const CommandContext& context, const std::string& file,
                 const ChangeOptions& options) {
  auto definition = read_definition(context, file, "group");
  if (!definition) return kExitFailure;
  std::string id = normalize_app_id(text_field(*definition, "id", "/"));
  std::string body = definition->dump();
  auto posted = context.api.call("POST", with_force("/v2/groups", options.force), body);
  if (!posted.ok()) {
    context.err << posted.error().message << "\n";
    return kExitFailure;
  }
  ApiAnswer answer = std::move(posted).value();
  if (answer.status == 409 &&
      text_field(answer.json, "message", "").find("already created") != std::string::npos) {
    auto put = call_or_report(context, "PUT", with_force(group_target(id), options.force), body);
    if (!put) return kExitFailure;
    answer = std::move(*put);
  }
  if (!answer.ok()) {
    report_failure(context, answer);
    return kExitFailure;
  }
  return finish_change(context, answer, id, "deploying", "deployed group " + id, options);
}

int group_list(const CommandContext& context) {
  auto answer = call_or_report(context, "GET", "/v2/groups");
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  Table table({"GROUP", "APPS", "DEPENDS ON", "VERSION"});
  each_group(answer->json, [&](const nlohmann::json& g) {
    table.add_row({text_field(g, "id"), joined(g.value("apps", nlohmann::json::array()), "id"),
                   joined(g.value("dependencies", nlohmann::json::array())),
                   text_field(g, "version", "")});
  });
  context.out << table.render();
  return kExitOk;
}

int group_show(const CommandContext& context, const std::string& group_id) {
  std::string id = normalize_app_id(group_id);
  auto answer = call_or_report(
      context, "GET",
      group_target(id) + "?embed=group.groups&embed=group.apps&embed=group.apps.counts");
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  Table table({"APP", "INSTANCES", "DEPENDS ON", "DEPLOYMENTS"});
  each_group(answer->json, [&](const nlohmann::json& g) {
    for (const auto& app : g.value("apps", nlohmann::json::array())) {
      table.add_row({text_field(app, "id"),
                     std::to_string(int_field(app, "tasksRunning")) + "/" +
                         std::to_string(int_field(app, "instances")),
                     joined(app.value("dependencies", nlohmann::json::array())),
                     std::to_string(app.value("deployments", nlohmann::json::array()).size())});
    }
  });
  context.out << "GROUP " << id << "  (version " << text_field(answer->json, "version", "-")
              << ")\n";
  context.out << table.render();
  auto versions = context.api.call("GET", group_target(id) + "/versions");
  if (versions.ok() && versions->ok() && versions->json.is_array() && !versions->json.empty()) {
    context.out << "\nVERSIONS (newest first; berth group rollback " << id << " VERSION)\n";
    for (const auto& v : versions->json) context.out << "  " << v.get<std::string>() << "\n";
  }
  return kExitOk;
}

int group_scale(const CommandContext& context, const std::string& group_id, double factor,
                const ChangeOptions& options) {
  std::string id = normalize_app_id(group_id);
  nlohmann::json body = {{"scaleBy", factor}};
  return change_and_follow(context, "PUT", group_target(id), body.dump(), id, "scaling",
                           "scaled group " + id + " by " + std::to_string(factor), options);
}

int group_rollback(const CommandContext& context, const std::string& group_id,
                   const std::string& version, const ChangeOptions& options) {
  std::string id = normalize_app_id(group_id);
  nlohmann::json body = {{"version", version}};
  return change_and_follow(context, "PUT", group_target(id), body.dump(), id, "rolling back",
                           "rolled group " + id + " back to " + version, options);
}

int group_destroy(const CommandContext& context, const std::string& group_id,
                  const ChangeOptions& options) {
  std::string id = normalize_app_id(group_id);
  return change_and_follow(context, "DELETE", group_target(id), "", id, "destroying",
                           "destroyed group " + id, options);
}

}  // namespace berth::cli
