// The agent's wiring (docs/architecture.md §1): options and their defaults, the real parts, the
// start-up of its datasets, volume plugin, service router and HTTP port, its threads, and the
// dataset convergence loop. The jobs themselves live in master_session.cpp, task_runner.cpp,
// task_health.cpp, fencing.cpp, adoption.cpp and agent_http.cpp (agent/agent_internal.h).
#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/agent_internal.h"
#include "agent/http_master_link.h"
#include "base/check.h"
#include "executor/docker_executor.h"
#include "executor/process_executor.h"
#include "plugin/volume_plugin.h"

namespace berth::agent {

Result<std::map<std::string, std::string>> parse_attributes(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
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
    return make_error(
        ErrorCode::kInvalidArgument,
        "invalid port range '" + text + "': expected BEGIN-END within 1-65535, e.g. 31000-32000");
  }
  *begin = b;
  *end = e;
  return {};
}

namespace {

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

// The defaults that name this agent: an absolute work directory, the machine's host name and
// the loopback address. The real parts and run() both see the options this way.
void fill_identity(AgentOptions& o) {
  std::error_code ec;
  o.work_dir = std::filesystem::absolute(o.work_dir, ec).lexically_normal().string();
  if (o.hostname.empty()) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    o.hostname = name;
  }
  if (o.address.empty()) o.address = "127.0.0.1";
}

}  // namespace

AgentParts real_agent_parts(const AgentOptions& options) {
  AgentOptions o = options;
  fill_identity(o);
  AgentParts parts;
  parts.clock = std::make_shared<SystemClock>();
  parts.ids = std::make_shared<RandomIdSource>();
  HttpMasterLinkOptions link;
  link.master_url = o.master_url;
  parts.master = std::make_unique<HttpMasterLink>(link);
  ExecutorOptions eo;
  eo.memory_cgroup_root = o.memory_cgroup_root;
  eo.cgroup_prefix = "berth-" + o.hostname;
  eo.task_users = TaskUserPolicy{o.default_task_user, o.allow_root_tasks, o.hostname};
  eo.sandboxes_dir = o.work_dir + "/sandboxes";
  parts.executor = std::make_unique<ProcessExecutor>(eo);
  DockerExecutorOptions dopt;
  dopt.socket_path = o.docker_socket;
  dopt.owner = container_owner(o.hostname, o.work_dir);
  parts.docker = std::make_unique<DockerExecutor>(dopt);
  return parts;
}

Agent::Impl::Impl(AgentOptions o, AgentParts parts)
    : options(std::move(o)),
      clock(std::move(parts.clock)),
      ids(std::move(parts.ids)),
      master(std::move(parts.master)),
      executor(std::move(parts.executor)),
      docker(std::move(parts.docker)) {
  BERTH_CHECK(clock && ids && master && executor && docker);
}

// The dataset drivers that work here, the transfer of local datasets and the manager.
void Agent::Impl::start_datasets() {
  auto& o = options;
  std::error_code ec;
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
      spdlog::warn("dataset driver {} is not available here: {}", it->first,
                   usable.error().message);
      it = drivers.erase(it);
    } else {
      ++it;
    }
  }
  spdlog::info("datasets: pool {}", o.dataset_pool);
  DatasetTransferOptions transfer;
  transfer.join_token = o.join_token;
  dataset_transfer = std::make_unique<DatasetTransfer>(o.work_dir + "/datasets", transfer);
  datasets = std::make_unique<DatasetManager>(std::move(drivers), dataset_transfer.get());
  datasets->set_on_use_change([this] { request_heartbeat(); });
}

void Agent::Impl::log_start() {
  const auto& o = options;
  spdlog::info("agent {} on {}: cpus {} mem {:.0f} MiB disk {:.0f} MiB ports {}-{}", o.hostname,
               o.address, o.cpus, o.mem, o.disk, o.port_begin, o.port_end);
  spdlog::info("isolation: {}", executor->summary());
  spdlog::info("tasks (processes and containers) run as their app's user, else as {}; as root: {}",
               !o.default_task_user.empty() ? "'" + o.default_task_user + "'"
               : ::geteuid() == 0           ? std::string("'nobody'")
                                            : std::string("the agent's own user"),
               o.allow_root_tasks ? "allowed" : "refused (--allow-root-tasks allows it)");
}

void Agent::Impl::start_plugin() {
  const auto& o = options;
  if (o.plugin_socket.empty()) return;
  // Docker finds the plugin by its socket's name.
  plugin_name = std::filesystem::path(o.plugin_socket).stem().string();
  volume_prefix = o.plugin_volume_prefix;
  plugin_backend = std::make_unique<DatasetPluginBackend>(o.master_url, *datasets, volume_prefix);
  auto server =
      http::serve_unix(o.plugin_socket, plugin::make_volume_plugin_handler(*plugin_backend));
  if (!server) {
    spdlog::warn("Docker volume plugin not served: {}", server.error().message);
    plugin_backend.reset();
  } else {
    plugin_server = std::move(*server);
    spdlog::info("Docker volume plugin at {}", o.plugin_socket);
  }
}

void Agent::Impl::start_router() {
  if (!options.service_router) return;
  proxy::ServiceRouterOptions ro;
  ro.share_ports = true;
  ro.hold_when_empty = std::chrono::seconds(15);  // longer than a failover: clients wait, not fail
  router = std::make_unique<proxy::ServiceRouter>(ro);
  Status started = router->start();
  if (!started) {
    spdlog::warn("service router not started: {}", started.error().message);
    router.reset();
  }
}

void Agent::Impl::start_http() {
  const auto& o = options;
  http::ServerOptions so;
  so.host = o.address;
  so.port = static_cast<uint16_t>(o.http_port);
  so.tls_cert_file = o.tls_cert;
  so.tls_key_file = o.tls_key;
  auto server = http::serve(so, [this](const http::Request& r) { return serve_http(r); });
  if (!server) {
    spdlog::warn("task logs not served: {}", server.error().message);
  } else {
    http_server = std::move(*server);
    spdlog::info("task logs at {}://{}:{}/berth/v1/tasks/ID/logs",
                 o.tls_cert.empty() ? "http" : "https", o.address, http_server->port());
  }
}

// Converges datasets after every heartbeat answer (and at least every 2 s).
void Agent::Impl::dataset_loop() {
  auto refreshed = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  while (!stopping) {
    std::vector<protocol::DatasetAssignment> desired;
    uint64_t desired_from = 0;
    bool from_command = false;
    {
      std::unique_lock<std::mutex> lock(lease_mu);
      lease_wake.wait_for(lock, std::chrono::seconds(2),
                          [&] { return stopping || datasets_changed; });
      if (stopping) return;
      if (!session_registered) continue;
      datasets_changed = false;
      desired = desired_datasets;
      desired_from = desired_seq;
      from_command = desired_from_command;
    }
    // The volume plugin's names of datasets, from the master, about once a second: a call that
    // may wait for the master's state lock, so here rather than on the heartbeat thread
    // (docs/fencing.md §9).
    if (plugin_backend && std::chrono::steady_clock::now() - refreshed >= std::chrono::seconds(1)) {
      plugin_backend->refresh();
      refreshed = std::chrono::steady_clock::now();
    }
    auto before = datasets->report();
    datasets->converge(desired);
    {
      std::lock_guard<std::mutex> lock(lease_mu);
      applied_seq = std::max(applied_seq, desired_from);
    }
    auto after = datasets->report();
    bool changed = before.size() != after.size();
    for (size_t i = 0; !changed && i < before.size(); ++i) {
      changed = before[i].dataset_id != after[i].dataset_id ||
                before[i].attached != after[i].attached || before[i].epoch != after[i].epoch;
    }
    // A "datasets" command grants nothing: what it lists that is not attached here is granted
    // by the answer to a heartbeat sent now (docs/fencing.md §4).
    if (from_command && !changed) {
      std::set<std::string> attached;
      for (const auto& r : after) {
        if (r.attached) attached.insert(r.dataset_id);
      }
      for (const auto& a : desired) {
        if (!a.destroy && !attached.count(a.dataset_id)) changed = true;
      }
    }
    if (changed) request_heartbeat();
  }
}

// Runs the agent's loops until stop().
void Agent::Impl::run_threads() {
  std::vector<std::thread> launchers;
  for (int i = 0; i < 4; ++i) launchers.emplace_back([this] { launcher_loop(); });
  std::thread heartbeats([this] { heartbeat_loop(); });
  std::thread commands([this] { command_loop(); });
  std::thread statuses([this] { status_loop(); });
  std::thread dataset_thread([this] { dataset_loop(); });
  heartbeats.join();
  dataset_thread.join();
  commands.join();
  statuses.join();
  for (auto& t : launchers) t.join();
}

// Stops serving and leaves every task running, as a crash would, for the agent's next start to
// adopt (docs/fencing.md §6): restarting an agent, to upgrade it, disturbs no task. Tasks with
// datasets keep to their supervisors' leases meanwhile. Stopped with kill_tasks_on_stop
// (SIGUSR1), it kills them instead.
void Agent::Impl::shut_down() {
  if (http_server) http_server->stop();
  if (plugin_server) plugin_server->stop();
  health.reset();
  readiness.reset();
  if (router) router->stop();
  const size_t tasks = executor->running().size() + docker->running().size();
  if (kill_tasks_on_stop) {
    spdlog::info("agent stopping: killing {} tasks", tasks);
    executor->kill_all_now();
    docker->kill_all_now();
    return;
  }
  spdlog::info("agent stopping: leaving {} tasks running for its next start to adopt", tasks);
  executor->leave_all();
  docker->leave_all();
}

Agent::Agent(AgentOptions options, AgentParts parts)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(parts))) {}
Agent::~Agent() = default;

void Agent::stop(bool kill_tasks) {
  impl_->kill_tasks_on_stop = kill_tasks;
  impl_->stopping = true;
  impl_->wake.notify_all();
  std::lock_guard<std::mutex> lock(impl_->lease_mu);
  impl_->lease_wake.notify_all();
}

Status Agent::run() {
  auto& o = impl_->options;
  fill_identity(o);
  std::error_code ec;
  std::filesystem::create_directories(o.work_dir + "/sandboxes", ec);
  if (ec)
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot create work directory " + o.work_dir + ": " + ec.message());
  impl_->self_exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (o.cpus <= 0) o.cpus = std::max(1u, std::thread::hardware_concurrency());
  if (o.mem <= 0) o.mem = detect_mem_mib();
  if (o.disk <= 0) o.disk = detect_disk_mib(o.work_dir);
  {
    std::ifstream in(impl_->id_file());
    std::string previous;
    if (in >> previous) impl_->agent_id = previous;
  }
  health::HealthCheckerOptions ho;
  // A restarted task is checked right away, not one interval later: a failover ends when the
  // replacement is known healthy.
  ho.first_check_after = std::chrono::milliseconds(200);
  impl_->health = std::make_unique<health::HealthChecker>(
      *impl_->clock,
      [impl = impl_.get()](const health::HealthChange& c) { impl->on_health_change(c); }, ho);
  impl_->readiness = std::make_unique<health::HealthChecker>(
      *impl_->clock,
      [impl = impl_.get()](const health::HealthChange& c) { impl->on_readiness_change(c); }, ho);
  impl_->start_datasets();
  impl_->log_start();
  impl_->start_plugin();
  impl_->start_router();
  Status connected = impl_->docker->open();
  if (!connected) spdlog::info("DOCKER apps cannot run here: {}", connected.error().message);
  spdlog::info("{}", impl_->docker->summary());
  impl_->start_http();
  impl_->adopt_previous_tasks();
  impl_->run_threads();
  impl_->shut_down();
  return {};
}

}  // namespace berth::agent
