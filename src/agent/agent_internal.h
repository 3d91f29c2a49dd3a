// The agent's state and the declarations of its jobs, shared by the files that implement them
// (docs/architecture.md §1, docs/protocol.md): master_session.cpp (registration, heartbeats,
// the command poll and status delivery), task_runner.cpp (launches, kills, exits, containers),
// task_health.cpp (health checks and their verdicts), fencing.cpp (lease updates and the fence),
// adoption.cpp (tasks of an earlier run), agent_http.cpp (the agent's own HTTP port) and
// agent.cpp (wiring, the dataset loop). Included by those files only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/dataset_manager.h"
#include "agent/dataset_transfer.h"
#include "agent/plugin_backend.h"
#include "agent/task_logs.h"
#include "base/stall_meter.h"
#include "executor/docker_executor.h"
#include "executor/docker_spec.h"
#include "executor/task_user.h"
#include "health/health_checker.h"
#include "http/http.h"
#include "lease/agent_lease.h"
#include "protocol/messages.h"
#include "proxy/service_router.h"

namespace berth::agent {

// Where a container sees its sandbox (Mesos's path), and MESOS_SANDBOX says so.
inline constexpr const char* kContainerSandbox = "/mnt/mesos/sandbox";

struct LocalTask {
  protocol::LaunchSpec spec;
  std::string sandbox;
  protocol::TaskState state = protocol::TaskState::kStaging;
  bool docker = false;        // runs as a container (DockerExecutor), not a process
  bool starting = false;      // a container being created and started by a launcher thread
  bool kill_pending = false;  // killed while starting: killed once started
  int64_t kill_grace_ms = 0;
  bool health_killed = false;  // killed for failing health checks: counts as a failure
  std::string staged_at, started_at;
};

struct Agent::Impl {
  AgentOptions options;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<IdSource> ids;
  std::unique_ptr<MasterLink> master;
  std::unique_ptr<Executor> executor;                 // process tasks
  std::unique_ptr<Executor> docker;                   // DOCKER tasks
  std::unique_ptr<DatasetTransfer> dataset_transfer;  // local datasets moving in and out
  std::unique_ptr<DatasetManager> datasets;
  // The volume plugin's name on this node ("berth" for /run/docker/plugins/berth.sock) and the
  // prefix that makes its Docker volume names distinct from other agents' on the same dockerd.
  std::string plugin_name;
  std::string volume_prefix;
  // Container launches, done by launcher threads without holding `mu` (a start takes ~0.5 s).
  std::deque<std::string> docker_launches;
  std::map<std::string, std::string> docker_warnings;  // task id -> its RUNNING message
  std::map<std::string, std::string> docker_bodies;    // task id -> create body
  std::unique_ptr<http::Server> http_server;           // task logs
  bool fenced = false;  // the lease ran out; nothing exclusive runs until a new one
  // Serialises fencing and the unfencing of a new lease: both the status and the heartbeat
  // threads may see the lease run out, and a new lease must not be undone by a fence still
  // finishing on the other thread.
  std::mutex fence_mu;
  std::string self_exe;
  std::unique_ptr<health::HealthChecker> health;
  std::unique_ptr<proxy::ServiceRouter> router;
  // The router's first forwards not yet in an answered heartbeat (heartbeat thread only).
  std::vector<proxy::FirstForward> unreported_forwards;
  // Health verdicts from the checker's thread, turned into status updates by the status loop
  // (the checker's callback must not take `mu`).
  std::mutex health_mu;
  std::vector<health::HealthChange> health_changes;
  // Readiness checks (docs/compatibility.md §2.5): checked until ready, then reported once.
  std::unique_ptr<health::HealthChecker> readiness;
  std::vector<std::string> ready_tasks;  // under health_mu
  std::unique_ptr<DatasetPluginBackend> plugin_backend;
  std::unique_ptr<http::Server> plugin_server;
  // --- the lease side (docs/fencing.md §9) ---
  // What the heartbeat thread reads and writes, under lease_mu. Nothing holds lease_mu while it
  // waits for anything else (I/O, `mu`), so a launch, a mount or a Docker call holding `mu`
  // never delays a heartbeat. `mu` may be held when lease_mu is taken, never the reverse.
  std::mutex lease_mu;
  std::condition_variable lease_wake;  // a heartbeat is due now, a dataset change, the stop
  lease::AgentLease lease;
  // The registration in force as the heartbeat thread uses it (set with `registered`).
  bool session_registered = false;
  AgentCredential session;
  int64_t heartbeat_ms = 500;
  int64_t granted_lease_ms = 0;  // the lease of the last answer
  // Sandboxes of the tasks with datasets, whose supervisors read the lease deadline there: all
  // of them, and maybe some of tasks that ended since (refreshed from `tasks` whenever the
  // heartbeat thread finds `mu` free).
  std::set<std::string> lease_sandboxes;
  std::vector<protocol::DatasetAssignment> desired_datasets;
  bool datasets_changed = false;
  // Heartbeats sent by this process; the heartbeat answer desired_datasets came from (or the
  // newest one, when a "datasets" command replaced the list since); the one the dataset loop
  // had fully converged when it last finished (Heartbeat::applied_seq, docs/fencing.md §4).
  uint64_t heartbeat_seq = 0;
  uint64_t desired_seq = 0;
  bool desired_from_command = false;  // desired_datasets came from a "datasets" command
  uint64_t applied_seq = 0;
  bool heartbeat_now = false;  // report dataset changes without waiting for the interval
  // The heartbeat thread's own: its task ports as last read, how late it woke, round trips.
  std::set<uint32_t> own_ports;
  std::chrono::steady_clock::time_point busy_ports_read_at{};
  std::vector<uint32_t> busy_ports_last;
  StallMeter heartbeat_stalls;
  StallMeter heartbeat_round_trips;
  std::chrono::steady_clock::time_point lease_timing_said{};  // note_lease_timing's last line
  std::atomic<bool> stopping{false};
  std::atomic<bool> kill_tasks_on_stop{false};  // Agent::stop(true)

  std::mutex mu;
  std::condition_variable wake;
  std::string agent_id;
  // The secret the master gave this agent at registration (docs/security.md): every heartbeat,
  // status update and command poll carries it, so nobody else can speak for this agent.
  std::string agent_secret;
  bool registered = false;  // session_registered follows it
  uint64_t last_seq = 0;
  std::map<std::string, LocalTask> tasks;
  std::deque<std::string> recent_commands;  // ids, bounded, for at-most-once execution
  std::set<std::string> recent_command_set;
  std::deque<protocol::StatusUpdate> pending;  // unacknowledged status updates

  Impl(AgentOptions o, AgentParts parts);

  std::string id_file() const { return options.work_dir + "/agent-id"; }
  TaskUserPolicy task_user_policy() const {
    return TaskUserPolicy{options.default_task_user, options.allow_root_tasks, options.hostname};
  }

  // --- wiring (agent.cpp) ---
  void start_datasets();
  void start_plugin();
  void start_router();
  void start_http();
  void log_start();
  void dataset_loop();
  void run_threads();
  void shut_down();

  // --- master session (master_session.cpp) ---
  void queue_status(const std::string& task_id, const std::string& app_id,
                    protocol::TaskState state, const std::string& message);
  protocol::RegisterRequest registration();
  bool register_with_master();
  void on_registered(const protocol::RegisterResponse& response, size_t tasks_reported);
  AgentCredential credential();
  // The master no longer knows the registration whose credential `used` is: register again,
  // unless the agent has registered anew since. Logs which `call` was refused.
  void mark_unregistered(const AgentCredential& used, const char* call);
  void heartbeat_loop();
  // One heartbeat and its answer; false when the agent must register again.
  bool heartbeat_once();
  // The ports of the agent's range that something other than its tasks holds.
  std::vector<uint32_t> busy_port_report();
  // Asks the heartbeat thread for a heartbeat now. Takes lease_mu.
  void request_heartbeat();
  // Logs a heartbeat stall or round trip that ate into the lease's margin.
  void note_lease_timing(const char* what, std::chrono::nanoseconds took);
  void on_heartbeat_ack(protocol::HeartbeatAck ack);
  // The first forwards to report with the next heartbeat, timed back from now.
  std::vector<protocol::RoutedBackend> routed_report();
  void command_loop();
  void execute(const protocol::Command& command);
  void apply_routes(const std::string& routes);
  void kill_command(const protocol::KillCommand& command);
  void status_loop();
  bool deliver_status();

  // --- tasks (task_runner.cpp) ---
  Status kill_task(const LocalTask& task, const std::string& task_id,
                   std::chrono::milliseconds grace);
  ProcessSpec process_spec(const protocol::LaunchSpec& spec, const std::string& sandbox);
  void launch(const protocol::LaunchSpec& spec);
  bool hold_lease_for(const protocol::LaunchSpec& spec, const std::string& sandbox);
  void launch_container(const protocol::LaunchSpec& spec, const std::string& sandbox,
                        LocalTask task);
  Result<DockerTaskSpec> docker_task_spec(const protocol::LaunchSpec& spec,
                                          const std::string& sandbox);
  void launcher_loop();
  bool take_container_launch(std::string* task_id, std::string* body, std::string* sandbox);
  void on_container_started(const std::string& task_id, const std::string& sandbox,
                            const Result<TaskStarted>& started);
  void give_to_task_user(const protocol::LaunchSpec& spec, const std::string& path);
  Status attach_volumes(const protocol::LaunchSpec& spec, const std::string& sandbox,
                        ProcessSpec* ps);
  void release_volumes(const protocol::LaunchSpec& spec);
  void reap();

  // --- health (task_health.cpp) ---
  void start_health_checks(const protocol::LaunchSpec& spec, const ProcessSpec& ps,
                           const std::string& container = "");
  void on_health_change(const health::HealthChange& change);
  void report_health();
  void start_readiness_checks(const protocol::LaunchSpec& spec);
  void on_readiness_change(const health::HealthChange& change);
  void report_readiness();

  // --- fencing (fencing.cpp) ---
  void apply_lease_update(const lease::LeaseUpdate& update);
  void write_lease_deadlines();
  void fence();
  void drop_grants_locked();

  // --- adoption (adoption.cpp) ---
  void write_task_meta(const LocalTask& task, int pid, const std::string& container_id);
  void adopt_previous_tasks();

  // --- the agent's HTTP port (agent_http.cpp) ---
  http::Response serve_http(const http::Request& request);
  std::optional<TaskLogInfo> task_logs(const std::string& task_id);
};

}  // namespace berth::agent
