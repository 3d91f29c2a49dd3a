#include "cli/app_commands.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "cli/deployment_watch.h"
#include "cli/table.h"
#include "cli/task_node_commands.h"

namespace berth::cli {
namespace {

// The master refuses larger request bodies (http::ServerOptions::max_body_bytes).
constexpr size_t kMaxDefinitionBytes = 8 << 20;
constexpr size_t kCmdColumnWidth = 40;

}  // namespace

std::string with_force(const std::string& target, bool force) {
  if (!force) return target;
  return target + (target.find('?') == std::string::npos ? "?" : "&") + "force=true";
}

// Reads the app definition; on failure says why on stderr and returns nullopt.
std::optional<nlohmann::json> read_definition(const CommandContext& context,
                                              const std::string& file, const std::string& what) {
  const std::string source = file == "-" ? "the " + what + " definition on stdin" : file;
  std::ifstream stream;
  std::istream* in = &context.env.input();
  if (file != "-") {
    stream.open(file, std::ios::binary);
    if (!stream) {
      context.err << "cannot read the " << what << " definition " << file << ": "
                  << std::strerror(errno) << "\n";
      return std::nullopt;
    }
    in = &stream;
  }
  std::string text;
  char buffer[64 << 10];
  while (in->read(buffer, sizeof buffer) || in->gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in->gcount()));
    if (text.size() > kMaxDefinitionBytes) {
      context.err << source << " is larger than " << (kMaxDefinitionBytes >> 20)
                  << " MiB, which the master refuses\n";
      return std::nullopt;
    }
  }
  nlohmann::json definition;
  try {
    definition = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    context.err << source << " is not valid JSON: " << e.what() << "\n";
    return std::nullopt;
  }
  if (!definition.is_object()) {
    context.err << source << " must be a JSON object (one " << what << " definition), not "
                << definition.type_name() << "\n";
    return std::nullopt;
  }
  return definition;
}

// Prints what a deployable call answered and, unless --no-wait, follows its deployment.
int finish_change(const CommandContext& context, const ApiAnswer& answer, const std::string& app_id,
                  const std::string& verb, const std::string& done, const ChangeOptions& options) {
  if (context.json) print_json(context.out, answer);
  std::string version = text_field(answer.json, "version", "");
  std::string suffix = version.empty() ? "" : " (version " + version + ")";
  std::string deployment_id = deployment_id_of(answer);
  if (options.no_wait || deployment_id.empty()) {
    if (!deployment_id.empty()) {
      context.notes() << "started deployment " << deployment_id << " for " << app_id << suffix
                      << "\n";
    } else {
      context.notes() << done << suffix << "\n";
    }
    return kExitOk;
  }
  DeploymentWatch watch{app_id, deployment_id, verb, std::chrono::seconds(options.timeout_seconds)};
  int code = wait_for_deployment(context, watch);
  if (code == kExitOk) context.notes() << done << suffix << "\n";
  return code;
}

namespace {

bool is_already_exists(const ApiAnswer& answer) {
  return answer.status == 409 &&
         text_field(answer.json, "message", "").find("already exists") != std::string::npos;
}

std::string command_text(const nlohmann::json& app) {
  std::string cmd = text_field(app, "cmd", "");
  if (!cmd.empty()) return cmd;
  if (app.contains("args") && app["args"].is_array() && !app["args"].empty()) {
    std::string joined;
    for (const auto& arg : app["args"])
      joined += (joined.empty() ? "" : " ") + scalar_text(arg, "");
    return joined;
  }
  if (app.contains("container") && app["container"].is_object()) {
    const auto& container = app["container"];
    if (container.contains("docker")) return "image " + text_field(container["docker"], "image");
  }
  return "-";
}

size_t array_size(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_array()) return 0;
  return object[key].size();
}

std::string constraints_text(const nlohmann::json& app) {
  std::string text;
  if (!app.contains("constraints") || !app["constraints"].is_array()) return text;
  for (const auto& constraint : app["constraints"]) {
    std::string one;
    for (const auto& part : constraint) one += (one.empty() ? "" : ":") + scalar_text(part, "");
    text += (text.empty() ? "" : "; ") + one;
  }
  return text;
}

std::string labels_text(const nlohmann::json& app) {
  std::string text;
  if (!app.contains("labels") || !app["labels"].is_object()) return text;
  for (const auto& [key, value] : app["labels"].items()) {
    text += (text.empty() ? "" : ", ") + key + "=" + scalar_text(value, "");
  }
  return text;
}

std::string deployments_text(const nlohmann::json& app) {
  std::string text;
  if (!app.contains("deployments") || !app["deployments"].is_array()) return text;
  for (const auto& deployment : app["deployments"]) {
    text += (text.empty() ? "" : ", ") + text_field(deployment, "id");
  }
  return text;
}

void print_app_summary(std::ostream& out, const nlohmann::json& app) {
  auto line = [&out](const std::string& label, const std::string& value) {
    if (value.empty()) return;
    out << label << std::string(label.size() < 14 ? 14 - label.size() : 1, ' ') << value << "\n";
  };
  line("ID", text_field(app, "id"));
  line("VERSION", text_field(app, "version"));
  std::string instances = std::to_string(int_field(app, "tasksRunning")) + "/" +
                          std::to_string(int_field(app, "instances")) + " running, " +
                          std::to_string(int_field(app, "tasksStaged")) + " staged";
  if (array_size(app, "healthChecks") > 0) {
    instances += ", " + std::to_string(int_field(app, "tasksHealthy")) + " healthy, " +
                 std::to_string(int_field(app, "tasksUnhealthy")) + " unhealthy";
  }
  line("INSTANCES", instances);
  line("RESOURCES", "cpus " + number_field(app, "cpus", "0") + ", mem " +
                        number_field(app, "mem", "0") + " MiB, disk " +
                        number_field(app, "disk", "0") + " MiB");
  line("CMD", command_text(app));
  line("CONSTRAINTS", constraints_text(app));
  line("LABELS", labels_text(app));
  std::string deployments = deployments_text(app);
  line("DEPLOYMENTS", deployments.empty() ? "none" : deployments);
  if (app.contains("lastTaskFailure") && app["lastTaskFailure"].is_object()) {
    const auto& failure = app["lastTaskFailure"];
    line("LAST FAILURE", text_field(failure, "state") + " at " + text_field(failure, "timestamp") +
                             ": " + truncate_cell(text_field(failure, "message"), 200));
  }
}

}  // namespace

int app_deploy(const CommandContext& context, const std::string& file,
               const ChangeOptions& options) {
  auto definition = read_definition(context, file, "app");
  if (!definition) return kExitFailure;
  std::string app_id = normalize_app_id(text_field(*definition, "id", ""));
  std::string body = definition->dump();
  auto posted = context.api.call("POST", with_force("/v2/apps", options.force), body);
  if (!posted.ok()) {
    context.err << posted.error().message << "\n";
    return kExitFailure;
  }
  ApiAnswer answer = std::move(posted).value();
  if (is_already_exists(answer) && app_id != "/") {
    auto put = call_or_report(
        context, "PUT", with_force(app_target(app_id) + "?partialUpdate=false", options.force),
        body);
    if (!put) return kExitFailure;
    answer = std::move(*put);
  } else if (!answer.ok()) {
    report_failure(context, answer);
    return kExitFailure;
  }
  if (app_id == "/") app_id = normalize_app_id(text_field(answer.json, "id", ""));
  return finish_change(context, answer, app_id, "deploying", "deployed " + app_id, options);
}

int app_list(const CommandContext& context) {
  auto answer = call_or_report(context, "GET", "/v2/apps");
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  std::vector<nlohmann::json> apps;
  if (answer->json.is_object() && answer->json.contains("apps") &&
      answer->json["apps"].is_array()) {
    apps.assign(answer->json["apps"].begin(), answer->json["apps"].end());
  }
  std::stable_sort(apps.begin(), apps.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return text_field(a, "id") < text_field(b, "id");
  });
  Table table({"ID", "INSTANCES", "CPUS", "MEM", "CMD", "DEPLOYMENTS"});
  for (const auto& app : apps) {
    table.add_row({text_field(app, "id"),
                   std::to_string(int_field(app, "tasksRunning")) + "/" +
                       std::to_string(int_field(app, "instances")),
                   number_field(app, "cpus"), number_field(app, "mem"),
                   truncate_cell(command_text(app), kCmdColumnWidth),
                   std::to_string(array_size(app, "deployments"))});
  }
  context.out << table.render();
  return kExitOk;
}

int app_show(const CommandContext& context, const std::string& app_id) {
  auto answer = call_or_report(context, "GET", app_target(app_id));
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  const auto app = answer->json.is_object() ? answer->json.value("app", nlohmann::json::object())
                                            : nlohmann::json::object();
  print_app_summary(context.out, app);
  context.out << "\n" << render_tasks(app.value("tasks", nlohmann::json::array()), false, true);
  return kExitOk;
}

int app_scale(const CommandContext& context, const std::string& app_id, int64_t instances,
              const ChangeOptions& options) {
  std::string id = normalize_app_id(app_id);
  nlohmann::json body = {{"instances", instances}};
  auto answer =
      call_or_report(context, "PUT", with_force(app_target(id), options.force), body.dump());
  if (!answer) return kExitFailure;
  return finish_change(context, *answer, id, "scaling",
                       "scaled " + id + " to " + std::to_string(instances) + " instances", options);
}

int app_restart(const CommandContext& context, const std::string& app_id,
                const ChangeOptions& options) {
  std::string id = normalize_app_id(app_id);
  auto answer =
      call_or_report(context, "POST", with_force(app_target(id) + "/restart", options.force));
  if (!answer) return kExitFailure;
  return finish_change(context, *answer, id, "restarting", "restarted " + id, options);
}

int app_destroy(const CommandContext& context, const std::string& app_id,
                const ChangeOptions& options) {
  std::string id = normalize_app_id(app_id);
  auto answer = call_or_report(context, "DELETE", with_force(app_target(id), options.force));
  if (!answer) return kExitFailure;
  return finish_change(context, *answer, id, "destroying", "destroyed " + id, options);
}

}  // namespace berth::cli
