// Normalisation of the kept-JSON fields other than networks and container: health checks,
// readiness checks, fetch (and the legacy uris), unreachableStrategy, secrets, residency and
// the plain passthroughs. Defaults are filled in so App::extra is always canonical.
#include <set>

#include "model/app.h"
#include "model/parse_support.h"

namespace berth::model::detail {
namespace {

// The app's ports as health and readiness checks address them: portDefinitions in host
// networking, container.portMappings otherwise.
struct PortsView {
  size_t count = 0;
  std::vector<std::string> names;
};

PortsView ports_view(const App& app, const ExtraFacts& facts) {
  PortsView view;
  if (facts.network_mode == kHostMode) {
    view.count = app.port_definitions.size();
    for (const PortDefinition& definition : app.port_definitions) {
      if (definition.name) view.names.push_back(*definition.name);
    }
  } else {
    view.count = facts.port_mapping_count;
    view.names = facts.port_mapping_names;
  }
  return view;
}

// Reads an integer field >= 0 of `object`, or writes `fallback` when absent.
void integer_with_default(json& out, const json& object, const char* key, int64_t fallback,
                          const std::string& path, ErrorList& errors) {
  const json* value = member(object, key);
  if (value == nullptr) {
    out[key] = fallback;
    return;
  }
  std::string field_path = path + "/" + key;
  auto number = read_int(*value, field_path, errors);
  if (number && *number < 0)
    errors.add(field_path, expected_at_least(static_cast<double>(*number), 0));
}

void string_with_default(json& out, const json& object, const char* key, const char* fallback,
                         const std::string& path, ErrorList& errors) {
  if (const json* value = member(object, key)) {
    read_string(*value, path + "/" + key, errors);
  } else {
    out[key] = fallback;
  }
}

void bool_with_default(json& out, const json& object, const char* key, bool fallback,
                       const std::string& path, ErrorList& errors) {
  if (const json* value = member(object, key)) {
    read_bool(*value, path + "/" + key, errors);
  } else {
    out[key] = fallback;
  }
}

constexpr const char* kPortIndexError =
    "Health check port indices must address an element of the ports array or container port "
    "mappings.";

json normalize_health_check(const json& check, const std::string& path, const PortsView& ports,
                            const ExtraFacts& facts, ErrorList& errors) {
  if (!expect_object(check, path, errors)) return json();
  json out = without_nulls(check);
  std::string protocol = "HTTP";
  if (const json* value = member(check, "protocol")) {
    auto text = read_string(*value, path + "/protocol", errors);
    if (!text) return json();
    static const std::set<std::string> kProtocols = {
        "HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"};
    if (kProtocols.count(*text) == 0) {
      errors.add(
          path + "/protocol",
          "got " + quote(*text) +
              ", expected one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP");
      return json();
    }
    protocol = *text;
  }
  out["protocol"] = protocol;
  integer_with_default(out, check, "gracePeriodSeconds", 300, path, errors);
  integer_with_default(out, check, "intervalSeconds", 60, path, errors);
  integer_with_default(out, check, "timeoutSeconds", 20, path, errors);
  integer_with_default(out, check, "maxConsecutiveFailures", 3, path, errors);
  integer_with_default(out, check, "delaySeconds", 15, path, errors);
  bool http = protocol == "HTTP" || protocol == "HTTPS" || protocol == "MESOS_HTTP" ||
              protocol == "MESOS_HTTPS";
  if (http) string_with_default(out, check, "path", "/", path, errors);
  if (protocol == "HTTP" || protocol == "HTTPS")
    bool_with_default(out, check, "ignoreHttp1xx", false, path, errors);
  if (protocol == "COMMAND") {
    const json* command = member(check, "command");
    if (command == nullptr) {
      errors.add(path + "/command", "error.path.missing");
    } else if (expect_object(*command, path + "/command", errors)) {
      const json* value = member(*command, "value");
      if (value == nullptr) {
        errors.add(path + "/command/value", "error.path.missing");
      } else {
        read_string(*value, path + "/command/value", errors);
      }
    }
    return out;
  }
  string_with_default(out, check, "ipProtocol", "IPv4", path, errors);
  std::string ip_protocol =
      out["ipProtocol"].is_string() ? out["ipProtocol"].get<std::string>() : "IPv4";
  if (ip_protocol != "IPv4" && ip_protocol != "IPv6") {
    errors.add(path + "/ipProtocol", "got " + quote(ip_protocol) + ", expected one of IPv4, IPv6");
  } else if (ip_protocol == "IPv6" && !(protocol.rfind("MESOS_", 0) == 0 && facts.docker_engine)) {
    errors.add(
        path,
        "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks");
  }
  const json* port = member(check, "port");
  if (port != nullptr) read_port(*port, path + "/port", errors);
  if (const json* index = member(check, "portIndex")) {
    auto number = read_int(*index, path + "/portIndex", errors);
    if (number && (*number < 0 || static_cast<size_t>(*number) >= ports.count)) {
      errors.add(path, kPortIndexError);
    }
  } else if (port == nullptr) {
    if (ports.count == 1) {
      out["portIndex"] = 0;
    } else {
      errors.add(path, kPortIndexError);
    }
  }
  return out;
}

json normalize_health_checks(const json& body, const PortsView& ports, const ExtraFacts& facts,
                             ErrorList& errors) {
  json out = json::array();
  const json* checks = member(body, "healthChecks");
  if (checks == nullptr || !expect_array(*checks, "/healthChecks", errors)) return out;
  int mesos_checks = 0;
  for (size_t i = 0; i < checks->size(); ++i) {
    json check = normalize_health_check((*checks)[i], element_path("/healthChecks", i), ports,
                                        facts, errors);
    if (check.is_null()) continue;
    if (check["protocol"].get<std::string>().rfind("MESOS_", 0) == 0) ++mesos_checks;
    out.push_back(std::move(check));
  }
  if (mesos_checks > 1) errors.add("/", "AppDefinition can contain at most one Mesos health check");
  return out;
}

json normalize_readiness_check(const json& check, const std::string& path, const PortsView& ports,
                               ErrorList& errors) {
  if (!expect_object(check, path, errors)) return json();
  json out = without_nulls(check);
  string_with_default(out, check, "name", "readinessCheck", path, errors);
  string_with_default(out, check, "protocol", "HTTP", path, errors);
  if (out["protocol"].is_string() && out["protocol"] != "HTTP" && out["protocol"] != "HTTPS") {
    errors.add(path + "/protocol", "got " + quote(out["protocol"].get<std::string>()) +
                                       ", expected one of HTTP, HTTPS");
  }
  string_with_default(out, check, "path", "/", path, errors);
  string_with_default(out, check, "portName", "http-api", path, errors);
  integer_with_default(out, check, "intervalSeconds", 30, path, errors);
  integer_with_default(out, check, "timeoutSeconds", 10, path, errors);
  bool_with_default(out, check, "preserveLastResponse", false, path, errors);
  if (const json* codes = member(check, "httpStatusCodesForReady")) {
    if (expect_array(*codes, path + "/httpStatusCodesForReady", errors)) {
      for (size_t i = 0; i < codes->size(); ++i) {
        read_int((*codes)[i], element_path(path + "/httpStatusCodesForReady", i), errors);
      }
      out["httpStatusCodesForReady"] = *codes;
    }
  } else {
    out["httpStatusCodesForReady"] = json::array({200});
  }
  if (out["intervalSeconds"].is_number() && out["timeoutSeconds"].is_number()) {
    double interval = out["intervalSeconds"].get<double>();
    double timeout = out["timeoutSeconds"].get<double>();
    if (timeout >= interval) {
      errors.add(path + "/timeoutSeconds", "got " + format_number(timeout) +
                                               ", expected less than " + format_number(interval));
    }
  }
  if (out["portName"].is_string()) {
    std::string name = out["portName"].get<std::string>();
    bool found = false;
    for (const std::string& port_name : ports.names) found = found || port_name == name;
    if (!found) errors.add(path + "/portName", "No port definition reference for portName " + name);
  }
  return out;
}

json normalize_readiness_checks(const json& body, const PortsView& ports, ErrorList& errors) {
  json out = json::array();
  const json* checks = member(body, "readinessChecks");
  if (checks == nullptr || !expect_array(*checks, "/readinessChecks", errors)) return out;
  if (checks->size() > 1) {
    errors.add("/readinessChecks", expected_at_most(static_cast<double>(checks->size()), 1));
  }
  for (size_t i = 0; i < checks->size(); ++i) {
    json check =
        normalize_readiness_check((*checks)[i], element_path("/readinessChecks", i), ports, errors);
    if (!check.is_null()) out.push_back(std::move(check));
  }
  return out;
}

bool is_archive(const std::string& uri) {
  for (const char* extension :
       {".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"}) {
    std::string ext = extension;
    if (uri.size() >= ext.size() && uri.compare(uri.size() - ext.size(), ext.size(), ext) == 0)
      return true;
  }
  return false;
}

json normalize_fetch(const json& body, ErrorList& errors) {
  json out = json::array();
  const json* fetch = member(body, "fetch");
  const json* uris = member(body, "uris");
  if (fetch != nullptr && expect_array(*fetch, "/fetch", errors)) {
    for (size_t i = 0; i < fetch->size(); ++i) {
      std::string path = element_path("/fetch", i);
      const json& entry = (*fetch)[i];
      if (!expect_object(entry, path, errors)) continue;
      json item = without_nulls(entry);
      if (const json* uri = member(entry, "uri")) {
        auto text = read_string(*uri, path + "/uri", errors);
        if (text && text->empty()) errors.add(path + "/uri", "must not be empty");
        if (text && text->size() > 1024) {
          errors.add(path + "/uri", "is " + std::to_string(text->size()) +
                                        " characters long, expected at most 1024");
        }
      } else {
        errors.add(path + "/uri", "error.path.missing");
      }
      bool_with_default(item, entry, "extract", true, path, errors);
      bool_with_default(item, entry, "executable", false, path, errors);
      bool_with_default(item, entry, "cache", false, path, errors);
      if (const json* dest = member(entry, "destPath"))
        read_string(*dest, path + "/destPath", errors);
      out.push_back(std::move(item));
    }
  }
  if (uris == nullptr) return out;
  auto list = read_string_array(*uris, "/uris", errors);
  if (!list) return out;
  if (fetch != nullptr && !list->empty() && fetch->is_array() && !fetch->empty()) {
    errors.add("/uris", "cannot specify both uris and fetch fields");
    return out;
  }
  if (fetch != nullptr) return out;
  for (const std::string& uri : *list) {
    out.push_back(
        {{"uri", uri}, {"extract", is_archive(uri)}, {"executable", false}, {"cache", false}});
  }
  return out;
}

json normalize_unreachable_strategy(const json& body, const ExtraFacts& facts, ErrorList& errors) {
  const std::string path = "/unreachableStrategy";
  const json* strategy = member(body, "unreachableStrategy");
  if (strategy == nullptr) return default_unreachable_strategy(facts.persistent_volumes);
  if (strategy->is_string() && *strategy == "disabled") return *strategy;
  if (!strategy->is_object()) {
    errors.add(
        path,
        "must be \"disabled\" or an object with inactiveAfterSeconds and expungeAfterSeconds");
    return json();
  }
  json out = without_nulls(*strategy);
  integer_with_default(out, *strategy, "inactiveAfterSeconds", 0, path, errors);
  integer_with_default(out, *strategy, "expungeAfterSeconds", 0, path, errors);
  if (out["inactiveAfterSeconds"].is_number() && out["expungeAfterSeconds"].is_number() &&
      out["inactiveAfterSeconds"].get<double>() > out["expungeAfterSeconds"].get<double>()) {
    errors.add(path, "inactiveAfterSeconds must be less than or equal to expungeAfterSeconds");
  }
  if (facts.persistent_volumes)
    errors.add(path, "unreachableStrategy must be disabled for resident tasks");
  return out;
}

json normalize_secrets(const json& body, ErrorList& errors) {
  const json* secrets = member(body, "secrets");
  if (secrets == nullptr) return json::object();
  if (!expect_object(*secrets, "/secrets", errors)) return json::object();
  for (const auto& [name, secret] : secrets->items()) {
    std::string path = "/secrets/" + name;
    if (!expect_object(secret, path, errors)) continue;
    if (const json* source = member(secret, "source")) {
      read_string(*source, path + "/source", errors);
    } else {
      errors.add(path + "/source", "error.path.missing");
    }
  }
  return *secrets;
}

// Fields only echoed: checked for their JSON type and copied.
void copy_passthroughs(const json& body, json& extra, ErrorList& errors) {
  if (const json* roles = member(body, "acceptedResourceRoles")) {
    auto list = read_string_array(*roles, "/acceptedResourceRoles", errors);
    if (list && list->empty()) errors.add("/acceptedResourceRoles", "must not be empty");
    if (list) extra["acceptedResourceRoles"] = *roles;
  }
  if (const json* role = member(body, "role")) {
    if (read_string(*role, "/role", errors)) extra["role"] = *role;
  }
  if (const json* tty = member(body, "tty")) {
    if (read_bool(*tty, "/tty", errors)) extra["tty"] = *tty;
  }
  for (const char* key : {"check", "executorResources", "resourceLimits"}) {
    if (const json* value = member(body, key)) {
      if (expect_object(*value, std::string("/") + key, errors)) extra[key] = *value;
    }
  }
}

}  // namespace

void normalize_other_kept_fields(const json& body, const App& app, const ExtraFacts& facts,
                                 json& extra, ErrorList& errors) {
  PortsView ports = ports_view(app, facts);
  extra["healthChecks"] = normalize_health_checks(body, ports, facts, errors);
  extra["readinessChecks"] = normalize_readiness_checks(body, ports, errors);
  extra["fetch"] = normalize_fetch(body, errors);
  extra["unreachableStrategy"] = normalize_unreachable_strategy(body, facts, errors);
  extra["secrets"] = normalize_secrets(body, errors);
  if (const json* residency = member(body, "residency")) {
    if (expect_object(*residency, "/residency", errors)) extra["residency"] = *residency;
    if (!facts.persistent_volumes)
      errors.add("/", "App must contain persistent volumes and define residency");
  } else if (facts.persistent_volumes) {
    extra["residency"] = default_residency();
  }
  copy_passthroughs(body, extra, errors);
}

UpgradeStrategy default_upgrade_strategy(bool has_volumes, bool single_instance) {
  if (single_instance) return UpgradeStrategy{0, 0};
  if (has_volumes) return UpgradeStrategy{0.5, 0};
  return UpgradeStrategy{1, 1};
}

json default_unreachable_strategy(bool persistent_volumes) {
  if (persistent_volumes) return "disabled";
  return {{"inactiveAfterSeconds", 0}, {"expungeAfterSeconds", 0}};
}

std::vector<PortDefinition> default_port_definitions(const std::string& network_mode) {
  if (network_mode != kHostMode) return {};
  return {PortDefinition{.port = 0, .protocol = "tcp", .name = "default", .labels = {}}};
}

json default_residency() {
  return {{"relaunchEscalationTimeoutSeconds", 3600}, {"taskLostBehavior", "WAIT_FOREVER"}};
}

}  // namespace berth::model::detail
