// Writing apps as Marathon's canonical JSON, partial updates, version stamping, and the
// queries the master asks of an app (scale vs config change, network mode, volumes).
#include <cmath>
#include <functional>

#include "model/app.h"
#include "model/parse_support.h"

namespace berth::model {
namespace {

using namespace detail;

// Marathon types these fields as integers; write whole values without a fraction.
json seconds_value(double seconds) {
  if (std::trunc(seconds) == seconds && std::fabs(seconds) < 9007199254740992.0) {
    return static_cast<int64_t>(seconds);
  }
  return seconds;
}

json port_definition_json(const PortDefinition& definition) {
  json out = {
      {"port", definition.port}, {"protocol", definition.protocol}, {"labels", definition.labels}};
  if (definition.name) out["name"] = *definition.name;
  return out;
}

const json* extra_member(const App& app, const char* key) { return member(app.extra.get(), key); }

// True when dropping one field of `current_json` (app_to_json(current)) and parsing again
// gives `current` back: the field holds the default the rest of the definition implies.
bool holds_default(const App& current, const json& current_json,
                   const std::function<void(json&)>& drop) {
  json candidate = current_json;
  drop(candidate);
  ParseOutcome outcome = restore_app(candidate);
  return outcome.app && *outcome.app == current;
}

// Removes from `merged` the derived fields that hold their defaults in `current` and that
// `patch` does not set, so parsing recomputes them for the updated definition (adding a
// volume turns the default upgradeStrategy into {0.5, 0}; leaving host networking drops the
// default port definition).
void drop_derived_defaults(const App& current, const json& current_json, const json& patch,
                           json& merged) {
  for (const char* key :
       {"upgradeStrategy", "unreachableStrategy", "portDefinitions", "residency"}) {
    if (member(patch, key) != nullptr || !merged.contains(key)) continue;
    if (holds_default(current, current_json, [key](json& j) { j.erase(key); })) merged.erase(key);
  }
  const json* container = member(current_json, "container");
  if (member(patch, "container") == nullptr && container != nullptr &&
      container->contains("portMappings")) {
    if (holds_default(current, current_json,
                      [](json& j) { j["container"].erase("portMappings"); })) {
      merged["container"].erase("portMappings");
    }
  }
}

bool present(const json& patch, const char* key) { return member(patch, key) != nullptr; }

// Fields that exclude each other: a patch setting one replaces the other.
void drop_replaced_fields(const json& patch, json& merged) {
  if (present(patch, "cmd") && !present(patch, "args")) merged.erase("args");
  if (present(patch, "args") && !present(patch, "cmd")) merged.erase("cmd");
  if (present(patch, "ports") && !present(patch, "portDefinitions"))
    merged.erase("portDefinitions");
  if (present(patch, "uris") && !present(patch, "fetch")) merged.erase("fetch");
  bool legacy_network = present(patch, "ipAddress");
  if (const json* container = member(patch, "container");
      container != nullptr && container->is_object()) {
    if (const json* docker = member(*container, "docker"); docker != nullptr) {
      legacy_network = legacy_network || member(*docker, "network") != nullptr;
    }
  }
  if (legacy_network && !present(patch, "networks")) merged.erase("networks");
}

bool same_except_scale_and_version(const App& before, const App& after) {
  App normalized = after;
  normalized.instances = before.instances;
  normalized.version = before.version;
  normalized.version_info = before.version_info;
  return normalized == before;
}

const json* container_volumes(const App& app) {
  const json* container = extra_member(app, "container");
  if (container == nullptr) return nullptr;
  const json* volumes = member(*container, "volumes");
  return volumes != nullptr && volumes->is_array() ? volumes : nullptr;
}

bool has_volume_with(const App& app, const char* kind) {
  const json* volumes = container_volumes(app);
  if (volumes == nullptr) return false;
  for (const json& volume : *volumes) {
    if (member(volume, kind) != nullptr) return true;
  }
  return false;
}

std::string string_or(const json& object, const char* key, const std::string& fallback) {
  const json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : fallback;
}

}  // namespace

nlohmann::json app_to_json(const App& app) {
  json out = json::object();
  out["id"] = app.id;
  if (app.cmd) out["cmd"] = *app.cmd;
  if (app.args) out["args"] = *app.args;
  if (!app.user.empty()) out["user"] = app.user;
  json env = json::object();
  for (const auto& [name, value] : app.env) env[name] = value;
  for (const auto& [name, secret] : app.env_secrets) env[name] = {{"secret", secret}};
  out["env"] = std::move(env);
  out["instances"] = app.instances;
  out["cpus"] = app.cpus;
  out["mem"] = app.mem;
  out["disk"] = app.disk;
  out["gpus"] = app.gpus;
  out["executor"] = app.executor;
  json constraints = json::array();
  for (const ConstraintSpec& constraint : app.constraints) {
    json entry = {constraint.field, constraint.op};
    if (constraint.value) entry.push_back(*constraint.value);
    constraints.push_back(std::move(entry));
  }
  out["constraints"] = std::move(constraints);
  out["backoffSeconds"] = seconds_value(app.backoff_seconds);
  out["backoffFactor"] = app.backoff_factor;
  out["maxLaunchDelaySeconds"] = seconds_value(app.max_launch_delay_seconds);
  out["dependencies"] = app.dependencies;
  out["upgradeStrategy"] = {{"minimumHealthCapacity", app.upgrade_strategy.minimum_health_capacity},
                            {"maximumOverCapacity", app.upgrade_strategy.maximum_over_capacity}};
  out["labels"] = app.labels;
  out["killSelection"] = app.kill_selection;
  out["requirePorts"] = app.require_ports;
  if (network_mode(app) == kHostMode) {
    json definitions = json::array();
    for (const PortDefinition& definition : app.port_definitions) {
      definitions.push_back(port_definition_json(definition));
    }
    out["portDefinitions"] = std::move(definitions);
  }
  if (app.task_kill_grace_period_seconds) {
    out["taskKillGracePeriodSeconds"] = seconds_value(*app.task_kill_grace_period_seconds);
  }
  if (!app.version.empty()) {
    out["version"] = app.version;
    out["versionInfo"] = {{"lastScalingAt", app.version_info.last_scaling_at},
                          {"lastConfigChangeAt", app.version_info.last_config_change_at}};
  }
  if (app.extra.get().is_object()) {
    for (const auto& [key, value] : app.extra.get().items()) out[key] = value;
  }
  return out;
}

nlohmann::json validation_error_body(const std::vector<FieldError>& errors) {
  json details = json::array();
  for (const FieldError& error : errors) {
    details.push_back({{"path", error.path}, {"errors", error.errors}});
  }
  return {{"message", "Object is not valid"}, {"details", std::move(details)}};
}

bool is_rollback_request(const nlohmann::json& body) {
  if (!body.is_object()) return false;
  const json* version = member(body, "version");
  if (version == nullptr || !version->is_string()) return false;
  for (const auto& [key, value] : body.items()) {
    if (key != "id" && key != "version") return false;
  }
  return true;
}

ParseOutcome merge_app(const App& current, const nlohmann::json& patch,
                       const std::string& version_timestamp) {
  if (!patch.is_object())
    return ParseOutcome{std::nullopt, {FieldError{"/", {"error.expected.jsobject"}}}};
  json current_json = app_to_json(current);
  json merged = current_json;
  merged.erase("version");
  merged.erase("versionInfo");
  drop_derived_defaults(current, current_json, patch, merged);
  drop_replaced_fields(patch, merged);
  for (const auto& [key, value] : patch.items()) {
    if (key == "id" || key == "version" || key == "versionInfo" || value.is_null()) continue;
    merged[key] = value;
  }
  ParseOptions options;
  options.path_id = current.id;
  options.version = version_timestamp;
  ParseOutcome outcome = parse_app(merged, options);
  if (outcome.app) apply_version(*outcome.app, &current, version_timestamp);
  return outcome;
}

void apply_version(App& next, const App* previous, const std::string& timestamp) {
  next.version = timestamp;
  if (previous == nullptr || is_config_change(*previous, next)) {
    next.version_info = VersionInfo{timestamp, timestamp};
  } else if (previous->instances != next.instances) {
    next.version_info = VersionInfo{timestamp, previous->version_info.last_config_change_at};
  } else {
    next.version_info = previous->version_info;
  }
}

bool is_scale_only_change(const App& before, const App& after) {
  return before.instances != after.instances && same_except_scale_and_version(before, after);
}

bool is_config_change(const App& before, const App& after) {
  return !same_except_scale_and_version(before, after);
}

std::string network_mode(const App& app) {
  const json* networks = extra_member(app, "networks");
  if (networks == nullptr || !networks->is_array() || networks->empty()) return kHostMode;
  return string_or((*networks)[0], "mode", kHostMode);
}

std::optional<std::string> docker_image(const App& app) {
  const json* container = extra_member(app, "container");
  if (container == nullptr) return std::nullopt;
  const json* docker = member(*container, "docker");
  if (docker == nullptr) return std::nullopt;
  const json* image = member(*docker, "image");
  if (image == nullptr || !image->is_string()) return std::nullopt;
  return image->get<std::string>();
}

bool has_external_volumes(const App& app) {
  if (has_volume_with(app, "external")) return true;
  const json* container = extra_member(app, "container");
  return container != nullptr && !docker_parameter_volumes(*container).empty();
}

bool has_persistent_volumes(const App& app) { return has_volume_with(app, "persistent"); }

std::vector<ExternalVolume> external_volumes(const App& app) {
  std::vector<ExternalVolume> out;
  const json* volumes = container_volumes(app);
  if (volumes == nullptr) return out;
  for (const json& volume : *volumes) {
    const json* external = member(volume, "external");
    if (external == nullptr || !external->is_object()) continue;
    ExternalVolume entry;
    entry.container_path = string_or(volume, "containerPath", "");
    entry.mode = string_or(volume, "mode", "RW");
    entry.name = string_or(*external, "name", "");
    entry.provider = string_or(*external, "provider", "dvdi");
    if (const json* shared = member(*external, "shared");
        shared != nullptr && shared->is_boolean()) {
      entry.shared = shared->get<bool>();
    }
    if (const json* options = member(*external, "options");
        options != nullptr && options->is_object()) {
      for (const auto& [key, value] : options->items()) {
        if (value.is_string()) entry.options[key] = value.get<std::string>();
      }
    }
    auto driver = entry.options.find("dvdi/driver");
    if (driver != entry.options.end()) entry.driver = driver->second;
    out.push_back(std::move(entry));
  }
  if (const json* container = extra_member(app, "container")) {
    for (auto& entry : docker_parameter_volumes(*container)) out.push_back(std::move(entry));
  }
  return out;
}

std::vector<PortMapping> port_mappings(const App& app) {
  std::vector<PortMapping> out;
  const json* container = extra_member(app, "container");
  const json* mappings = container != nullptr ? member(*container, "portMappings") : nullptr;
  if (mappings == nullptr || !mappings->is_array()) return out;
  for (const json& m : *mappings) {
    PortMapping mapping;
    if (const json* port = member(m, "containerPort"); port != nullptr && port->is_number()) {
      mapping.container_port = port->get<uint32_t>();
    }
    if (const json* port = member(m, "hostPort"); port != nullptr && port->is_number()) {
      mapping.host_port = port->get<uint32_t>();
    }
    if (const json* port = member(m, "servicePort"); port != nullptr && port->is_number()) {
      mapping.service_port = port->get<uint32_t>();
    }
    mapping.protocol = string_or(m, "protocol", "tcp");
    mapping.name = string_or(m, "name", "");
    out.push_back(std::move(mapping));
  }
  return out;
}

std::vector<uint32_t> service_ports(const App& app) {
  std::vector<uint32_t> out;
  if (network_mode(app) == kHostMode) {
    for (const auto& pd : app.port_definitions) out.push_back(pd.port);
  } else {
    for (const auto& mapping : port_mappings(app)) out.push_back(mapping.service_port);
  }
  return out;
}

void set_service_ports(App& app, const std::vector<uint32_t>& ports) {
  if (network_mode(app) == kHostMode) {
    for (size_t i = 0; i < ports.size() && i < app.port_definitions.size(); ++i) {
      app.port_definitions[i].port = ports[i];
    }
    return;
  }
  json& extra = app.extra.get();
  if (!extra.is_object() || !extra.contains("container")) return;
  json& mappings = extra["container"]["portMappings"];
  if (!mappings.is_array()) return;
  for (size_t i = 0; i < ports.size() && i < mappings.size(); ++i)
    mappings[i]["servicePort"] = ports[i];
}

std::vector<ExternalVolume> dataset_volumes(const App& app) {
  std::vector<ExternalVolume> out = external_volumes(app);
  const json* volumes = container_volumes(app);
  if (volumes == nullptr) return out;
  for (const json& volume : *volumes) {
    const json* persistent = member(volume, "persistent");
    if (persistent == nullptr || !persistent->is_object()) continue;
    ExternalVolume entry;
    entry.container_path = string_or(volume, "containerPath", "");
    entry.mode = string_or(volume, "mode", "RW");
    entry.name = safe_app_id(app.id) + "." + entry.container_path;
    entry.provider = "dvdi";
    entry.driver = "berth";
    entry.options["berth/driver"] = "local";
    if (const json* size = member(*persistent, "size"); size != nullptr && size->is_number()) {
      entry.options["berth/size-mib"] = std::to_string(size->get<int64_t>());
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace berth::model
