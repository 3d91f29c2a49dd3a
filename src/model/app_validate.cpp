// Validation of constraints and of the rules between fields of an app definition, with
// Marathon's messages (S:api/v2/validation/AppValidation.scala, SchedulingValidation.scala).
#include <set>

#include "model/app.h"
#include "model/parse_support.h"
#include "pattern/constraint_pattern.h"

namespace berth::model::detail {
namespace {

constexpr const char* kOperatorInvalid =
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS";

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

// The message for a value that does not suit the operator, or nullopt.
std::optional<std::string> constraint_value_error(const std::string& op,
                                                  const std::optional<std::string>& value) {
  if (op == "UNIQUE") {
    if (value) return "UNIQUE does not accept a value";
  } else if (op == "GROUP_BY") {
    if (value && !is_int32_text(*value))
      return "GROUP BY must define an integer value or else no value at all";
  } else if (op == "MAX_PER") {
    if (!value || !is_int32_text(*value)) return "MAX_PER requires an integer value";
  } else if (op == "LIKE" || op == "UNLIKE") {
    if (!value) return "LIKE and UNLIKE require a non-empty, regular expression value";
    // The scheduler compiles the same way, so what validates here is what it can run.
    Result<pattern::ConstraintPattern> compiled = pattern::ConstraintPattern::compile(*value);
    if (!compiled.ok()) return compiled.error().message;
  } else if (op == "IS") {
    if (!value || !is_mesos_literal(*value)) {
      return "IS only supports Mesos text and float values (see "
             "http://mesos.apache.org/documentation/latest/attributes-resources/)";
    }
  }
  return std::nullopt;  // CLUSTER: the value is optional and free-form
}

void validate_port_definitions(const App& app, const ExtraFacts& facts, ErrorList& errors) {
  std::set<std::string> names;
  std::set<uint32_t> ports;
  for (const PortDefinition& definition : app.port_definitions) {
    if (definition.name && !names.insert(*definition.name).second) {
      errors.add("/portDefinitions", "Port names must be unique.");
    }
    if (definition.port != 0 && !ports.insert(definition.port).second) {
      errors.add("/portDefinitions", "Ports must be unique.");
    }
  }
  if (facts.network_mode != kHostMode && !app.port_definitions.empty()) {
    errors.add("/", "portDefinitions are only allowed with host-networking");
  }
}

void validate_volume_rules(const App& app, const ExtraFacts& facts, ErrorList& errors) {
  if (!facts.persistent_volumes && !facts.external_volumes) return;
  if (app.upgrade_strategy.maximum_over_capacity != 0) {
    errors.add("/upgradeStrategy/maximumOverCapacity",
               "got " + format_number(app.upgrade_strategy.maximum_over_capacity) +
                   ", expected 0 for apps with persistent or external volumes");
  }
  if (facts.external_volumes && app.instances > 1) {
    errors.add("/instances", "Number of instances is limited to 1 when declaring DVDI volumes");
  }
}

void validate_single_instance(const App& app, ErrorList& errors) {
  auto label = app.labels.find(kSingleInstanceLabel);
  if (label == app.labels.end() || label->second != "true") return;
  if (app.instances > 1) errors.add("/", "Single instance app may only have one instance");
  if (app.upgrade_strategy.minimum_health_capacity != 0) {
    errors.add("/upgradeStrategy/minimumHealthCapacity",
               "got " + format_number(app.upgrade_strategy.minimum_health_capacity) +
                   ", expected 0 for single instance apps");
  }
  if (app.upgrade_strategy.maximum_over_capacity != 0) {
    errors.add("/upgradeStrategy/maximumOverCapacity",
               "got " + format_number(app.upgrade_strategy.maximum_over_capacity) +
                   ", expected 0 for single instance apps");
  }
}

}  // namespace

std::optional<ConstraintSpec> parse_constraint(const json& value, const std::string& path,
                                               ErrorList& errors) {
  auto parts = read_string_array(value, path, errors);
  if (!parts) return std::nullopt;
  if (parts->size() < 2 || parts->size() > 3) {
    errors.add(path, "Each constraint must have either 2 or 3 fields");
    return std::nullopt;
  }
  ConstraintSpec spec{(*parts)[0], upper((*parts)[1]), std::nullopt};
  if (parts->size() == 3) spec.value = (*parts)[2];
  if (spec.field.empty()) {
    errors.add(path, "missing field for constraint declaration");
    return std::nullopt;
  }
  static const std::set<std::string> kOperators = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE",
                                                   "UNLIKE", "MAX_PER", "IS"};
  if (kOperators.count(spec.op) == 0) {
    errors.add(path, kOperatorInvalid);
    return std::nullopt;
  }
  if (auto error = constraint_value_error(spec.op, spec.value)) {
    errors.add(path, *error);
    return std::nullopt;
  }
  return spec;
}

void validate_app_rules(const App& app, const ExtraFacts& facts, ErrorList& errors) {
  bool cmd = app.cmd.has_value();
  bool args = app.args.has_value() && !app.args->empty();
  bool runnable_container = facts.has_container && facts.container_has_image;
  if (!((cmd != args) || (!(cmd && args) && runnable_container))) {
    errors.add("/",
               "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
  }
  if (app.cmd && app.cmd->empty()) errors.add("/cmd", "must not be an empty string");
  validate_port_definitions(app, facts, errors);
  if (app.gpus > 0 && facts.docker_engine) {
    errors.add("/", "GPU resources only work with the Mesos containerizer");
  }
  if (facts.docker_engine && facts.container_networks > 1) {
    errors.add(
        "/", "may only specify a single container network when using the Docker container engine");
  }
  validate_volume_rules(app, facts, errors);
  validate_single_instance(app, errors);
}

}  // namespace berth::model::detail
