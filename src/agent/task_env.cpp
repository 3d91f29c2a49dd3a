#include "agent/task_env.h"

#include <cctype>
#include <cstdio>

namespace berth::agent {
namespace {

// PORT_<NAME> and MARATHON_APP_LABEL_<NAME>: upper case, anything else becomes '_'.
std::string env_name(const std::string& raw) {
  std::string out;
  for (unsigned char c : raw)
    out.push_back(std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_');
  return out;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::map<std::string, std::string> task_environment(const protocol::LaunchSpec& spec,
                                                    const std::string& host,
                                                    const std::string& sandbox,
                                                    const std::string& inherited_path) {
  std::map<std::string, std::string> env;
  if (!inherited_path.empty()) env["PATH"] = inherited_path;
  env["HOME"] = sandbox;
  std::string ports;
  for (size_t i = 0; i < spec.ports.size(); ++i) {
    std::string p = std::to_string(spec.ports[i]);
    env["PORT" + std::to_string(i)] = p;
    if (i < spec.port_names.size() && !spec.port_names[i].empty()) {
      env["PORT_" + env_name(spec.port_names[i])] = p;
    }
    ports += (i ? "," : "") + p;
  }
  if (!spec.ports.empty()) env["PORT"] = std::to_string(spec.ports[0]);
  env["PORTS"] = ports;
  env["HOST"] = host;
  env["MARATHON_APP_ID"] = spec.app_id;
  env["MARATHON_APP_VERSION"] = spec.version;
  env["MESOS_TASK_ID"] = spec.task_id;
  env["MESOS_SANDBOX"] = sandbox;
  env["MARATHON_APP_RESOURCE_CPUS"] = number(spec.cpus);
  env["MARATHON_APP_RESOURCE_MEM"] = number(spec.mem);
  env["MARATHON_APP_RESOURCE_DISK"] = number(spec.disk);
  std::string labels;
  for (const auto& [k, v] : spec.labels) {
    if (k.size() > 512 || v.size() > 512) continue;
    env["MARATHON_APP_LABEL_" + env_name(k)] = v;
    labels += (labels.empty() ? "" : " ") + env_name(k);
  }
  env["MARATHON_APP_LABELS"] = labels;
  // The app's own env wins over everything but the task identity.
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

}  // namespace berth::agent
