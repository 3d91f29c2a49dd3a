// The agent's tasks (docs/architecture.md §7): launches as processes or Docker containers with
// their datasets, kills, and exits turned into status updates. Container launches are done by
// launcher threads, since Docker takes about half a second to start one.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/agent_internal.h"
#include "agent/supervisor.h"
#include "agent/task_env.h"

namespace berth::agent {

Status Agent::Impl::kill_task(const LocalTask& task, const std::string& task_id,
                              std::chrono::milliseconds grace) {
  if (task.docker) return docker->kill(task_id, grace);
  return executor->kill(task_id, grace);
}

// What the process executor needs to run (or health-check) a task of `spec` in `sandbox`.
ProcessSpec Agent::Impl::process_spec(const protocol::LaunchSpec& spec,
                                      const std::string& sandbox) {
  ProcessSpec ps;
  ps.task_id = spec.task_id;
  ps.sandbox_dir = sandbox;
  ps.cmd = spec.cmd;
  ps.args = spec.args;
  const char* path = std::getenv("PATH");
  ps.env = task_environment(spec, options.address, sandbox, path ? path : "/usr/bin:/bin");
  ps.mem_mib = spec.mem;
  ps.user = spec.user;
  return ps;
}

// No lease, no exclusive data: a fenced node starts nothing that writes a dataset. Writes the
// lease deadline for the task's supervisor; false (and TASK_FAILED queued) when it cannot.
// Called with `mu` held, for tasks with datasets.
bool Agent::Impl::hold_lease_for(const protocol::LaunchSpec& spec, const std::string& sandbox) {
  std::optional<MonoTime> deadline;
  bool expired;
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    deadline = lease.deadline();
    expired = lease.expired(clock->mono_now());
    if (!fenced && !expired) lease_sandboxes.insert(sandbox);
  }
  if (fenced || !deadline || expired) {
    queue_status(spec.task_id, spec.app_id, protocol::TaskState::kFailed,
                 "this node holds no lease: not starting a task with datasets");
    return false;
  }
  std::error_code dir_ec;
  std::filesystem::create_directories(sandbox, dir_ec);
  Status written = write_deadline_file(sandbox + "/.berth-lease-deadline", *deadline);
  if (!written) {
    queue_status(spec.task_id, spec.app_id, protocol::TaskState::kFailed, written.error().message);
    return false;
  }
  return true;
}

// Called with `mu` held.
void Agent::Impl::launch(const protocol::LaunchSpec& spec) {
  if (tasks.count(spec.task_id)) return;  // idempotent
  std::string sandbox = options.work_dir + "/sandboxes/" + spec.task_id;
  LocalTask task;
  task.spec = spec;
  task.staged_at = format_iso8601(clock->wall_now());
  ProcessSpec ps = process_spec(spec, sandbox);
  if (!spec.volumes.empty() && !hold_lease_for(spec, sandbox)) return;
  if (spec.container) {
    launch_container(spec, sandbox, std::move(task));
    return;
  }
  Status volumes = attach_volumes(spec, sandbox, &ps);
  if (!volumes) {
    release_volumes(spec);
    queue_status(spec.task_id, spec.app_id, protocol::TaskState::kFailed, volumes.error().message);
    return;
  }
  auto started = executor->launch(ps);
  if (!started) {
    release_volumes(spec);
    queue_status(spec.task_id, spec.app_id, protocol::TaskState::kFailed, started.error().message);
    return;
  }
  task.state = protocol::TaskState::kRunning;
  task.started_at = format_iso8601(clock->wall_now());
  task.sandbox = sandbox;
  if (!spec.volumes.empty()) {
    std::string cgroup = options.memory_cgroup_root + "/berth-" + options.hostname + "/" +
                         spec.task_id + "/cgroup.procs";
    if (::access(cgroup.c_str(), R_OK) != 0) cgroup.clear();
    Status supervised =
        start_supervisor(self_exe, started->pid, sandbox + "/.berth-lease-deadline", cgroup);
    if (!supervised) spdlog::error("task {}: {}", spec.task_id, supervised.error().message);
  }
  tasks[spec.task_id] = task;
  write_task_meta(task, started->pid, "");
  queue_status(spec.task_id, spec.app_id, protocol::TaskState::kRunning, "");
  if (!spec.health_checks.empty()) start_health_checks(spec, ps);
  if (!spec.readiness_checks.empty()) start_readiness_checks(spec);
}

// The container of a DOCKER task, as docker_create_body takes it; fails for a user the policy
// refuses.
Result<DockerTaskSpec> Agent::Impl::docker_task_spec(const protocol::LaunchSpec& spec,
                                                     const std::string& sandbox) {
  DockerTaskSpec ds;
  ds.task_id = spec.task_id;
  ds.container = *spec.container;
  ds.networks = spec.networks;
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
  if (!user) return user.error();
  ds.user = *user;
  ds.allow_root = options.allow_root_tasks;
  ds.host_ports = spec.ports;
  ds.volume_driver = plugin_name.empty() ? "berth" : plugin_name;
  ds.volume_prefix = volume_prefix;
  if (spec.container->docker) ds.env["MARATHON_APP_DOCKER_IMAGE"] = spec.container->docker->image;
  ds.bind_mounts.push_back({sandbox, kContainerSandbox});
  return ds;
}

// A DOCKER task (docs/architecture.md §7): its datasets are checked and held here, its create
// body built, and a launcher thread creates and starts the container. Called with `mu` held.
void Agent::Impl::launch_container(const protocol::LaunchSpec& spec, const std::string& sandbox,
                                   LocalTask task) {
  auto fail = [&](const std::string& message) {
    release_volumes(spec);
    std::error_code ec;
    std::filesystem::remove(sandbox + "/.berth-lease-deadline", ec);
    queue_status(spec.task_id, spec.app_id, protocol::TaskState::kFailed, message);
  };
  auto ds = docker_task_spec(spec, sandbox);
  if (!ds) return fail(ds.error().message);
  // Datasets the plugin does not serve (Marathon's local persistent volumes) are bind-mounted.
  std::set<std::string> persistent_paths;
  for (const auto& volume : spec.container->volumes) {
    if (volume.persistent) persistent_paths.insert(volume.container_path);
  }
  std::error_code ec;
  std::filesystem::create_directories(sandbox, ec);
  for (const auto& v : spec.volumes) {
    auto path = datasets->usable_path(v.dataset_id);
    if (!path) return fail("cannot use dataset " + v.dataset_id + ": " + path.error().message);
    datasets->acquire(v.dataset_id, spec.task_id);
    if (persistent_paths.count(v.container_path))
      ds->bind_mounts.push_back({*path, v.container_path});
  }
  auto body = docker_create_body(*ds);
  if (!body) return fail(body.error().message);
  if (!body->plugin_volumes.empty() && !plugin_server) {
    return fail(
        "this agent serves no Docker volume plugin (start it with --plugin-socket): cannot mount " +
        body->plugin_volumes.front());
  }
  task.docker = true;
  task.starting = true;
  task.sandbox = sandbox;
  task.state = protocol::TaskState::kStarting;
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
void Agent::Impl::launcher_loop() {
  while (true) {
    std::string task_id, body, sandbox;
    if (!take_container_launch(&task_id, &body, &sandbox)) return;
    if (task_id.empty()) continue;
    // Docker may have started after the agent: try again before giving up on the task.
    if (!docker->ready()) (void)docker->open();
    auto started = docker->launch(DockerLaunch{task_id, sandbox, body});
    on_container_started(task_id, sandbox, started);
  }
}

// Waits for the next container launch. False when the agent stops; an empty task id when the
// launch was dropped (killed or fenced before it started, reported here).
bool Agent::Impl::take_container_launch(std::string* task_id, std::string* body,
                                        std::string* sandbox) {
  std::unique_lock<std::mutex> lock(mu);
  wake.wait(lock, [&] { return stopping || !docker_launches.empty(); });
  if (stopping) return false;
  std::string id = docker_launches.front();
  docker_launches.pop_front();
  *body = docker_bodies[id];
  docker_bodies.erase(id);
  auto it = tasks.find(id);
  if (it == tasks.end()) return true;
  if (it->second.kill_pending || (!it->second.spec.volumes.empty() && fenced)) {
    std::string message = it->second.kill_pending
                              ? "killed before its container started"
                              : "this node lost its lease before the container started";
    release_volumes(it->second.spec);
    queue_status(
        id, it->second.spec.app_id,
        it->second.kill_pending ? protocol::TaskState::kKilled : protocol::TaskState::kFailed,
        message);
    docker_warnings.erase(id);
    tasks.erase(it);
    return true;
  }
  *sandbox = it->second.sandbox;
  *task_id = id;
  return true;
}

void Agent::Impl::on_container_started(const std::string& task_id, const std::string& sandbox,
                                       const Result<TaskStarted>& started) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = tasks.find(task_id);
  std::string warnings = docker_warnings[task_id];
  docker_warnings.erase(task_id);
  if (it == tasks.end()) return;
  LocalTask& task = it->second;
  if (!started) {
    release_volumes(task.spec);
    std::error_code ec;
    std::filesystem::remove(sandbox + "/.berth-lease-deadline", ec);
    queue_status(task_id, task.spec.app_id, protocol::TaskState::kFailed,
                 "docker: " + started.error().message);
    tasks.erase(it);
    return;
  }
  task.starting = false;
  task.state = protocol::TaskState::kRunning;
  task.started_at = format_iso8601(clock->wall_now());
  if (!task.spec.volumes.empty() && started->pid > 0) {
    std::string cgroup =
        options.memory_cgroup_root + "/docker/" + started->container_id + "/cgroup.procs";
    if (::access(cgroup.c_str(), R_OK) != 0) cgroup.clear();
    Status supervised =
        start_supervisor(self_exe, started->pid, sandbox + "/.berth-lease-deadline", cgroup);
    if (!supervised) spdlog::error("task {}: {}", task_id, supervised.error().message);
  }
  write_task_meta(task, started->pid, started->container_id);
  queue_status(task_id, task.spec.app_id, protocol::TaskState::kRunning, warnings);
  if (!task.spec.health_checks.empty()) {
    start_health_checks(task.spec, process_spec(task.spec, sandbox), started->container_id);
  }
  if (!task.spec.readiness_checks.empty()) start_readiness_checks(task.spec);
  if (task.kill_pending || (!task.spec.volumes.empty() && fenced)) {
    (void)docker->kill(task_id,
                       std::chrono::milliseconds(task.kill_pending ? task.kill_grace_ms : 0));
    task.state = protocol::TaskState::kKilling;
  }
}

// A task sees each dataset at its containerPath: bind-mounted in its own mount namespace
// when the agent is root, otherwise linked into its sandbox; either way the real path is in
// BERTH_VOLUME_<PATH> (e.g. BERTH_VOLUME_DATA for /data).
// A dataset whose top directory still belongs to root is given to the task's user when a
// task that is not root first uses it (as Mesos does with persistent volumes), so the task
// can write it. Only the top directory: what root wrote inside stays root's.
void Agent::Impl::give_to_task_user(const protocol::LaunchSpec& spec, const std::string& path) {
  if (::geteuid() != 0) return;
  auto user = resolve_task_user(spec.user, task_user_policy(), 0);
  if (!user || !user->switch_identity || user->uid == 0) return;  // the launch reports a bad user
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_uid != 0) return;
  if (::chown(path.c_str(), user->uid, user->gid) != 0) {
    spdlog::warn("task {}: cannot give dataset directory {} to user {}: {}", spec.task_id, path,
                 user->name, std::strerror(errno));
  } else {
    spdlog::info("task {}: dataset directory {} now belongs to user {}", spec.task_id, path,
                 user->name);
  }
}

Status Agent::Impl::attach_volumes(const protocol::LaunchSpec& spec, const std::string& sandbox,
                                   ProcessSpec* ps) {
  std::error_code ec;
  std::filesystem::create_directories(sandbox, ec);
  for (const auto& v : spec.volumes) {
    auto path = datasets->usable_path(v.dataset_id);
    if (!path)
      return make_error(path.error().code,
                        "cannot use dataset " + v.dataset_id + ": " + path.error().message);
    datasets->acquire(v.dataset_id, spec.task_id);
    give_to_task_user(spec, *path);
    std::string name;
    for (unsigned char c : v.container_path) {
      if (std::isalnum(c))
        name.push_back(static_cast<char>(std::toupper(c)));
      else if (!name.empty() && name.back() != '_')
        name.push_back('_');
    }
    while (!name.empty() && name.back() == '_') name.pop_back();
    ps->env["BERTH_VOLUME_" + (name.empty() ? std::string("ROOT") : name)] = *path;
    bool absolute = !v.container_path.empty() && v.container_path[0] == '/';
    if (absolute && ::geteuid() == 0) {
      ps->bind_mounts.push_back({*path, v.container_path});
    } else {
      std::string relative =
          absolute ? v.container_path.substr(v.container_path.rfind('/') + 1) : v.container_path;
      std::filesystem::create_symlink(*path, sandbox + "/" + relative, ec);
      if (ec && ec != std::errc::file_exists) {
        return make_error(ErrorCode::kInternal,
                          "cannot link dataset into the sandbox: " + ec.message());
      }
    }
  }
  return {};
}

void Agent::Impl::release_volumes(const protocol::LaunchSpec& spec) {
  for (const auto& v : spec.volumes) datasets->release(v.dataset_id, spec.task_id);
}

// Turns the executors' exits into terminal status updates and frees what the tasks held.
void Agent::Impl::reap() {
  std::vector<TaskExit> exits = executor->poll_exits();
  if (docker) {
    for (auto& exit : docker->poll_exits()) exits.push_back(std::move(exit));
  }
  for (const auto& exit : exits) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = tasks.find(exit.task_id);
    std::string app_id = it == tasks.end() ? "" : it->second.spec.app_id;
    bool health_killed = it != tasks.end() && it->second.health_killed;
    protocol::TaskState state = health_killed       ? protocol::TaskState::kFailed
                                : exit.killed_by_us ? protocol::TaskState::kKilled
                                : (!exit.signaled && exit.code == 0)
                                    ? protocol::TaskState::kFinished
                                    : protocol::TaskState::kFailed;
    queue_status(
        exit.task_id, app_id, state,
        health_killed ? "killed after failing its health checks; " + exit.message : exit.message);
    health->unregister_task(exit.task_id);
    readiness->unregister_task(exit.task_id);
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

}  // namespace berth::agent
