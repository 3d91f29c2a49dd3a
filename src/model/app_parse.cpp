// parse_app and restore_app: reading the typed top-level fields of an app definition. The
// kept-JSON fields are normalised in app_kept_fields.cpp and the rules between fields are
// checked in app_validate.cpp.
#include <set>

#include "model/app.h"
#include "model/parse_support.h"

namespace berth::model {
namespace {

using namespace detail;

// Reads a number field of `body` into `target` when present, enforcing `minimum`.
void read_bounded_number(const json& body, const char* key, double minimum, double& target,
                         ErrorList& errors) {
  const json* value = member(body, key);
  if (value == nullptr) return;
  std::string path = std::string("/") + key;
  auto number = read_number(*value, path, errors);
  if (!number) return;
  if (*number < minimum) {
    errors.add(path, expected_at_least(*number, minimum));
    return;
  }
  target = *number;
}

void parse_id(const json& body, const ParseOptions& options, App& app, ErrorList& errors) {
  std::string raw;
  if (options.path_id) {
    raw = *options.path_id;
  } else {
    const json* id = member(body, "id");
    if (id == nullptr) {
      errors.add("/id", "error.path.missing");
      return;
    }
    auto text = read_string(*id, "/id", errors);
    if (!text) return;
    raw = std::move(*text);
  }
  if (auto error = app_id_error(raw)) {
    errors.add("/id", *error);
    return;
  }
  app.id = normalize_app_id(raw, options.path_id ? "/" : options.base_group);
  if (app.id == "/") errors.add("/id", "must not be root");
}

void parse_command(const json& body, App& app, ErrorList& errors) {
  if (const json* cmd = member(body, "cmd")) {
    app.cmd = read_string(*cmd, "/cmd", errors);
  }
  if (const json* args = member(body, "args")) {
    app.args = read_string_array(*args, "/args", errors);
  }
}

void parse_resources(const json& body, App& app, ErrorList& errors) {
  read_bounded_number(body, "cpus", 0, app.cpus, errors);
  read_bounded_number(body, "mem", 0, app.mem, errors);
  read_bounded_number(body, "disk", 0, app.disk, errors);
  if (const json* gpus = member(body, "gpus")) {
    if (auto value = read_int(*gpus, "/gpus", errors)) {
      if (*value < 0) {
        errors.add("/gpus", expected_at_least(static_cast<double>(*value), 0));
      } else {
        app.gpus = static_cast<int>(*value);
      }
    }
  }
  if (const json* instances = member(body, "instances")) {
    if (auto value = read_int(*instances, "/instances", errors)) {
      if (*value < 0) {
        errors.add("/instances", expected_at_least(static_cast<double>(*value), 0));
      } else {
        app.instances = static_cast<uint32_t>(*value);
      }
    }
  }
}

void parse_env_and_labels(const json& body, App& app, ErrorList& errors) {
  if (const json* env = member(body, "env");
      env != nullptr && expect_object(*env, "/env", errors)) {
    for (const auto& [name, value] : env->items()) {
      std::string path = "/env/" + name;
      if (value.is_string()) {
        app.env.emplace(name, value.get<std::string>());
      } else if (value.is_object() && value.size() == 1 && value.contains("secret")) {
        if (auto secret = read_string(value["secret"], path + "/secret", errors)) {
          app.env_secrets.emplace(name, std::move(*secret));
        }
      } else {
        errors.add(path, "error.expected.jsstring");
      }
    }
  }
  if (const json* labels = member(body, "labels")) {
    if (auto map = read_string_map(*labels, "/labels", errors)) app.labels = std::move(*map);
  }
}

void parse_constraints(const json& body, App& app, ErrorList& errors) {
  const json* constraints = member(body, "constraints");
  if (constraints == nullptr || !expect_array(*constraints, "/constraints", errors)) return;
  for (size_t i = 0; i < constraints->size(); ++i) {
    if (auto spec = parse_constraint((*constraints)[i], element_path("/constraints", i), errors)) {
      app.constraints.push_back(std::move(*spec));
    }
  }
}

std::optional<PortDefinition> parse_port_definition(const json& value, const std::string& path,
                                                    ErrorList& errors) {
  if (!expect_object(value, path, errors)) return std::nullopt;
  PortDefinition definition;
  bool ok = true;
  if (const json* port = member(value, "port")) {
    if (auto number = read_port(*port, path + "/port", errors)) {
      definition.port = *number;
    } else {
      ok = false;
    }
  }
  if (const json* protocol = member(value, "protocol")) {
    auto text = read_string(*protocol, path + "/protocol", errors);
    if (text && is_valid_port_protocol(*text)) {
      definition.protocol = *text;
    } else {
      if (text) errors.add(path + "/protocol", kPortProtocolError);
      ok = false;
    }
  }
  if (const json* name = member(value, "name")) {
    auto text = read_string(*name, path + "/name", errors);
    if (text && is_dns_label(*text)) {
      definition.name = *text;
    } else {
      if (text) errors.add(path + "/name", must_match("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
      ok = false;
    }
  }
  if (const json* labels = member(value, "labels")) {
    if (auto map = read_string_map(*labels, path + "/labels", errors)) {
      definition.labels = std::move(*map);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return definition;
}

// portDefinitions, or the legacy `ports` (port numbers only), or the network mode's default.
void parse_ports(const json& body, const ExtraFacts& facts, App& app, ErrorList& errors) {
  std::optional<std::vector<PortDefinition>> definitions;
  if (const json* value = member(body, "portDefinitions");
      value != nullptr && expect_array(*value, "/portDefinitions", errors)) {
    definitions.emplace();
    for (size_t i = 0; i < value->size(); ++i) {
      auto definition =
          parse_port_definition((*value)[i], element_path("/portDefinitions", i), errors);
      if (definition) definitions->push_back(std::move(*definition));
    }
  }
  std::optional<std::vector<PortDefinition>> legacy;
  if (const json* value = member(body, "ports");
      value != nullptr && expect_array(*value, "/ports", errors)) {
    legacy.emplace();
    std::set<uint32_t> seen;
    for (size_t i = 0; i < value->size(); ++i) {
      auto port = read_port((*value)[i], element_path("/ports", i), errors);
      if (!port) continue;
      if (*port != 0 && !seen.insert(*port).second) errors.add("/ports", "ports must be unique");
      PortDefinition definition;
      definition.port = *port;
      legacy->push_back(std::move(definition));
    }
  }
  if (definitions && legacy) {
    bool equivalent = definitions->size() == legacy->size();
    for (size_t i = 0; equivalent && i < legacy->size(); ++i) {
      equivalent = (*definitions)[i].port == (*legacy)[i].port;
    }
    if (!equivalent) errors.add("/", "cannot specify both ports and port definitions");
  }
  if (definitions) {
    app.port_definitions = std::move(*definitions);
  } else if (legacy) {
    app.port_definitions = std::move(*legacy);
  } else {
    app.port_definitions = default_port_definitions(facts.network_mode);
  }
}

void read_capacity(const json& strategy, const char* key, double& target, ErrorList& errors) {
  const json* value = member(strategy, key);
  if (value == nullptr) return;
  std::string path = std::string("/upgradeStrategy/") + key;
  auto number = read_number(*value, path, errors);
  if (!number) return;
  if (*number < 0) {
    errors.add(path, "is less than 0");
  } else if (*number > 1) {
    errors.add(path, "is greater than 1");
  } else {
    target = *number;
  }
}

void parse_strategies(const json& body, const ExtraFacts& facts, App& app, ErrorList& errors) {
  auto single = app.labels.find(kSingleInstanceLabel);
  bool single_instance = single != app.labels.end() && single->second == "true";
  app.upgrade_strategy =
      default_upgrade_strategy(facts.persistent_volumes || facts.external_volumes, single_instance);
  if (const json* strategy = member(body, "upgradeStrategy");
      strategy != nullptr && expect_object(*strategy, "/upgradeStrategy", errors)) {
    read_capacity(*strategy, "minimumHealthCapacity", app.upgrade_strategy.minimum_health_capacity,
                  errors);
    read_capacity(*strategy, "maximumOverCapacity", app.upgrade_strategy.maximum_over_capacity,
                  errors);
  }
  read_bounded_number(body, "backoffSeconds", 0, app.backoff_seconds, errors);
  read_bounded_number(body, "backoffFactor", 1, app.backoff_factor, errors);
  read_bounded_number(body, "maxLaunchDelaySeconds", 0, app.max_launch_delay_seconds, errors);
  if (const json* grace = member(body, "taskKillGracePeriodSeconds")) {
    if (auto seconds = read_number(*grace, "/taskKillGracePeriodSeconds", errors)) {
      if (*seconds < 0) {
        errors.add("/taskKillGracePeriodSeconds", expected_at_least(*seconds, 0));
      } else {
        app.task_kill_grace_period_seconds = *seconds;
      }
    }
  }
  if (const json* selection = member(body, "killSelection")) {
    if (auto text = read_string(*selection, "/killSelection", errors)) {
      if (*text == "YOUNGEST_FIRST" || *text == "OLDEST_FIRST") {
        app.kill_selection = *text;
      } else {
        errors.add("/killSelection",
                   "got " + quote(*text) + ", expected one of YOUNGEST_FIRST, OLDEST_FIRST");
      }
    }
  }
}

void parse_misc(const json& body, const ParseOptions& options, App& app, ErrorList& errors) {
  if (const json* user = member(body, "user")) {
    if (auto text = read_string(*user, "/user", errors)) app.user = *text;
  }
  if (const json* executor = member(body, "executor")) {
    if (auto text = read_string(*executor, "/executor", errors)) {
      if (is_executor(*text)) {
        app.executor = *text;
      } else {
        errors.add("/executor", must_match("^(//cmd)|(/?[^/]+(/[^/]+)*)|$"));
      }
    }
  }
  if (const json* require_ports = member(body, "requirePorts")) {
    if (auto flag = read_bool(*require_ports, "/requirePorts", errors)) app.require_ports = *flag;
  }
  if (const json* dependencies = member(body, "dependencies")) {
    auto ids = read_string_array(*dependencies, "/dependencies", errors);
    if (!ids) return;
    // Relative dependencies are siblings: they resolve against the app's group.
    std::string group = app.id.empty() ? options.base_group : parent_group(app.id);
    for (size_t i = 0; i < ids->size(); ++i) {
      const std::string& id = (*ids)[i];
      if (auto error = app_id_error(id)) {
        errors.add(element_path("/dependencies", i), *error);
        continue;
      }
      app.dependencies.push_back(normalize_app_id(id, group));
    }
  }
}

void parse_stored_version(const json& body, App& app, ErrorList& errors) {
  if (const json* version = member(body, "version")) {
    if (auto text = read_string(*version, "/version", errors)) app.version = *text;
  }
  const json* info = member(body, "versionInfo");
  if (info == nullptr || !expect_object(*info, "/versionInfo", errors)) return;
  if (const json* at = member(*info, "lastScalingAt")) {
    if (auto text = read_string(*at, "/versionInfo/lastScalingAt", errors)) {
      app.version_info.last_scaling_at = *text;
    }
  }
  if (const json* at = member(*info, "lastConfigChangeAt")) {
    if (auto text = read_string(*at, "/versionInfo/lastConfigChangeAt", errors)) {
      app.version_info.last_config_change_at = *text;
    }
  }
}

ParseOutcome parse(const json& body, const ParseOptions& options, bool restoring) {
  ErrorList errors;
  if (!body.is_object()) {
    errors.add("/", "error.expected.jsobject");
    return ParseOutcome{std::nullopt, errors.take()};
  }
  App app;
  parse_id(body, options, app, errors);
  json extra = json::object();
  ExtraFacts facts = normalize_networks_and_container(body, extra, errors);
  parse_command(body, app, errors);
  parse_resources(body, app, errors);
  parse_env_and_labels(body, app, errors);
  parse_constraints(body, app, errors);
  parse_ports(body, facts, app, errors);
  parse_strategies(body, facts, app, errors);
  parse_misc(body, options, app, errors);
  normalize_other_kept_fields(body, app, facts, extra, errors);
  validate_app_rules(app, facts, errors);
  if (restoring) {
    parse_stored_version(body, app, errors);
  } else {
    app.version = options.version;
    app.version_info = VersionInfo{options.version, options.version};
  }
  if (!errors.empty()) return ParseOutcome{std::nullopt, errors.take()};
  app.extra = JsonValue(std::move(extra));
  return ParseOutcome{std::move(app), {}};
}

}  // namespace

ParseOutcome parse_app(const nlohmann::json& body, const ParseOptions& options) {
  return parse(body, options, false);
}

ParseOutcome restore_app(const nlohmann::json& stored) {
  ParseOptions options;
  if (stored.is_object() && stored.contains("id") && stored["id"].is_string()) {
    options.path_id = stored["id"].get<std::string>();
  }
  return parse(stored, options, true);
}

}  // namespace berth::model
