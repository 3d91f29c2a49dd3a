// The master <-> agent protocol (docs/protocol.md): HTTP/1.1 + JSON. The agent calls the master:
//   POST /berth/v1/agents/register            RegisterRequest  -> RegisterResponse
//   POST /berth/v1/agents/{id}/heartbeat      Heartbeat        -> HeartbeatAck (404: re-register)
//   POST /berth/v1/agents/{id}/status         StatusBatch      -> StatusAck
//   GET  /berth/v1/agents/{id}/commands?after=SEQ&wait_ms=N     -> CommandBatch (long poll)
// Commands carry ids and sequence numbers; the agent acknowledges by asking for those after
// the last sequence number it executed, and does each command id at most once. Status updates
// are at-least-once: the agent resends each until its update_id is acknowledged.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "model/container.h"

namespace berth::protocol {

// A task's state, as Mesos and Marathon name it; on the wire and in Marathon's API the name
// ("TASK_RUNNING"). kError, kDropped and kGone come only from other components' reports.
enum class TaskState {
  kStaging,
  kStarting,
  kRunning,
  kFinished,
  kFailed,
  kKilling,
  kKilled,
  kLost,
  kError,
  kDropped,
  kGone,
};

// "TASK_RUNNING" for kRunning, and so on.
const char* to_string(TaskState state);
// The state named `name`, if it is one.
std::optional<TaskState> parse_task_state(std::string_view name);
// A task in this state will not change again: finished, failed, killed, lost, error, dropped
// or gone.
bool is_terminal(TaskState state);

struct PortRangeMsg {
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct AgentResources {
  double cpus = 0;
  double mem = 0;   // MiB
  double disk = 0;  // MiB
  std::vector<PortRangeMsg> ports;
};

// What an agent runs, as it reports it on (re)registration.
struct TaskReport {
  std::string task_id;
  std::string app_id;
  std::string version;         // the app version the task was launched for
  std::string config_version;  // the app's lastConfigChangeAt at launch
  TaskState state = TaskState::kStaging;
  std::vector<uint32_t> ports;
  double cpus = 0, mem = 0, disk = 0;
  std::string staged_at, started_at;  // ISO-8601, started_at empty until running
  std::vector<std::string> datasets;  // dataset ids it uses
};

struct RegisterRequest {
  std::string token;
  std::string agent_id;  // empty on first registration; the previous id on re-registration
  std::string hostname;
  std::string address;  // where the agent's tasks are reachable
  AgentResources resources;
  std::map<std::string, std::string> attributes;
  std::vector<TaskReport> tasks;
  uint32_t http_port = 0;  // the agent's own HTTP port (task logs); 0: none
  bool http_tls = false;   // that port speaks HTTPS
  // The seq of the last heartbeat this agent process sent (0 for a process that has sent
  // none): a fresh process cannot be in the middle of attaching what an older one was granted.
  uint64_t heartbeat_seq = 0;
};

struct RegisterResponse {
  std::string agent_id;
  int64_t heartbeat_interval_ms = 500;
  int64_t lease_ms = 2500;
  uint64_t next_command_seq = 0;  // commands with seq > this are new to the agent
  // This registration's credential: every later call of the agent carries it as
  // "Authorization: Bearer <secret>"; a call for this agent without it is refused (401).
  std::string agent_secret;
};

// What an agent has of a dataset (docs/protocol.md §6), reported with every heartbeat.
struct DatasetReport {
  std::string dataset_id;
  std::string driver;
  bool attached = false;
  uint64_t epoch = 0;
  std::string path;     // where it is mounted here, when attached
  bool in_use = false;  // a task or a Docker mount uses it
  std::string error;    // the last attach/detach failure, if any
  // `local` driver: this node stores a copy of the data, attached or not (attached=false: a
  // detached copy, e.g. the source of a move until the new node has attached its own).
  bool local_copy = false;
};

// What the master wants of a dataset on this agent, sent with every heartbeat answer. The
// agent converges level-triggered: it attaches what is assigned with attach=true (at that
// epoch), detaches what is attached but not assigned, destroys what says destroy.
struct DatasetAssignment {
  std::string dataset_id;
  std::string driver;
  uint64_t epoch = 0;
  uint64_t size_bytes = 0;
  bool attach = false;   // false: still held elsewhere; wait for it to be released
  bool destroy = false;  // deleted in the configuration, or a stale local copy: destroy it
  // A `local` dataset moving here: before attaching, fetch its data from the agent that holds
  // it, "http://<address>:<http_port>" (GET /berth/v1/datasets/{id}/archive), which must
  // answer as node `copy_from_node`. Never attach an empty dataset instead. Empty: no copy.
  std::string copy_from;
  std::string copy_from_node;
};

// A task's address that this agent's service router forwarded a client to for the first time,
// `ago_ms` before the heartbeat was sent (the "routed" failover phase, docs/protocol.md).
struct RoutedBackend {
  std::string host;
  uint16_t port = 0;
  int64_t ago_ms = 0;
};

struct Heartbeat {
  uint64_t seq = 0;  // grows with every heartbeat of one agent process
  // The newest heartbeat answer (its seq) whose dataset assignments the agent had applied when
  // it took `datasets`: a dataset granted in an answer up to this one and not reported
  // attached has been let go (docs/fencing.md §4).
  uint64_t applied_seq = 0;
  std::vector<DatasetReport> datasets;
  std::vector<RoutedBackend> routed;  // first forwards since the last heartbeat answered
  // Ports of the agent's range that something other than its tasks listens on: given to no
  // task here until they are free again.
  std::vector<uint32_t> busy_ports;
};

struct HeartbeatAck {
  uint64_t seq = 0;
  int64_t lease_ms = 2500;
  std::vector<DatasetAssignment> datasets;
  // The master renewed the lease without taking the heartbeat's reports, and `datasets` is not
  // an answer: the agent keeps the assignments it has (docs/fencing.md §9).
  bool lease_only = false;
  // The heartbeat interval from here on, when the master changed it since the registration (it
  // stretches the timing as the fleet grows, docs/fencing.md §10); 0: keep the interval.
  int64_t heartbeat_interval_ms = 0;
};

struct StatusUpdate {
  std::string update_id;
  std::string task_id;
  std::string app_id;
  TaskState state = TaskState::kStaging;
  std::string message;
  std::string timestamp;       // ISO-8601, agent's wall clock
  int health = -1;             // -1: no verdict (or no checks), 0: unhealthy, 1: healthy
  std::string health_results;  // Marathon's healthCheckResults array, as JSON text
  // 1 once the task passed its readiness checks (sent once); -1 otherwise.
  int ready = -1;
};

struct StatusBatch {
  std::vector<StatusUpdate> updates;
};

struct StatusAck {
  std::vector<std::string> acked;
};

// A dataset a task uses, mounted at container_path (docs/architecture.md §6).
struct VolumeMount {
  std::string dataset_id;
  std::string container_path;
  std::string host_path;  // where the agent reported it mounted
  std::string mode = "RW";
  uint64_t epoch = 0;
};

// Everything an agent needs to start a task.
struct LaunchSpec {
  std::string task_id;
  std::string app_id;
  std::string version;
  std::string config_version;
  std::optional<std::string> cmd;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // the app's env; the agent adds Marathon's
  std::map<std::string, std::string> labels;
  double cpus = 0, mem = 0, disk = 0;
  std::vector<uint32_t> ports;
  std::vector<std::string> port_names;  // same length as ports; empty names allowed
  int64_t kill_grace_ms = 3000;
  std::vector<VolumeMount> volumes;
  std::string health_checks;  // the app's healthChecks array as JSON text; empty: none
  // The app's readinessChecks array as JSON text; empty: none.
  std::string readiness_checks;
  // DOCKER apps: the app's `container` and `networks`, parsed by model/container.h (no
  // container for process tasks; no networks means host networking). `ports` then follow the
  // portMappings that publish a host port. On the wire they are Marathon's normalised JSON,
  // read with the same parser.
  std::optional<model::ContainerSpec> container;
  std::vector<model::NetworkSpec> networks;
  // The app's `user`: who the task runs as. Empty: the agent's --default-task-user.
  std::string user;
};

// What the master asks of an agent (docs/protocol.md §4). One kind per struct; a Command holds
// one of them.
struct LaunchCommand {
  LaunchSpec spec;
};

struct KillCommand {
  std::string task_id;
  int64_t grace_ms = 0;
};

// The agent's whole assignment list, pushed when it changes so a move does not wait for the
// next heartbeat.
struct DatasetsCommand {
  std::vector<DatasetAssignment> datasets;
};

// The whole routing table of the service router, as proxy::RoutingTable's JSON.
struct RoutesCommand {
  std::string table;
};

using CommandBody = std::variant<LaunchCommand, KillCommand, DatasetsCommand, RoutesCommand>;

struct Command {
  uint64_t seq = 0;
  std::string command_id;
  CommandBody body;

  // "launch", "kill", "datasets" or "routes": the command's `type` on the wire.
  const char* type() const;
  // The body as T, or nullptr when it is another kind.
  template <typename T>
  T* as() {
    return std::get_if<T>(&body);
  }
  template <typename T>
  const T* as() const {
    return std::get_if<T>(&body);
  }
};

struct CommandBatch {
  std::vector<Command> commands;
};

void to_json(nlohmann::json& j, const TaskState& v);
void from_json(const nlohmann::json& j, TaskState& v);
void to_json(nlohmann::json& j, const PortRangeMsg& v);
void from_json(const nlohmann::json& j, PortRangeMsg& v);
void to_json(nlohmann::json& j, const AgentResources& v);
void from_json(const nlohmann::json& j, AgentResources& v);
void to_json(nlohmann::json& j, const TaskReport& v);
void from_json(const nlohmann::json& j, TaskReport& v);
void to_json(nlohmann::json& j, const RoutedBackend& v);
void from_json(const nlohmann::json& j, RoutedBackend& v);
void to_json(nlohmann::json& j, const RegisterRequest& v);
void from_json(const nlohmann::json& j, RegisterRequest& v);
void to_json(nlohmann::json& j, const RegisterResponse& v);
void from_json(const nlohmann::json& j, RegisterResponse& v);
void to_json(nlohmann::json& j, const DatasetReport& v);
void from_json(const nlohmann::json& j, DatasetReport& v);
void to_json(nlohmann::json& j, const DatasetAssignment& v);
void from_json(const nlohmann::json& j, DatasetAssignment& v);
void to_json(nlohmann::json& j, const Heartbeat& v);
void from_json(const nlohmann::json& j, Heartbeat& v);
void to_json(nlohmann::json& j, const HeartbeatAck& v);
void from_json(const nlohmann::json& j, HeartbeatAck& v);
void to_json(nlohmann::json& j, const StatusUpdate& v);
void from_json(const nlohmann::json& j, StatusUpdate& v);
void to_json(nlohmann::json& j, const StatusBatch& v);
void from_json(const nlohmann::json& j, StatusBatch& v);
void to_json(nlohmann::json& j, const StatusAck& v);
void from_json(const nlohmann::json& j, StatusAck& v);
void to_json(nlohmann::json& j, const VolumeMount& v);
void from_json(const nlohmann::json& j, VolumeMount& v);
void to_json(nlohmann::json& j, const LaunchSpec& v);
void from_json(const nlohmann::json& j, LaunchSpec& v);
void to_json(nlohmann::json& j, const Command& v);
void from_json(const nlohmann::json& j, Command& v);
void to_json(nlohmann::json& j, const CommandBatch& v);
void from_json(const nlohmann::json& j, CommandBatch& v);

// A message of this protocol from its JSON text, read within json::parse's bounds (depth,
// size). kInvalidArgument names what is wrong: not JSON, a field of the wrong type, a number
// out of its field's range, an unknown command type or task state. Never throws.
template <typename T>
Result<T> decode(std::string_view text);
// The same from parsed JSON.
template <typename T>
Result<T> decode_json(const nlohmann::json& value);
// A message as JSON text.
template <typename T>
std::string encode(const T& message);

}  // namespace berth::protocol
