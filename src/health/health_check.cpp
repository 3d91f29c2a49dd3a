#include "health/health_check.h"

#include <array>
#include <cmath>
#include <limits>

namespace berth::health {
namespace {

constexpr std::array<const char*, 7> kProtocols = {
    "HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"};
constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

Error invalid(const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, message);
}

bool present(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && !it->is_null();
}

// Reads an integer field in [0, max] into `out`; absent or null leaves `out` alone.
Status read_count(const nlohmann::json& object, const char* key, int64_t max, int64_t* out) {
  if (!present(object, key)) return {};
  const nlohmann::json& value = object.at(key);
  int64_t number = 0;
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    number = u > static_cast<uint64_t>(max) ? max + 1 : static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    number = value.get<int64_t>();
  } else if (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>() &&
             std::abs(value.get<double>()) <= static_cast<double>(max) + 1) {
    number = static_cast<int64_t>(value.get<double>());
  } else {
    return invalid(std::string(key) + ": expected an integer from 0 to " + std::to_string(max) +
                   ", got " + value.dump());
  }
  if (number < 0 || number > max) {
    return invalid(std::string(key) + ": expected an integer from 0 to " + std::to_string(max) +
                   ", got " + std::to_string(number));
  }
  *out = number;
  return {};
}

Status read_seconds(const nlohmann::json& object, const char* key, std::chrono::milliseconds* out) {
  int64_t seconds = -1;
  if (Status s = read_count(object, key, kMaxInt32, &seconds); !s) return s;
  if (seconds >= 0) *out = std::chrono::seconds(seconds);
  return {};
}

Status read_string(const nlohmann::json& object, const char* key, std::string* out) {
  if (!present(object, key)) return {};
  const nlohmann::json& value = object.at(key);
  if (!value.is_string())
    return invalid(std::string(key) + ": expected a string, got " + value.dump());
  *out = value.get<std::string>();
  return {};
}

Status read_command(const nlohmann::json& object, std::string* out) {
  if (!present(object, "command")) return {};
  const nlohmann::json& value = object.at("command");
  if (value.is_string()) {
    *out = value.get<std::string>();
    return {};
  }
  if (value.is_object() && value.contains("value") && value.at("value").is_string()) {
    *out = value.at("value").get<std::string>();
    return {};
  }
  return invalid("command: expected {\"value\": \"<shell command>\"}, got " + value.dump());
}

nlohmann::json time_or_null(const std::optional<WallTime>& t) {
  return t ? nlohmann::json(format_iso8601(*t)) : nlohmann::json(nullptr);
}

}  // namespace

ProbeKind probe_kind(const HealthCheckSpec& spec) {
  if (spec.protocol == "COMMAND") return ProbeKind::kCommand;
  if (spec.protocol == "HTTP" || spec.protocol == "MESOS_HTTP") return ProbeKind::kHttp;
  return ProbeKind::kTcp;  // TCP, MESOS_TCP, and HTTPS/MESOS_HTTPS as a plain connect
}

bool is_mesos_level(const HealthCheckSpec& spec) {
  return spec.protocol == "COMMAND" || spec.protocol.rfind("MESOS_", 0) == 0;
}

Result<HealthCheckSpec> parse_health_check(const nlohmann::json& json) {
  if (!json.is_object()) return invalid("expected a health check object, got " + json.dump());
  HealthCheckSpec spec;
  if (Status s = read_string(json, "protocol", &spec.protocol); !s) return s.error();
  bool known = false;
  for (const char* protocol : kProtocols) known = known || spec.protocol == protocol;
  if (!known) {
    return invalid(
        "protocol: got '" + spec.protocol +
        "'; expected one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP");
  }
  if (Status s = read_string(json, "path", &spec.path); !s) return s.error();
  if (spec.path.empty() || spec.path.front() != '/') {
    return invalid("path: got '" + spec.path + "'; it must start with '/', e.g. \"/health\"");
  }
  int64_t number = -1;
  if (Status s = read_count(json, "portIndex", kMaxInt32, &number); !s) return s.error();
  if (number >= 0) spec.port_index = static_cast<uint32_t>(number);
  number = -1;
  if (Status s = read_count(json, "port", 65535, &number); !s) return s.error();
  if (number >= 0) spec.port = static_cast<uint32_t>(number);
  if (Status s = read_command(json, &spec.command); !s) return s.error();
  if (Status s = read_seconds(json, "gracePeriodSeconds", &spec.grace_period); !s) return s.error();
  if (Status s = read_seconds(json, "intervalSeconds", &spec.interval); !s) return s.error();
  if (Status s = read_seconds(json, "timeoutSeconds", &spec.timeout); !s) return s.error();
  if (Status s = read_seconds(json, "delaySeconds", &spec.delay); !s) return s.error();
  number = -1;
  if (Status s = read_count(json, "maxConsecutiveFailures", kMaxInt32, &number); !s)
    return s.error();
  if (number >= 0) spec.max_consecutive_failures = static_cast<uint32_t>(number);
  if (present(json, "ignoreHttp1xx")) {
    const nlohmann::json& value = json.at("ignoreHttp1xx");
    if (!value.is_boolean())
      return invalid("ignoreHttp1xx: expected true or false, got " + value.dump());
    spec.ignore_http_1xx = value.get<bool>();
  }
  std::string ip_protocol = "IPv4";
  if (Status s = read_string(json, "ipProtocol", &ip_protocol); !s) return s.error();
  if (ip_protocol != "IPv4" && ip_protocol != "IPv6") {
    return invalid("ipProtocol: got '" + ip_protocol + "'; expected IPv4 or IPv6");
  }
  if (spec.protocol == "COMMAND" && spec.command.empty()) {
    return invalid("command: a COMMAND health check needs {\"value\": \"<shell command>\"}");
  }
  return spec;
}

Result<std::vector<HealthCheckSpec>> parse_health_checks(const nlohmann::json& json) {
  if (json.is_null()) return std::vector<HealthCheckSpec>{};
  if (!json.is_array()) return invalid("healthChecks: expected an array, got " + json.dump());
  std::vector<HealthCheckSpec> specs;
  for (size_t i = 0; i < json.size(); ++i) {
    auto spec = parse_health_check(json[i]);
    if (!spec) return invalid("healthChecks(" + std::to_string(i) + "): " + spec.error().message);
    specs.push_back(std::move(*spec));
  }
  return specs;
}

Result<uint16_t> resolve_health_check_port(const HealthCheckSpec& spec,
                                           const std::vector<uint32_t>& task_ports) {
  if (probe_kind(spec) == ProbeKind::kCommand) {
    return invalid("a COMMAND health check probes no port");
  }
  if (spec.port) {
    if (*spec.port == 0 || *spec.port > 65535) {
      return invalid("port: got " + std::to_string(*spec.port) + "; expected 1 to 65535");
    }
    return static_cast<uint16_t>(*spec.port);
  }
  uint32_t index = 0;
  if (spec.port_index) {
    index = *spec.port_index;
  } else if (task_ports.empty()) {
    return invalid("the " + spec.protocol +
                   " health check needs a port but the task has none; give the app a port or "
                   "set the check's port");
  } else if (task_ports.size() > 1) {
    return invalid("portIndex is required: the task has " + std::to_string(task_ports.size()) +
                   " ports; set portIndex from 0 to " + std::to_string(task_ports.size() - 1));
  }
  if (index >= task_ports.size()) {
    return invalid("portIndex: got " + std::to_string(index) + " but the task has " +
                   std::to_string(task_ports.size()) + " port(s)" +
                   (task_ports.empty() ? std::string()
                                       : "; use 0 to " + std::to_string(task_ports.size() - 1)));
  }
  uint32_t port = task_ports[index];
  if (port == 0 || port > 65535) {
    return invalid("portIndex " + std::to_string(index) + " names port " + std::to_string(port) +
                   ", which cannot be probed; expected 1 to 65535");
  }
  return static_cast<uint16_t>(port);
}

HealthState::HealthState(const HealthCheckSpec& spec, WallTime task_started_at)
    : grace_ends_(task_started_at +
                  std::chrono::duration_cast<WallTime::duration>(spec.grace_period)),
      kill_threshold_(spec.max_consecutive_failures == 0 && is_mesos_level(spec)
                          ? 1
                          : spec.max_consecutive_failures) {}

void HealthState::on_result(bool ok, const std::string& cause, WallTime now) {
  if (ok) {
    if (!first_success_) first_success_ = now;
    last_success_ = now;
    consecutive_failures_ = 0;
    alive_ = true;
    return;
  }
  if (!first_success_ && now < grace_ends_) return;
  last_failure_ = now;
  last_failure_cause_ = cause;
  if (consecutive_failures_ < std::numeric_limits<uint32_t>::max()) ++consecutive_failures_;
  alive_ = false;
}

bool HealthState::should_kill() const {
  return kill_threshold_ > 0 && consecutive_failures_ >= kill_threshold_;
}

nlohmann::json HealthState::to_json(const std::string& instance_id) const {
  nlohmann::json out = nlohmann::json::object();
  out["alive"] = alive_.value_or(false);
  out["consecutiveFailures"] = consecutive_failures_;
  out["firstSuccess"] = time_or_null(first_success_);
  out["lastSuccess"] = time_or_null(last_success_);
  out["lastFailure"] = time_or_null(last_failure_);
  out["lastFailureCause"] =
      last_failure_cause_ ? nlohmann::json(*last_failure_cause_) : nlohmann::json(nullptr);
  out["instanceId"] = instance_id;
  return out;
}

}  // namespace berth::health
