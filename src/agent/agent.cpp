#include "agent/agent.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <spdlog/spdlog.h>
#include <thread>

#include "agent/dataset_manager.h"
#include "agent/dataset_transfer.h"
#include "agent/plugin_backend.h"
#include "agent/supervisor.h"
#include "lease/agent_lease.h"
#include "plugin/volume_plugin.h"
#include "agent/task_env.h"
#include "agent/task_logs.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/secret.h"
#include "executor/leftovers.h"
#include "health/health_checker.h"
#include "proxy/service_router.h"
#include "executor/docker_executor.h"
#include "executor/docker_spec.h"
#include "executor/process_executor.h"
#include "http/http.h"
#include "json/bounded.h"
#include "protocol/messages.h"

namespace berth::agent {

Result<std::map<std::string, std::string>> parse_attributes(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid attribute '" + item + "': expected name:value, e.g. rack:a");
    }
    out[item.substr(0, colon)] = item.substr(colon + 1);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Status parse_port_range(const std::string& text, uint32_t* begin, uint32_t* end) {
  unsigned b = 0, e = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%u-%u%c", &b, &e, &extra) != 2 || b == 0 || e > 65535 || b > e) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid port range '" + text + "': expected BEGIN-END within 1-65535, e.g. 31000-32000");
  }
  *begin = b;
  *end = e;
  return {};
}

namespace {

// Where a container sees its sandbox (Mesos's path), and MESOS_SANDBOX says so.
constexpr const char* kContainerSandbox = "/mnt/mesos/sandbox";

double detect_mem_mib() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb / 1024.0;
  }
  return 1024;
}

double detect_disk_mib(const std::string& dir) {
  struct statvfs st {};
  if (statvfs(dir.c_str(), &st) != 0) return 0;
  return static_cast<double>(st.f_bavail) * st.f_frsize / (1024.0 * 1024.0);
}

struct LocalTask {
  protocol::LaunchSpec spec;
  std::string sandbox;
  std::string state;
  bool docker = false;        // runs as a container (DockerExecutor), not a process
  bool starting = false;      // a container being created and started by a launcher thread
  bool kill_pending = false;  // killed while starting: killed once started
  int64_t kill_grace_ms = 0;
  bool health_killed = false;  // killed for failing health checks: counts as a failure
  std::string staged_at, started_at;
};

}  // namespace

struct Agent::Impl {
  AgentOptions options;
  SystemClock clock;
  RandomIdSource ids;
  std::unique_ptr<ProcessExecutor> executor;
  std::unique_ptr<DockerExecutor> docker;
  std::unique_ptr<DatasetTransfer> dataset_transfer;  // local datasets moving in and out
  std::unique_ptr<DatasetManager> datasets;
  // The volume plugin's name on this node ("berth" for /run/docker/plugins/berth.sock) and the
  // prefix that makes its Docker volume names distinct from other agents' on the same dockerd.
  std::string plugin_name;
  std::string volume_prefix;
  // Container launches, done by launcher threads without holding `mu` (a start takes ~0.5 s).
  std::deque<std::string> docker_launches;
  std::map<std::string, std::string> docker_warnings;  // task id -> its RUNNING message
  std::map<std::string, std::string> docker_bodies;  // task id -> create body
  std::unique_ptr<http::Server> http_server;  // task logs
  lease::AgentLease lease;  // guarded by mu
  bool fenced = false;      // the lease ran out; nothing exclusive runs until a new one
  // Serialises fencing and the unfencing of a new lease: both the status and the heartbeat
  // threads may see the lease run out, and a new lease must not be undone by a fence still
  // finishing on the other thread.
  std::mutex fence_mu;
  std::string self_exe;
  std::unique_ptr<health::HealthChecker> health;
  std::unique_ptr<proxy::ServiceRouter> router;
  // Health verdicts from the checker's thread, turned into status updates by the status loop
  // (the checker's callback must not take `mu`).
  std::mutex health_mu;
  std::vector<health::HealthChange> health_changes;
  std::unique_ptr<DatasetPluginBackend> plugin_backend;
  std::unique_ptr<http::Server> plugin_server;
  std::vector<protocol::DatasetAssignment> desired_datasets;
  bool datasets_changed = false;
  // Report dataset changes without waiting for the interval. Atomic: it is set from places
  // that may hold `mu` (task launch and exit release datasets) or not.
  std::atomic<bool> heartbeat_now{false};
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::condition_variable wake;
  std::string agent_id;
  // The secret the master gave this agent at registration (docs/security.md): every heartbeat,
  // status update and command poll carries it, so nobody else can speak for this agent.
  std::string agent_secret;
  bool registered = false;
  uint64_t last_seq = 0;
  std::map<std::string, LocalTask> tasks;
  std::deque<std::string> recent_commands;  // ids, bounded, for at-most-once execution
  std::set<std::string> recent_command_set;
  std::deque<protocol::StatusUpdate> pending;  // unacknowledged status updates
  int64_t heartbeat_ms = 500;

  explicit Impl(AgentOptions o) : options(std::move(o)) {}

  std::string id_file() const { return options.work_dir + "/agent-id"; }

  TaskUserPolicy task_user_policy() const {
    return TaskUserPolicy{options.default_task_user, options.allow_root_tasks, options.hostname};
  }

  void queue_status(const std::string& task_id, const std::string& app_id, const std::string& state,
                    const std::string& message) {
    // Every state this agent reports, with its reason: the agent's half of a failover's story.
    spdlog::info("task {}: {}{}", task_id, state, message.empty() ? "" : " (" + message + ")");
    protocol::StatusUpdate u;
    u.update_id = ids.uuid();
    u.task_id = task_id;
    u.app_id = app_id;
    u.state = state;
    u.message = message;
    u.timestamp = format_iso8601(clock.wall_now());
    pending.push_back(std::move(u));
    if (pending.size() > 100000) pending.pop_front();  // bound: the oldest is superseded anyway
    wake.notify_all();
  }

  protocol::RegisterRequest registration() {
    protocol::RegisterRequest r;
    r.token = options.join_token;
    r.agent_id = agent_id;
    r.hostname = options.hostname;
    r.address = options.address;
    r.resources.cpus = options.cpus;
    r.resources.mem = options.mem;
    r.resources.disk = options.disk;
    r.resources.ports = {{options.port_begin, options.port_end}};
    r.attributes = options.attributes;
    r.http_port = http_server ? http_server->port() : 0;
    r.http_tls = !options.tls_cert.empty();
    for (const auto& [id, t] : tasks) {
      protocol::TaskReport report;
      report.task_id = id;
      report.app_id = t.spec.app_id;
      report.version = t.spec.version;
      report.config_version = t.spec.config_version;
      report.state = t.state;
      report.ports = t.spec.ports;
      report.cpus = t.spec.cpus;
      report.mem = t.spec.mem;
      report.disk = t.spec.disk;
      report.staged_at = t.staged_at;
      report.started_at = t.started_at;
      for (const auto& v : t.spec.volumes) report.datasets.push_back(v.dataset_id);
      r.tasks.push_back(report);
    }
    return r;
  }

  // Registers (or re-registers) until it succeeds or the agent stops.
  bool register_with_master() {
    while (!stopping) {
      protocol::RegisterRequest request;
      {
        std::lock_guard<std::mutex> lock(mu);
        request = registration();
      }
      auto res = http::request(options.master_url, "POST", "/berth/v1/agents/register",
                               nlohmann::json(request).dump(), 5000);
      if (res && res->status == 200) {
        auto body = json::parse(res->body);
        protocol::RegisterResponse response;
        if (body && read_message(*body, &response)) {
          std::lock_guard<std::mutex> lock(mu);
          agent_id = response.agent_id;
          agent_secret = response.agent_secret;
          if (plugin_backend) plugin_backend->set_credential(agent_secret);
          datasets->set_node_id(agent_id);
          if (plugin_backend) plugin_backend->set_node_id(agent_id);
          last_seq = response.next_command_seq;
          heartbeat_ms = response.heartbeat_interval_ms;
          registered = true;
          std::ofstream(id_file()) << agent_id;
          spdlog::info("registered with {} as agent {} ({} tasks reported)", options.master_url,
                       agent_id, request.tasks.size());
          wake.notify_all();
          return true;
        }
      } else if (res && res->status == 401) {
        spdlog::error("the master refused the join token: {}", res->body);
      } else if (!res) {
        spdlog::warn("cannot reach the master at {}: {}", options.master_url, res.error().message);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }

  // The Authorization header of this agent's calls to the master.
  std::vector<std::pair<std::string, std::string>> master_headers() {
    std::lock_guard<std::mutex> lock(mu);
    return {{"Authorization", "Bearer " + agent_secret}};
  }

  // Reads a message of the master; false (and a log line) when it does not have the shape.
  template <typename Message>
  static bool read_message(const nlohmann::json& body, Message* out) {
    try {
      *out = body.get<Message>();
      return true;
    } catch (const nlohmann::json::exception& e) {
      spdlog::warn("malformed message from the master: {}", e.what());
      return false;
    }
  }

  void mark_unregistered() {
    std::lock_guard<std::mutex> lock(mu);
    registered = false;
  }

  bool is_registered() {
    std::lock_guard<std::mutex> lock(mu);
    return registered;
  }

  void heartbeat_loop() {
    uint64_t seq = 0;
    while (!stopping) {
      if (!is_registered()) {
        register_with_master();
        continue;
      }
      std::string id;
      int64_t interval;
      {
        std::lock_guard<std::mutex> lock(mu);
        id = agent_id;
        interval = heartbeat_ms;
      }
      protocol::Heartbeat hb;
      hb.seq = ++seq;
      hb.datasets = datasets->report();
      {
        std::lock_guard<std::mutex> lock(mu);
        lease.on_heartbeat_sent(hb.seq, clock.mono_now());
      }
      auto res = http::request(options.master_url, "POST", "/berth/v1/agents/" + id + "/heartbeat",
                               nlohmann::json(hb).dump(),
                               static_cast<int>(std::max<int64_t>(interval * 2, 1000)), master_headers());
      if (res && (res->status == 404 || res->status == 401)) {
        spdlog::info("the master does not know agent {}: registering again", id);
        mark_unregistered();
        continue;
      }
      if (res && res->status == 200) {
        auto body = json::parse(res->body);
        protocol::HeartbeatAck ack;
        if (body && read_message(*body, &ack)) {
          lease::LeaseUpdate update;
          {
            std::lock_guard<std::mutex> lock(mu);
            update = lease.on_ack(ack.seq, std::chrono::milliseconds(ack.lease_ms), clock.mono_now());
          }
          apply_lease_update(update);
          std::lock_guard<std::mutex> lock(mu);
          desired_datasets = std::move(ack.datasets);
          datasets_changed = true;
          wake.notify_all();
        }
      }
      if (plugin_backend && seq % 2 == 0) plugin_backend->refresh();
      std::unique_lock<std::mutex> lock(mu);
      wake.wait_for(lock, std::chrono::milliseconds(interval), [&] { return stopping || heartbeat_now.load(); });
      heartbeat_now = false;
    }
  }

  void execute(const protocol::Command& command) {
    std::lock_guard<std::mutex> lock(mu);
    if (recent_command_set.count(command.command_id)) return;
    recent_command_set.insert(command.command_id);
    recent_commands.push_back(command.command_id);
    if (recent_commands.size() > 10000) {
      recent_command_set.erase(recent_commands.front());
      recent_commands.pop_front();
    }
    if (command.type == "launch" && command.launch) {
      spdlog::info("task {}: launching (app {} version {}, {} dataset volume(s))", command.launch->task_id,
                   command.launch->app_id, command.launch->version, command.launch->volumes.size());
      launch(*command.launch);
    } else if (command.type == "routes") {
      if (!router) return;
      auto table = proxy::routing_table_from_json(json::parse_or_discarded(command.routes));
      if (!table) {
        spdlog::warn("ignoring a routing table: {}", table.error().message);
        return;
      }
      auto report = router->apply(*table);
      for (const auto& failure : report.listen_failures) {
        spdlog::warn("service port {}: {}", failure.service_port, failure.message);
      }
    } else if (command.type == "datasets") {
      desired_datasets = command.datasets;
      datasets_changed = true;
      wake.notify_all();
    } else if (command.type == "kill") {
      spdlog::info("task {}: kill asked (grace {} ms)", command.task_id, command.kill_grace_ms);
      auto it = tasks.find(command.task_id);
      if (it == tasks.end()) {
        queue_status(command.task_id, "", protocol::kTaskKilled, "task not known on this agent");
        return;
      }
      if (it->second.starting) {
        it->second.kill_pending = true;
        it->second.kill_grace_ms = command.kill_grace_ms;
        it->second.state = protocol::kTaskKilling;
        return;
      }
      Status killed = kill_task(it->second, command.task_id, std::chrono::milliseconds(command.kill_grace_ms));
      if (!killed) {
        // Already exited; poll_exits reports it.
        spdlog::debug("kill {}: {}", command.task_id, killed.error().message);
      } else {
        it->second.state = protocol::kTaskKilling;
      }
    }
  }

  Status kill_task(const LocalTask& task, const std::string& task_id, std::chrono::milliseconds grace) {
    if (task.docker) return docker->kill(task_id, grace);
    return executor->kill(task_id, grace);
  }

  void launch(const protocol::LaunchSpec& spec) {
    if (tasks.count(spec.task_id)) return;  // idempotent
    std::string sandbox = options.work_dir + "/sandboxes/" + spec.task_id;
    LocalTask task;
    task.spec = spec;
    task.staged_at = format_iso8601(clock.wall_now());
    ProcessSpec ps;
    ps.task_id = spec.task_id;
    ps.sandbox_dir = sandbox;
    ps.cmd = spec.cmd;
    ps.args = spec.args;
    const char* path = std::getenv("PATH");
    ps.env = task_environment(spec, options.address, sandbox, path ? path : "/usr/bin:/bin");
    ps.mem_mib = spec.mem;
    ps.user = spec.user;
    if (!spec.volumes.empty()) {
      // No lease, no exclusive data: a fenced node starts nothing that writes a dataset.
      auto deadline = lease.deadline();
      if (fenced || !deadline || lease.expired(clock.mono_now())) {
        queue_status(spec.task_id, spec.app_id, protocol::kTaskFailed, "this node holds no lease: not starting a task with datasets");
        return;
      }
      std::error_code dir_ec;
      std::filesystem::create_directories(sandbox, dir_ec);
      Status written = write_deadline_file(sandbox + "/.berth-lease-deadline", *deadline);
      if (!written) {
        queue_status(spec.task_id, spec.app_id, protocol::kTaskFailed, written.error().message);
        return;
      }
    }
    if (!spec.container.empty()) {
      launch_container(spec, sandbox, std::move(task));
      return;
    }
    Status volumes = attach_volumes(spec, sandbox, &ps);
    if (!volumes) {
      release_volumes(spec);
      queue_status(spec.task_id, spec.app_id, protocol::kTaskFailed, volumes.error().message);
      return;
    }
    auto pid = executor->launch(ps);
    if (!pid) {
      release_volumes(spec);
      queue_status(spec.task_id, spec.app_id, protocol::kTaskFailed, pid.error().message);
      return;
    }
    task.state = protocol::kTaskRunning;
    task.started_at = format_iso8601(clock.wall_now());
    task.sandbox = sandbox;
    if (!spec.volumes.empty()) {
      std::string cgroup = options.memory_cgroup_root + "/berth-" + options.hostname + "/" + spec.task_id + "/cgroup.procs";
      if (::access(cgroup.c_str(), R_OK) != 0) cgroup.clear();
      Status supervised = start_supervisor(self_exe, *pid, sandbox + "/.berth-lease-deadline", cgroup);
      if (!supervised) spdlog::error("task {}: {}", spec.task_id, supervised.error().message);
    }
    tasks[spec.task_id] = task;
    write_task_meta(task, *pid, "");
    queue_status(spec.task_id, spec.app_id, protocol::kTaskRunning, "");
    if (!spec.health_checks.empty()) start_health_checks(spec, ps);
  }

  // The agent's HTTP answers: task logs (the master relays `berth task logs`), and the
  // archives of local datasets moving to another node.
  http::Response serve_http(const http::Request& request) {
    if (is_dataset_archive_path(request.path)) {
      std::string node;
      {
        std::lock_guard<std::mutex> lock(mu);
        node = agent_id;
      }
      return dataset_transfer->serve(request, node, [this](const std::string& id) { return datasets->in_use(id); });
    }
    // Task logs can hold anything a task prints: only the master (which relays them to
    // authenticated API callers) and the other agents, all holding the join token, read them.
    if (!options.join_token.empty() &&
        !same_secret(request.header("authorization"), "Bearer " + options.join_token)) {
      http::Response denied;
      denied.status = 401;
      denied.headers.push_back({"WWW-Authenticate", "Bearer realm=\"berth-agent\""});
      denied.body = R"({"message":"task logs need the cluster's join token (Authorization: Bearer); ask the master: GET /berth/v1/tasks/{id}/logs"})";
      return denied;
    }
    struct Source final : TaskLogSource {
      Impl& impl;
      explicit Source(Impl& i) : impl(i) {}
      std::optional<TaskLogInfo> find(const std::string& task_id) override { return impl.task_logs(task_id); }
    } source(*this);
    return task_logs_response(request, source);
  }

  std::optional<TaskLogInfo> task_logs(const std::string& task_id) {
    if (task_id.empty() || task_id.find('/') != std::string::npos || task_id.find("..") != std::string::npos) {
      return std::nullopt;
    }
    std::string sandbox = options.work_dir + "/sandboxes/" + task_id;
    TaskLogInfo info;
    info.stdout_path = sandbox + "/stdout";
    info.stderr_path = sandbox + "/stderr";
    bool docker_running = false;
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = tasks.find(task_id);
      if (it != tasks.end()) {
        known = true;
        docker_running = it->second.docker && !it->second.starting;
      }
    }
    if (!known) {
      std::error_code ec;
      if (!std::filesystem::is_directory(sandbox, ec)) return std::nullopt;
      info.done = true;  // ended: its output is in the sandbox for good
      return info;
    }
    if (docker_running && docker && docker->tracks(task_id)) {
      DockerExecutor* executor_ptr = docker.get();
      std::string out_path = info.stdout_path, err_path = info.stderr_path;
      info.read_stream = [executor_ptr, task_id, out_path, err_path](int stream) -> Result<std::string> {
        auto text = executor_ptr->logs(task_id, stream);
        if (text) return text;
        // Ended meanwhile: its output was saved to the sandbox.
        uint64_t size = 0;
        auto saved = read_file_range(stream == kStderrStream ? err_path : out_path, 0, kMaxLogLengthBytes, &size);
        if (saved) return saved;
        return text;
      };
    }
    return info;
  }

  // A DOCKER task (docs/architecture.md §7): its datasets are checked and held here, its create
  // body built, and a launcher thread creates and starts the container. Called with `mu` held.
  void launch_container(const protocol::LaunchSpec& spec, const std::string& sandbox, LocalTask task) {
    auto fail = [&](const std::string& message) {
      release_volumes(spec);
      std::error_code ec;
      std::filesystem::remove(sandbox + "/.berth-lease-deadline", ec);
      queue_status(spec.task_id, spec.app_id, protocol::kTaskFailed, message);
    };
    DockerTaskSpec ds;
    ds.task_id = spec.task_id;
    ds.container_json = spec.container;
    ds.networks_json = spec.networks;
    ds.cmd = spec.cmd;
    ds.args = spec.args;
    ds.env = task_environment(spec, options.address, kContainerSandbox, "");
    ds.env.erase("HOME");
    ds.labels = spec.labels;
    ds.labels[kTaskLabel] = spec.task_id;
    ds.labels["org.berth.app"] = spec.app_id;
    ds.labels[kOwnerLabel] = container_owner(options.hostname, options.work_dir);
    ds.cpus = spec.cpus;
    ds.mem_mib = spec.mem;
    auto user = container_user(spec.user, task_user_policy());
    if (!user) return fail(user.error().message);
    ds.user = *user;
    ds.allow_root = options.allow_root_tasks;
    ds.host_ports = spec.ports;
    ds.volume_driver = plugin_name.empty() ? "berth" : plugin_name;
    ds.volume_prefix = volume_prefix;
    auto container = json::parse_or_discarded(spec.container);
    if (container.is_object() && container.contains("docker")) {
      ds.env["MARATHON_APP_DOCKER_IMAGE"] = container["docker"].value("image", "");
    }
    // Datasets the plugin does not serve (Marathon's local persistent volumes) are bind-mounted.
    std::set<std::string> persistent_paths;
    if (container.is_object() && container.contains("volumes") && container["volumes"].is_array()) {
      for (const auto& v : container["volumes"]) {
        if (v.is_object() && v.contains("persistent")) persistent_paths.insert(v.value("containerPath", ""));
      }
    }
    std::error_code ec;
    std::filesystem::create_directories(sandbox, ec);
    ds.bind_mounts.push_back({sandbox, kContainerSandbox});
    for (const auto& v : spec.volumes) {
      auto path = datasets->usable_path(v.dataset_id);
      if (!path) {
        fail("cannot use dataset " + v.dataset_id + ": " + path.error().message);
        return;
      }
      datasets->acquire(v.dataset_id, spec.task_id);
      if (persistent_paths.count(v.container_path)) ds.bind_mounts.push_back({*path, v.container_path});
    }
    auto body = docker_create_body(ds);
    if (!body) {
      fail(body.error().message);
      return;
    }
    if (!body->plugin_volumes.empty() && !plugin_server) {
      fail("this agent serves no Docker volume plugin (start it with --plugin-socket): cannot mount " +
           body->plugin_volumes.front());
      return;
    }
    task.docker = true;
    task.starting = true;
    task.sandbox = sandbox;
    task.state = protocol::kTaskStarting;
    task.started_at.clear();
    std::string warnings;
    for (const auto& w : body->warnings) warnings += (warnings.empty() ? "" : "; ") + w;
    task.health_killed = false;
    tasks[spec.task_id] = std::move(task);
    docker_bodies[spec.task_id] = body->body_json;
    docker_warnings[spec.task_id] = warnings;
    docker_launches.push_back(spec.task_id);
    wake.notify_all();
  }


  // Creates and starts queued containers, several at once (Docker starts them in parallel).
  void launcher_loop() {
    while (true) {
      std::string task_id, body, sandbox;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return stopping || !docker_launches.empty(); });
        if (stopping) return;
        task_id = docker_launches.front();
        docker_launches.pop_front();
        body = docker_bodies[task_id];
        docker_bodies.erase(task_id);
        auto it = tasks.find(task_id);
        if (it == tasks.end()) continue;
        if (it->second.kill_pending || (!it->second.spec.volumes.empty() && fenced)) {
          std::string message = it->second.kill_pending ? "killed before its container started"
                                                         : "this node lost its lease before the container started";
          release_volumes(it->second.spec);
          queue_status(task_id, it->second.spec.app_id, it->second.kill_pending ? protocol::kTaskKilled : protocol::kTaskFailed,
                       message);
          docker_warnings.erase(task_id);
          tasks.erase(it);
          continue;
        }
        sandbox = it->second.sandbox;
      }
      // Docker may have started after the agent: try again before giving up on the task.
      if (!docker->connected()) (void)docker->connect();
      auto started = docker->launch(DockerLaunch{task_id, sandbox, body});
      std::lock_guard<std::mutex> lock(mu);
      auto it = tasks.find(task_id);
      std::string warnings = docker_warnings[task_id];
      docker_warnings.erase(task_id);
      if (it == tasks.end()) continue;
      LocalTask& task = it->second;
      if (!started) {
        release_volumes(task.spec);
        std::error_code ec;
        std::filesystem::remove(sandbox + "/.berth-lease-deadline", ec);
        queue_status(task_id, task.spec.app_id, protocol::kTaskFailed, "docker: " + started.error().message);
        tasks.erase(it);
        continue;
      }
      task.starting = false;
      task.state = protocol::kTaskRunning;
      task.started_at = format_iso8601(clock.wall_now());
      if (!task.spec.volumes.empty() && started->pid > 0) {
        std::string cgroup = options.memory_cgroup_root + "/docker/" + started->container_id + "/cgroup.procs";
        if (::access(cgroup.c_str(), R_OK) != 0) cgroup.clear();
        Status supervised = start_supervisor(self_exe, started->pid, sandbox + "/.berth-lease-deadline", cgroup);
        if (!supervised) spdlog::error("task {}: {}", task_id, supervised.error().message);
      }
      write_task_meta(task, started->pid, started->container_id);
      queue_status(task_id, task.spec.app_id, protocol::kTaskRunning, warnings);
      if (!task.spec.health_checks.empty()) {
        ProcessSpec ps;
        ps.sandbox_dir = sandbox;
        const char* path = std::getenv("PATH");
        ps.env = task_environment(task.spec, options.address, sandbox, path ? path : "/usr/bin:/bin");
        start_health_checks(task.spec, ps, started->container_id);
      }
      if (task.kill_pending || (!task.spec.volumes.empty() && fenced)) {
        (void)docker->kill(task_id, std::chrono::milliseconds(task.kill_pending ? task.kill_grace_ms : 0));
        task.state = protocol::kTaskKilling;
      }
    }
  }

  // What a restarted agent needs to adopt a task (docs/fencing.md §6).
  void write_task_meta(const LocalTask& task, int pid, const std::string& container_id) {
    nlohmann::json meta{{"spec", task.spec}, {"pid", pid}, {"staged_at", task.staged_at}, {"started_at", task.started_at}};
    if (!container_id.empty()) meta["container_id"] = container_id;
    Status written = write_sandbox_file(task.sandbox + "/.berth-task.json", meta.dump());
    if (!written) spdlog::warn("task {}: not adoptable after a restart: {}", task.spec.task_id, written.error().message);
  }

  // Tasks of an earlier run of this agent that still run are adopted (docs/fencing.md §6): an agent
  // restarted within its lease disturbs nothing. A task with datasets is adopted only while its
  // supervisor's deadline has not passed, and the lease resumes from that deadline. Anything
  // else left in the sandboxes is stopped (the master has replaced it).
  void adopt_previous_tasks() {
    std::set<std::string> adopted;
    std::optional<MonoTime> resume_until;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options.work_dir + "/sandboxes", ec)) {
      std::ifstream in(entry.path() / ".berth-task.json");
      std::stringstream text;
      text << in.rdbuf();
      auto meta = json::parse_or_discarded(text.str());
      if (!meta.is_object() || !meta.contains("spec")) continue;
      auto spec = meta["spec"].get<protocol::LaunchSpec>();
      int pid = meta.value("pid", 0);
      std::string container_id = meta.value("container_id", "");
      bool is_container = !container_id.empty();
      if (is_container) {
        if (!docker || !docker->connected()) continue;
      } else if (env_value(proc_entries(pid, "environ"), "MESOS_TASK_ID") != spec.task_id) {
        continue;
      }
      std::string sandbox = entry.path().string();
      if (!spec.volumes.empty()) {
        std::ifstream deadline_file(sandbox + "/.berth-lease-deadline");
        int64_t ns = 0;
        if (!(deadline_file >> ns)) continue;
        MonoTime deadline{std::chrono::nanoseconds(ns)};
        if (deadline <= clock.mono_now()) continue;  // its supervisor is stopping it
        if (!resume_until || deadline > *resume_until) resume_until = deadline;
      }
      if (is_container) {
        if (!docker->adopt(spec.task_id, container_id, sandbox)) continue;
      } else if (!executor->adopt(spec.task_id, pid, spec.mem)) {
        continue;
      }
      LocalTask task;
      task.docker = is_container;
      task.spec = spec;
      task.sandbox = sandbox;
      task.state = protocol::kTaskRunning;
      task.staged_at = meta.value("staged_at", "");
      task.started_at = meta.value("started_at", "");
      tasks[spec.task_id] = task;
      adopted.insert(spec.task_id);
      for (const auto& v : spec.volumes) datasets->acquire(v.dataset_id, spec.task_id);
      if (!spec.health_checks.empty()) {
        ProcessSpec ps;
        ps.sandbox_dir = sandbox;
        const char* path = std::getenv("PATH");
        ps.env = task_environment(spec, options.address, sandbox, path ? path : "/usr/bin:/bin");
        start_health_checks(spec, ps, container_id);
      }
    }
    if (resume_until) lease = lease::AgentLease::resumed(*resume_until, clock.mono_now());
    int stopped = kill_tasks_under(options.work_dir + "/sandboxes", adopted);
    if (docker && docker->connected()) {
      stopped += docker->remove_leftovers(std::vector<std::string>(adopted.begin(), adopted.end()));
    }
    spdlog::info("adopted {} task(s) of an earlier run of this agent; stopped {} other process(es)", adopted.size(),
                 stopped);
  }

  // Acts on what the lease says, in the order the lease asks: fence first, then renew.
  void apply_lease_update(const lease::LeaseUpdate& update) {
    if (update.fence) fence();
    if (update.granted || update.extended) {
      std::lock_guard<std::mutex> fencing(fence_mu);
      std::lock_guard<std::mutex> lock(mu);
      if (update.granted && fenced) {
        fenced = false;
        datasets->unfence();
        spdlog::info("lease granted again: datasets may be attached (at new epochs)");
      }
      auto deadline = lease.deadline();
      if (!deadline) return;
      for (const auto& [id, t] : tasks) {
        if (!t.spec.volumes.empty()) (void)write_deadline_file(t.sandbox + "/.berth-lease-deadline", *deadline);
      }
    }
  }

  // The lease ran out (docs/fencing.md §3): kill every task that writes an exclusive dataset (its
  // supervisor does so too, at the same deadline, even if this agent is stuck), then unmount
  // and detach every dataset. Other tasks keep running.
  void fence() {
    std::lock_guard<std::mutex> fencing(fence_mu);
    std::vector<std::string> victims;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (fenced) return;
      fenced = true;
      for (auto& [id, t] : tasks) {
        if (t.spec.volumes.empty()) continue;
        t.state = protocol::kTaskKilling;
        if (t.starting) {
          t.kill_pending = true;  // the launcher sees `fenced` and does not start it
          continue;
        }
        victims.push_back(id);
        if (t.docker) {
          (void)docker->kill(id, std::chrono::milliseconds(0));
        } else {
          (void)executor->kill(id, std::chrono::milliseconds(0));
        }
      }
    }
    spdlog::warn("lease expired without renewal: fenced {} task(s) with exclusive datasets", victims.size());
    // Detach only once they are dead: wait (bounded) for their exits.
    for (int i = 0; i < 200; ++i) {
      auto running = executor->running();
      if (docker) {
        for (auto& id : docker->running()) running.push_back(id);
      }
      bool any = false;
      for (const auto& id : victims) any = any || std::find(running.begin(), running.end(), id) != running.end();
      if (!any) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    datasets->fence();
  }

  // A task sees each dataset at its containerPath: bind-mounted in its own mount namespace
  // when the agent is root, otherwise linked into its sandbox; either way the real path is in
  // BERTH_VOLUME_<PATH> (e.g. BERTH_VOLUME_DATA for /data).
  // A dataset whose top directory still belongs to root is given to the task's user when a
  // task that is not root first uses it (as Mesos does with persistent volumes), so the task
  // can write it. Only the top directory: what root wrote inside stays root's.
  void give_to_task_user(const protocol::LaunchSpec& spec, const std::string& path) {
    if (::geteuid() != 0) return;
    auto user = resolve_task_user(spec.user, task_user_policy(), 0);
    if (!user || !user->switch_identity || user->uid == 0) return;  // the launch reports a bad user
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || st.st_uid != 0) return;
    if (::chown(path.c_str(), user->uid, user->gid) != 0) {
      spdlog::warn("task {}: cannot give dataset directory {} to user {}: {}", spec.task_id, path, user->name,
                   std::strerror(errno));
    } else {
      spdlog::info("task {}: dataset directory {} now belongs to user {}", spec.task_id, path, user->name);
    }
  }

  Status attach_volumes(const protocol::LaunchSpec& spec, const std::string& sandbox, ProcessSpec* ps) {
    std::error_code ec;
    std::filesystem::create_directories(sandbox, ec);
    for (const auto& v : spec.volumes) {
      auto path = datasets->usable_path(v.dataset_id);
      if (!path) return make_error(path.error().code, "cannot use dataset " + v.dataset_id + ": " + path.error().message);
      datasets->acquire(v.dataset_id, spec.task_id);
      give_to_task_user(spec, *path);
      std::string name;
      for (unsigned char c : v.container_path) {
        if (std::isalnum(c)) name.push_back(static_cast<char>(std::toupper(c)));
        else if (!name.empty() && name.back() != '_') name.push_back('_');
      }
      while (!name.empty() && name.back() == '_') name.pop_back();
      ps->env["BERTH_VOLUME_" + (name.empty() ? std::string("ROOT") : name)] = *path;
      bool absolute = !v.container_path.empty() && v.container_path[0] == '/';
      if (absolute && ::geteuid() == 0) {
        ps->bind_mounts.push_back({*path, v.container_path});
      } else {
        std::string relative = absolute ? v.container_path.substr(v.container_path.rfind('/') + 1) : v.container_path;
        std::filesystem::create_symlink(*path, sandbox + "/" + relative, ec);
        if (ec && ec != std::errc::file_exists) {
          return make_error(ErrorCode::kInternal, "cannot link dataset into the sandbox: " + ec.message());
        }
      }
    }
    return {};
  }

  // `container`: a DOCKER task's container id. Its COMMAND checks run inside it, as Mesos's
  // Docker executor runs them (docker exec); HTTP and TCP checks reach its host ports.
  void start_health_checks(const protocol::LaunchSpec& spec, const ProcessSpec& ps, const std::string& container = "") {
    auto checks_json = json::parse_or_discarded(spec.health_checks);
    auto specs = health::parse_health_checks(checks_json);
    if (!specs) {
      spdlog::warn("task {}: health checks not run: {}", spec.task_id, specs.error().message);
      return;
    }
    if (!container.empty()) {
      for (auto& check : *specs) {
        if (health::probe_kind(check) != health::ProbeKind::kCommand) continue;
        std::string quoted = "'";
        for (char c : check.command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        quoted += "'";
        check.command = "docker -H unix://" + options.docker_socket + " exec " + container + " /bin/sh -c " + quoted;
      }
    } else {
      // A process task's COMMAND checks run as its user, like the task itself.
      auto user = resolve_task_user(spec.user, task_user_policy(), ::geteuid());
      if (!user) {
        spdlog::warn("task {}: health checks not run: {}", spec.task_id, user.error().message);
        return;
      }
      for (auto& check : *specs) {
        if (health::probe_kind(check) == health::ProbeKind::kCommand) check.command = command_as_user(*user, check.command);
      }
    }
    health::HealthTask t;
    t.task_id = spec.task_id;
    t.host = options.address;
    t.ports = spec.ports;
    t.env = ps.env;
    t.sandbox_dir = ps.sandbox_dir;
    t.specs = *specs;
    t.started_at = clock.wall_now();
    Status registered = health->register_task(t);
    if (!registered) spdlog::warn("task {}: health checks not run: {}", spec.task_id, registered.error().message);
  }

  void on_health_change(const health::HealthChange& change) {
    std::lock_guard<std::mutex> lock(health_mu);
    health_changes.push_back(change);
  }

  // Turns health verdicts into status updates; kills tasks that failed too many checks.
  void report_health() {
    std::vector<health::HealthChange> changes;
    {
      std::lock_guard<std::mutex> lock(health_mu);
      changes.swap(health_changes);
    }
    for (const auto& change : changes) {
      std::string results = health->results_json(change.task_id, change.task_id).dump();
      std::lock_guard<std::mutex> lock(mu);
      auto it = tasks.find(change.task_id);
      if (it == tasks.end()) continue;
      protocol::StatusUpdate u;
      u.update_id = ids.uuid();
      u.task_id = change.task_id;
      u.app_id = it->second.spec.app_id;
      u.state = it->second.state;
      u.message = change.cause;
      u.timestamp = format_iso8601(clock.wall_now());
      u.health = change.healthy ? 1 : 0;
      u.health_results = results;
      pending.push_back(std::move(u));
      if (change.should_kill && it->second.state != protocol::kTaskKilling) {
        spdlog::info("task {} failed its health checks ({}): killing it", change.task_id, change.cause);
        if (!it->second.starting &&
            kill_task(it->second, change.task_id, std::chrono::milliseconds(it->second.spec.kill_grace_ms))) {
          it->second.state = protocol::kTaskKilling;
          it->second.health_killed = true;
        }
      }
    }
  }

  void release_volumes(const protocol::LaunchSpec& spec) {
    for (const auto& v : spec.volumes) datasets->release(v.dataset_id, spec.task_id);
  }

  void command_loop() {
    while (!stopping) {
      std::string id;
      uint64_t after;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait_for(lock, std::chrono::milliseconds(200), [&] { return registered || stopping; });
        if (!registered) continue;
        id = agent_id;
        after = last_seq;
      }
      auto res = http::request(options.master_url, "GET",
                               "/berth/v1/agents/" + id + "/commands?after=" + std::to_string(after) +
                                   "&wait_ms=2000",
                               "", 10000, master_headers());
      if (!res || res->status != 200) {
        if (res && (res->status == 404 || res->status == 401)) mark_unregistered();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      auto body = json::parse(res->body);
      protocol::CommandBatch batch;
      if (!body || !read_message(*body, &batch)) continue;
      for (const auto& command : batch.commands) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (id != agent_id || command.seq <= last_seq) continue;
        }
        execute(command);
        std::lock_guard<std::mutex> lock(mu);
        last_seq = std::max(last_seq, command.seq);
      }
    }
  }

  void reap() {
    std::vector<ProcessExit> exits = executor->poll_exits();
    if (docker) {
      for (auto& exit : docker->poll_exits()) exits.push_back(std::move(exit));
    }
    for (const auto& exit : exits) {
      std::lock_guard<std::mutex> lock(mu);
      auto it = tasks.find(exit.task_id);
      std::string app_id = it == tasks.end() ? "" : it->second.spec.app_id;
      bool health_killed = it != tasks.end() && it->second.health_killed;
      std::string state = health_killed                            ? protocol::kTaskFailed
                          : exit.killed_by_us                      ? protocol::kTaskKilled
                          : (!exit.signaled && exit.code == 0)     ? protocol::kTaskFinished
                                                                   : protocol::kTaskFailed;
      queue_status(exit.task_id, app_id, state,
                   health_killed ? "killed after failing its health checks; " + exit.message : exit.message);
      health->unregister_task(exit.task_id);
      if (it != tasks.end()) {
        if (!it->second.spec.volumes.empty()) {
          std::error_code ec;
          std::filesystem::remove(it->second.sandbox + "/.berth-lease-deadline", ec);
        }
        release_volumes(it->second.spec);
        tasks.erase(it);
      }
    }
  }

  // Converges datasets after every heartbeat answer (and at least every 2 s).
  void dataset_loop() {
    while (!stopping) {
      std::vector<protocol::DatasetAssignment> desired;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait_for(lock, std::chrono::seconds(2), [&] { return stopping || datasets_changed; });
        if (stopping) return;
        if (!registered) continue;
        datasets_changed = false;
        desired = desired_datasets;
      }
      auto before = datasets->report();
      datasets->converge(desired);
      auto after = datasets->report();
      bool changed = before.size() != after.size();
      for (size_t i = 0; !changed && i < before.size(); ++i) {
        changed = before[i].dataset_id != after[i].dataset_id || before[i].attached != after[i].attached ||
                  before[i].epoch != after[i].epoch;
      }
      if (changed) {
        heartbeat_now = true;
        wake.notify_all();
      }
    }
  }

  void status_loop() {
    while (!stopping) {
      reap();
      report_health();
      lease::LeaseUpdate tick;
      {
        std::lock_guard<std::mutex> lock(mu);
        tick = lease.tick(clock.mono_now());
      }
      if (tick.fence) fence();
      std::vector<protocol::StatusUpdate> batch;
      std::string id;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait_for(lock, std::chrono::milliseconds(50),
                      [&] { return stopping || (registered && !pending.empty()); });
        if (!registered || pending.empty()) continue;
        id = agent_id;
        for (const auto& u : pending) {
          batch.push_back(u);
          if (batch.size() >= 500) break;
        }
      }
      protocol::StatusBatch body{batch};
      auto res = http::request(options.master_url, "POST", "/berth/v1/agents/" + id + "/status",
                               nlohmann::json(body).dump(), 5000, master_headers());
      if (!res || res->status != 200) {
        if (res && (res->status == 404 || res->status == 401)) mark_unregistered();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      auto parsed = json::parse(res->body);
      protocol::StatusAck ack;
      if (!parsed || !read_message(*parsed, &ack)) continue;
      std::set<std::string> acked(ack.acked.begin(), ack.acked.end());
      std::lock_guard<std::mutex> lock(mu);
      std::deque<protocol::StatusUpdate> rest;
      for (auto& u : pending) {
        if (!acked.count(u.update_id)) rest.push_back(std::move(u));
      }
      pending.swap(rest);
    }
  }
};

Agent::Agent(AgentOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Agent::~Agent() = default;

void Agent::stop() {
  impl_->stopping = true;
  impl_->wake.notify_all();
}

Status Agent::run() {
  auto& o = impl_->options;
  std::error_code ec;
  o.work_dir = std::filesystem::absolute(o.work_dir, ec).lexically_normal().string();
  std::filesystem::create_directories(o.work_dir + "/sandboxes", ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "cannot create work directory " + o.work_dir + ": " + ec.message());
  if (o.hostname.empty()) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    o.hostname = name;
  }
  if (o.address.empty()) o.address = "127.0.0.1";
  {
    std::error_code exe_ec;
    impl_->self_exe = std::filesystem::read_symlink("/proc/self/exe", exe_ec).string();
  }
  if (o.cpus <= 0) o.cpus = std::max(1u, std::thread::hardware_concurrency());
  if (o.mem <= 0) o.mem = detect_mem_mib();
  if (o.disk <= 0) o.disk = detect_disk_mib(o.work_dir);
  {
    std::ifstream in(impl_->id_file());
    std::string previous;
    if (in >> previous) impl_->agent_id = previous;
  }
  ExecutorOptions eo;
  eo.memory_cgroup_root = o.memory_cgroup_root;
  eo.cgroup_prefix = "berth-" + o.hostname;
  eo.task_users = impl_->task_user_policy();
  impl_->executor = std::make_unique<ProcessExecutor>(eo);
  health::HealthCheckerOptions ho;
  // A restarted task is checked right away, not one interval later: a failover ends when the
  // replacement is known healthy.
  ho.first_check_after = std::chrono::milliseconds(200);
  impl_->health = std::make_unique<health::HealthChecker>(
      impl_->clock, [impl = impl_.get()](const health::HealthChange& c) { impl->on_health_change(c); }, ho);
  // A pool that is missing is probably a network filesystem that is not mounted: it is not
  // created (data would land on the local disk). Only the single-machine default is.
  if (o.dataset_pool.empty()) {
    o.dataset_pool = o.work_dir + "/pool";
    std::filesystem::create_directories(o.dataset_pool, ec);
  }
  std::map<std::string, std::unique_ptr<VolumeDriver>> drivers;
  drivers["shared"] = make_shared_driver(o.dataset_pool);
  drivers["loop"] = make_loop_driver(o.dataset_pool, o.work_dir + "/mounts");
  drivers["local"] = make_local_driver(o.work_dir + "/datasets");
  for (auto it = drivers.begin(); it != drivers.end();) {
    Status usable = it->second->available();
    if (!usable) {
      spdlog::warn("dataset driver {} is not available here: {}", it->first, usable.error().message);
      it = drivers.erase(it);
    } else {
      ++it;
    }
  }
  spdlog::info("datasets: pool {}", o.dataset_pool);
  DatasetTransferOptions transfer;
  transfer.join_token = o.join_token;
  impl_->dataset_transfer = std::make_unique<DatasetTransfer>(o.work_dir + "/datasets", transfer);
  impl_->datasets = std::make_unique<DatasetManager>(std::move(drivers), impl_->dataset_transfer.get());
  impl_->datasets->set_on_use_change([impl = impl_.get()] {
    impl->heartbeat_now = true;
    impl->wake.notify_all();
  });
  spdlog::info("agent {} on {}: cpus {} mem {:.0f} MiB disk {:.0f} MiB ports {}-{}", o.hostname,
               o.address, o.cpus, o.mem, o.disk, o.port_begin, o.port_end);
  spdlog::info("isolation: {}", impl_->executor->isolation_summary());
  spdlog::info("tasks (processes and containers) run as their app's user, else as {}; as root: {}",
               !o.default_task_user.empty() ? "'" + o.default_task_user + "'"
               : ::geteuid() == 0          ? std::string("'nobody'")
                                           : std::string("the agent's own user"),
               o.allow_root_tasks ? "allowed" : "refused (--allow-root-tasks allows it)");

  if (!o.plugin_socket.empty()) {
    // Docker finds the plugin by its socket's name.
    impl_->plugin_name = std::filesystem::path(o.plugin_socket).stem().string();
    impl_->volume_prefix = o.plugin_volume_prefix;
    impl_->plugin_backend =
        std::make_unique<DatasetPluginBackend>(o.master_url, *impl_->datasets, impl_->volume_prefix);
    auto server = http::serve_unix(o.plugin_socket, plugin::make_volume_plugin_handler(*impl_->plugin_backend));
    if (!server) {
      spdlog::warn("Docker volume plugin not served: {}", server.error().message);
      impl_->plugin_backend.reset();
    } else {
      impl_->plugin_server = std::move(*server);
      spdlog::info("Docker volume plugin at {}", o.plugin_socket);
    }
  }
  if (o.service_router) {
    proxy::ServiceRouterOptions ro;
    ro.share_ports = true;
    ro.hold_when_empty = std::chrono::seconds(15);  // longer than a failover: clients wait, not fail
    impl_->router = std::make_unique<proxy::ServiceRouter>(ro);
    Status started = impl_->router->start();
    if (!started) {
      spdlog::warn("service router not started: {}", started.error().message);
      impl_->router.reset();
    }
  }
  {
    DockerExecutorOptions dopt;
    dopt.socket_path = o.docker_socket;
    dopt.owner = container_owner(o.hostname, o.work_dir);
    impl_->docker = std::make_unique<DockerExecutor>(dopt);
    Status connected = impl_->docker->connect();
    if (!connected) spdlog::info("DOCKER apps cannot run here: {}", connected.error().message);
    spdlog::info("{}", impl_->docker->summary());
  }
  {
    http::ServerOptions so;
    so.host = o.address;
    so.port = static_cast<uint16_t>(o.http_port);
    so.tls_cert_file = o.tls_cert;
    so.tls_key_file = o.tls_key;
    auto server = http::serve(so, [impl = impl_.get()](const http::Request& r) { return impl->serve_http(r); });
    if (!server) {
      spdlog::warn("task logs not served: {}", server.error().message);
    } else {
      impl_->http_server = std::move(*server);
      spdlog::info("task logs at {}://{}:{}/berth/v1/tasks/ID/logs", o.tls_cert.empty() ? "http" : "https",
                   o.address, impl_->http_server->port());
    }
  }
  impl_->adopt_previous_tasks();
  std::vector<std::thread> launchers;
  for (int i = 0; i < 4; ++i) launchers.emplace_back([this] { impl_->launcher_loop(); });
  std::thread heartbeats([this] { impl_->heartbeat_loop(); });
  std::thread commands([this] { impl_->command_loop(); });
  std::thread statuses([this] { impl_->status_loop(); });
  std::thread dataset_thread([this] { impl_->dataset_loop(); });
  heartbeats.join();
  dataset_thread.join();
  commands.join();
  statuses.join();
  for (auto& t : launchers) t.join();
  if (impl_->http_server) impl_->http_server->stop();
  if (impl_->plugin_server) impl_->plugin_server->stop();
  impl_->health.reset();
  if (impl_->router) impl_->router->stop();
  spdlog::info("agent stopping: killing {} tasks", impl_->executor->running().size());
  impl_->executor->kill_all_now();
  impl_->docker->kill_all_now();
  return {};
}

}  // namespace berth::agent
