#include "protocol/messages.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "json/bounded.h"

namespace berth::protocol {
namespace {

using nlohmann::json;

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

// `value` as the integer type T. nlohmann's own get<T>() converts a float with static_cast,
// which is undefined behaviour when the float is out of T's range ({"seq":1e300}), and wraps
// negative numbers into unsigned fields; here both throw nlohmann's out_of_range, which the
// readers of messages catch like its type errors.
template <typename T>
T checked_integer(const json& value) {
  using Limits = std::numeric_limits<T>;
  auto out_of_range = [&](const std::string& shown) {
    return json::out_of_range::create(406, "number " + shown + " does not fit the field", &value);
  };
  if (value.is_number_unsigned()) {
    uint64_t n = value.get<uint64_t>();
    if (n > static_cast<uint64_t>(Limits::max())) throw out_of_range(std::to_string(n));
    return static_cast<T>(n);
  }
  if (value.is_number_integer()) {
    int64_t n = value.get<int64_t>();
    if (n < 0 ? (!Limits::is_signed || n < static_cast<int64_t>(Limits::min()))
              : static_cast<uint64_t>(n) > static_cast<uint64_t>(Limits::max())) {
      throw out_of_range(std::to_string(n));
    }
    return static_cast<T>(n);
  }
  if (value.is_number_float()) {
    // T's range as doubles, both exact: [-2^digits, 2^digits) for signed, [0, 2^digits) else.
    double whole = std::trunc(value.get<double>());
    double bound = std::ldexp(1.0, Limits::digits);
    if (!(whole < bound && whole >= (Limits::is_signed ? -bound : 0.0)))
      throw out_of_range(value.dump());
    return static_cast<T>(whole);
  }
  throw json::type_error::create(
      302, std::string("type must be number, but is ") + value.type_name(), &value);
}

// `value` as T: like value.get<T>(), with the integer checks above for integers and vectors
// of them.
template <typename T>
T checked(const json& value) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return checked_integer<T>(value);
  } else if constexpr (IsVector<T>::value) {
    if (!value.is_array()) {
      throw json::type_error::create(
          302, std::string("type must be array, but is ") + value.type_name(), &value);
    }
    T out;
    out.reserve(value.size());
    for (const json& element : value) out.push_back(checked<typename T::value_type>(element));
    return out;
  } else {
    return value.get<T>();
  }
}

// Member `key` of `object` as T, or `fallback` when absent: object.value(key, fallback) with
// the checks of checked<T>().
template <typename T>
T field(const json& object, const char* key, const T& fallback) {
  if (!object.is_object()) {
    throw json::type_error::create(
        306, std::string("cannot use value() with ") + object.type_name(), &object);
  }
  auto it = object.find(key);
  return it == object.end() ? fallback : checked<T>(*it);
}

}  // namespace

namespace {

constexpr std::pair<TaskState, const char*> kStateNames[] = {
    {TaskState::kStaging, "TASK_STAGING"}, {TaskState::kStarting, "TASK_STARTING"},
    {TaskState::kRunning, "TASK_RUNNING"}, {TaskState::kFinished, "TASK_FINISHED"},
    {TaskState::kFailed, "TASK_FAILED"},   {TaskState::kKilling, "TASK_KILLING"},
    {TaskState::kKilled, "TASK_KILLED"},   {TaskState::kLost, "TASK_LOST"},
    {TaskState::kError, "TASK_ERROR"},     {TaskState::kDropped, "TASK_DROPPED"},
    {TaskState::kGone, "TASK_GONE"},
};

}  // namespace

const char* to_string(TaskState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return name;
  }
  return "TASK_UNKNOWN";
}

std::optional<TaskState> parse_task_state(std::string_view name) {
  for (const auto& [s, known] : kStateNames) {
    if (name == known) return s;
  }
  return std::nullopt;
}

bool is_terminal(TaskState state) {
  switch (state) {
    case TaskState::kFinished:
    case TaskState::kFailed:
    case TaskState::kKilled:
    case TaskState::kLost:
    case TaskState::kError:
    case TaskState::kDropped:
    case TaskState::kGone:
      return true;
    default:
      return false;
  }
}

void to_json(nlohmann::json& j, const TaskState& v) { j = to_string(v); }

void from_json(const nlohmann::json& j, TaskState& v) {
  if (!j.is_string()) {
    throw json::type_error::create(
        302, std::string("a task state must be a string, but is ") + j.type_name(), &j);
  }
  auto state = parse_task_state(j.get_ref<const std::string&>());
  if (!state)
    throw json::other_error::create(501, "unknown task state \"" + j.get<std::string>() + "\"", &j);
  v = *state;
}

// Like NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT, but emitting the non-inline functions
// declared in messages.h and reading fields with field() (integers checked). Missing fields
// keep their defaults, so older and newer peers talk.
#define BERTH_JSON_FROM(v1) \
  nlohmann_json_t.v1 = field(nlohmann_json_j, #v1, nlohmann_json_default_obj.v1);
#define BERTH_JSON_DEFINE(Type, ...)                                             \
  void to_json(nlohmann::json& nlohmann_json_j, const Type& nlohmann_json_t) {   \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_TO, __VA_ARGS__))     \
  }                                                                              \
  void from_json(const nlohmann::json& nlohmann_json_j, Type& nlohmann_json_t) { \
    const Type nlohmann_json_default_obj{};                                      \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(BERTH_JSON_FROM, __VA_ARGS__))      \
  }
BERTH_JSON_DEFINE(PortRangeMsg, begin, end)
BERTH_JSON_DEFINE(AgentResources, cpus, mem, disk, ports)
BERTH_JSON_DEFINE(TaskReport, task_id, app_id, version, config_version, state, ports, cpus, mem,
                  disk, staged_at, started_at, datasets)
BERTH_JSON_DEFINE(RegisterRequest, token, agent_id, hostname, address, resources, attributes, tasks,
                  http_port, http_tls, heartbeat_seq)
BERTH_JSON_DEFINE(RegisterResponse, agent_id, heartbeat_interval_ms, lease_ms, next_command_seq,
                  agent_secret)
BERTH_JSON_DEFINE(DatasetReport, dataset_id, driver, attached, epoch, path, in_use, error,
                  local_copy)
BERTH_JSON_DEFINE(DatasetAssignment, dataset_id, driver, epoch, size_bytes, attach, destroy,
                  copy_from, copy_from_node)
BERTH_JSON_DEFINE(RoutedBackend, host, port, ago_ms)
BERTH_JSON_DEFINE(Heartbeat, seq, applied_seq, datasets, routed, busy_ports)
BERTH_JSON_DEFINE(HeartbeatAck, seq, lease_ms, datasets, lease_only, heartbeat_interval_ms)
BERTH_JSON_DEFINE(StatusUpdate, update_id, task_id, app_id, state, message, timestamp, health,
                  health_results, ready)
BERTH_JSON_DEFINE(StatusBatch, updates)
BERTH_JSON_DEFINE(StatusAck, acked)

BERTH_JSON_DEFINE(VolumeMount, dataset_id, container_path, host_path, mode, epoch)

void to_json(nlohmann::json& j, const LaunchSpec& v) {
  j = nlohmann::json{{"task_id", v.task_id},
                     {"app_id", v.app_id},
                     {"version", v.version},
                     {"config_version", v.config_version},
                     {"args", v.args},
                     {"env", v.env},
                     {"labels", v.labels},
                     {"cpus", v.cpus},
                     {"mem", v.mem},
                     {"disk", v.disk},
                     {"ports", v.ports},
                     {"port_names", v.port_names},
                     {"kill_grace_ms", v.kill_grace_ms},
                     {"volumes", v.volumes},
                     {"health_checks", v.health_checks}};
  if (!v.readiness_checks.empty()) j["readiness_checks"] = v.readiness_checks;
  if (v.cmd) j["cmd"] = *v.cmd;
  if (!v.user.empty()) j["user"] = v.user;
  if (v.container) {
    j["container"] = model::container_to_json(*v.container);
    j["networks"] = model::networks_to_json(v.networks);
  }
}

namespace {

// Member `key` of a launch: null when absent or empty. Agents before the typed container sent
// (and wrote into their tasks' .berth-task.json, which adoption reads) `container` and
// `networks` as JSON text, "" for none; that text is read as the JSON it holds.
json launch_member(const json& launch, const char* key) {
  auto it = launch.find(key);
  if (it == launch.end()) return json();
  if (!it->is_string()) return *it;
  const std::string& text = it->get_ref<const std::string&>();
  if (text.empty()) return json();
  auto parsed = berth::json::parse(text);
  if (!parsed) {
    throw json::other_error::create(501, std::string(key) + ": " + parsed.error().message, &launch);
  }
  return std::move(*parsed);
}

// A launch's `container`, read by the model's parser; its errors name the field (e.g.
// "container.docker.image: ...") and reach decode<T>'s caller like nlohmann's type errors.
std::optional<model::ContainerSpec> container_of(const json& launch) {
  json value = launch_member(launch, "container");
  if (value.is_null()) return std::nullopt;
  auto container = model::parse_container_spec(value);
  if (!container) throw json::other_error::create(501, container.error().message, &launch);
  return std::move(*container);
}

std::vector<model::NetworkSpec> networks_of(const json& launch) {
  auto networks = model::parse_networks(launch_member(launch, "networks"));
  if (!networks) throw json::other_error::create(501, networks.error().message, &launch);
  return std::move(*networks);
}

}  // namespace

void from_json(const nlohmann::json& j, LaunchSpec& v) {
  v.task_id = j.value("task_id", "");
  v.app_id = j.value("app_id", "");
  v.version = j.value("version", "");
  v.config_version = j.value("config_version", "");
  if (j.contains("cmd") && j["cmd"].is_string()) v.cmd = j["cmd"].get<std::string>();
  v.args = j.value("args", std::vector<std::string>{});
  v.env = j.value("env", std::map<std::string, std::string>{});
  v.labels = j.value("labels", std::map<std::string, std::string>{});
  v.cpus = j.value("cpus", 0.0);
  v.mem = j.value("mem", 0.0);
  v.disk = j.value("disk", 0.0);
  v.ports = field(j, "ports", std::vector<uint32_t>{});
  v.port_names = j.value("port_names", std::vector<std::string>{});
  v.kill_grace_ms = field(j, "kill_grace_ms", int64_t{3000});
  v.volumes = j.value("volumes", std::vector<VolumeMount>{});
  v.health_checks = j.value("health_checks", "");
  v.readiness_checks = j.value("readiness_checks", "");
  v.container = container_of(j);
  v.networks = networks_of(j);
  v.user = j.value("user", "");
}

const char* Command::type() const {
  static constexpr const char* kNames[] = {"launch", "kill", "datasets", "routes"};
  static_assert(std::variant_size_v<CommandBody> == std::size(kNames));
  return kNames[body.index()];
}

// The wire form keeps the fields of each kind at the top level, beside "type" (docs/protocol.md
// §4): {"seq":1,"command_id":"c1","type":"kill","task_id":"t","kill_grace_ms":3000}.
void to_json(nlohmann::json& j, const Command& v) {
  j = nlohmann::json{{"seq", v.seq}, {"command_id", v.command_id}, {"type", v.type()}};
  if (const auto* launch = v.as<LaunchCommand>()) j["launch"] = launch->spec;
  if (const auto* kill = v.as<KillCommand>()) {
    j["task_id"] = kill->task_id;
    j["kill_grace_ms"] = kill->grace_ms;
  }
  if (const auto* datasets = v.as<DatasetsCommand>()) j["datasets"] = datasets->datasets;
  if (const auto* routes = v.as<RoutesCommand>()) j["routes"] = routes->table;
}

void from_json(const nlohmann::json& j, Command& v) {
  v.seq = field(j, "seq", uint64_t{0});
  v.command_id = field(j, "command_id", std::string());
  std::string type = field(j, "type", std::string());
  if (type == "launch") {
    if (!j.contains("launch"))
      throw json::other_error::create(501, "a launch command without \"launch\"", &j);
    v.body = LaunchCommand{j.at("launch").get<LaunchSpec>()};
  } else if (type == "kill") {
    v.body = KillCommand{field(j, "task_id", std::string()), field(j, "kill_grace_ms", int64_t{0})};
  } else if (type == "datasets") {
    v.body = DatasetsCommand{field(j, "datasets", std::vector<DatasetAssignment>{})};
  } else if (type == "routes") {
    v.body = RoutesCommand{field(j, "routes", std::string())};
  } else {
    throw json::other_error::create(501, "unknown command type \"" + type + "\"", &j);
  }
}

BERTH_JSON_DEFINE(CommandBatch, commands)

template <typename T>
Result<T> decode_json(const nlohmann::json& value) {
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, e.what());
  }
}

template <typename T>
Result<T> decode(std::string_view text) {
  auto parsed = berth::json::parse(text);
  if (!parsed) return parsed.error();
  return decode_json<T>(*parsed);
}

template <typename T>
std::string encode(const T& message) {
  return berth::json::dump(nlohmann::json(message));
}

#define BERTH_PROTOCOL_MESSAGE(T)                           \
  template Result<T> decode_json<T>(const nlohmann::json&); \
  template Result<T> decode<T>(std::string_view);           \
  template std::string encode<T>(const T&);
BERTH_PROTOCOL_MESSAGE(RegisterRequest)
BERTH_PROTOCOL_MESSAGE(RegisterResponse)
BERTH_PROTOCOL_MESSAGE(Heartbeat)
BERTH_PROTOCOL_MESSAGE(HeartbeatAck)
BERTH_PROTOCOL_MESSAGE(StatusBatch)
BERTH_PROTOCOL_MESSAGE(StatusAck)
BERTH_PROTOCOL_MESSAGE(LaunchSpec)
BERTH_PROTOCOL_MESSAGE(Command)
BERTH_PROTOCOL_MESSAGE(CommandBatch)
#undef BERTH_PROTOCOL_MESSAGE

}  // namespace berth::protocol
