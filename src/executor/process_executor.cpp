#include "executor/process_executor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "executor/leftovers.h"
#include "executor/memory_cgroup.h"
#include "executor/spawn.h"

namespace berth {
namespace {

constexpr size_t kMaxTaskIdLength = 200;
constexpr auto kKillAllWait = std::chrono::seconds(5);
constexpr auto kCgroupRemovalWait = std::chrono::seconds(1);
constexpr auto kReapInterval = std::chrono::milliseconds(5);
// execvp()'s search path when the environment has no PATH (confstr(_CS_PATH) on glibc).
constexpr const char* kDefaultPath = "/bin:/usr/bin";

// Quotes a user-supplied value for an error message, cut short if it is huge.
std::string quoted(const std::string& value) {
  constexpr size_t kShown = 220;
  if (value.size() <= kShown) return "'" + value + "'";
  return "'" + value.substr(0, kShown) + "...' (" + std::to_string(value.size()) + " characters)";
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxTaskIdLength || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

Status invalid(const std::string& task_id, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "task " + quoted(task_id) + ": " + what);
}

// Everything wrong with the spec that does not need the machine to find out.
Status validate(const ProcessSpec& spec) {
  if (!valid_name(spec.task_id)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid task id " + quoted(spec.task_id) +
                          ": use 1 to 200 characters of A-Z a-z 0-9 . _ - (not '.' or '..')");
  }
  if (spec.sandbox_dir.empty() || has_nul(spec.sandbox_dir)) {
    return invalid(spec.task_id, "sandbox_dir must be a non-empty path without NUL bytes");
  }
  if (spec.cmd) {
    if (spec.cmd->empty() || has_nul(*spec.cmd)) {
      return invalid(spec.task_id, "cmd must be non-empty and free of NUL bytes");
    }
  } else {
    if (spec.args.empty() || spec.args[0].empty()) {
      return invalid(spec.task_id, "has neither cmd nor args; give one of them");
    }
    for (const std::string& arg : spec.args) {
      if (has_nul(arg)) return invalid(spec.task_id, "args contain a NUL byte");
    }
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name) || has_nul(value)) {
      return invalid(spec.task_id, "invalid environment variable name " + quoted(name) +
                                       " (it must be non-empty, without '=' or NUL)");
    }
  }
  if (!std::isfinite(spec.mem_mib) || spec.mem_mib < 0) {
    std::ostringstream mem;
    mem << spec.mem_mib;
    return invalid(spec.task_id,
                   "mem must be 0 (no limit) or a positive number of MiB, not " + mem.str());
  }
  return {};
}

// The paths execve() tries for args[0], as execvp() would find it in the task's PATH.
std::vector<std::string> exec_candidates(const std::string& program, const std::string& path) {
  if (program.find('/') != std::string::npos) return {program};
  std::vector<std::string> candidates;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? end : end - start);
    candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return candidates;
}

// Lets a task running as `user` write its sandbox, which stays the agent's: the user's group
// may create files, and the sticky bit keeps it from removing or renaming the agent's files.
// Nothing changes for a task that runs as the agent's own user or as root.
Status share_sandbox(const std::string& sandbox, const TaskUser& user) {
  if (!user.switch_identity || user.uid == ::geteuid()) return {};
  if (::chown(sandbox.c_str(), static_cast<uid_t>(-1), user.gid) < 0 ||
      ::chmod(sandbox.c_str(), S_ISVTX | 0770) < 0) {
    return make_error(ErrorCode::kInternal, "cannot give sandbox " + sandbox + " to user " +
                                                quoted(user.name) + ": " + std::strerror(errno));
  }
  return {};
}

// Creates the task's sandbox directory and lets `user` write it; returns its absolute path.
Result<std::string> prepare_sandbox(const ProcessSpec& spec, const TaskUser& user) {
  std::error_code ec;
  std::filesystem::create_directories(spec.sandbox_dir, ec);
  std::filesystem::path sandbox = std::filesystem::absolute(spec.sandbox_dir, ec);
  if (ec || !std::filesystem::is_directory(sandbox, ec)) {
    return make_error(ErrorCode::kInternal,
                      "task " + quoted(spec.task_id) + ": cannot create sandbox directory " +
                          spec.sandbox_dir + ": " + (ec ? ec.message() : "not a directory"));
  }
  if (Status shared = share_sandbox(sandbox.string(), user); !shared) {
    return make_error(shared.error().code,
                      "task " + quoted(spec.task_id) + ": " + shared.error().message);
  }
  return sandbox.string();
}

// What the child execs, in `sandbox` as `user`: `sh -c cmd`, or args as execvp() would run
// them. The cgroup is the caller's to add.
SpawnRequest spawn_request(const ProcessSpec& spec, const std::string& sandbox,
                           const TaskUser& user) {
  SpawnRequest request;
  request.sandbox_dir = sandbox;
  request.user = user;
  for (const auto& [name, value] : spec.env) request.envp.push_back(name + "=" + value);
  if (spec.cmd) {
    request.argv = {"sh", "-c", *spec.cmd};
    request.exec_candidates = {"/bin/sh"};
    request.program_description = "/bin/sh";
  } else {
    auto path_var = spec.env.find("PATH");
    std::string path = path_var != spec.env.end() ? path_var->second : kDefaultPath;
    request.argv = spec.args;
    request.exec_candidates = exec_candidates(spec.args[0], path);
    request.program_description = quoted(spec.args[0]);
    if (spec.args[0].find('/') == std::string::npos) {
      request.program_description += " (looked in PATH=" + path + ")";
    }
    request.program_from_spec = true;
  }
  request.bind_mounts = spec.bind_mounts;
  return request;
}

// A task's memory cgroup: its directory, and its cgroup.procs open for the child to join.
struct TaskCgroup {
  std::string path;  // empty when memory limits are not enforced
  int procs_fd = -1;
};

// Whether `pid` is a process that has not ended. A zombie has ended: an adopted task's parent
// (init, or an earlier agent's process) may be slow to reap it.
bool process_runs(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

}  // namespace

struct ProcessExecutor::State {
  struct Task {
    std::string task_id;
    std::string sandbox_dir;
    int pid = 0;
    std::string cgroup;  // empty when the task has no memory cgroup
    double mem_mib = 0;
    bool killed_by_us = false;
    bool adopted = false;                // started by an earlier agent: not our child
    std::optional<MonoTime> sigkill_at;  // a due SIGKILL, from kill()
  };

  ExecutorOptions options;
  SystemClock system_clock;
  const Clock* clock = nullptr;
  std::string cgroup_dir;  // <root>/<prefix> when memory limits are enforced
  std::string summary;

  mutable std::mutex mu;
  std::map<std::string, Task> tasks;           // guarded by mu
  std::vector<TaskExit> reaped;                // guarded by mu: exits not yet returned
  std::vector<std::string> cgroups_to_remove;  // guarded by mu: still busy at the last try

  // The whole tree: the process group, then the cgroup members outside it.
  void signal_tree(const Task& task, int sig) const {
    ::kill(-task.pid, sig);
    if (!task.cgroup.empty()) signal_memory_cgroup(task.cgroup, sig, task.pid);
  }

  // SIGKILLs what is left in the cgroup and removes it, now or at a later retry.
  void remove_cgroup(const std::string& cgroup) {
    signal_memory_cgroup(cgroup, SIGKILL, 0);
    if (!remove_memory_cgroup(cgroup) &&
        std::find(cgroups_to_remove.begin(), cgroups_to_remove.end(), cgroup) ==
            cgroups_to_remove.end()) {
      cgroups_to_remove.push_back(cgroup);
    }
  }

  // The memory cgroup of a task about to start, with the task's limit; none (an empty path)
  // when memory limits are not enforced.
  Result<TaskCgroup> create_task_cgroup(const ProcessSpec& spec) {
    TaskCgroup cgroup;
    if (cgroup_dir.empty()) return cgroup;
    // Another executor sharing the prefix may have removed the parent when it was empty.
    ::mkdir(cgroup_dir.c_str(), 0755);
    cgroup.path = cgroup_dir + "/" + spec.task_id;
    std::erase(cgroups_to_remove, cgroup.path);
    auto limit_bytes = static_cast<std::uint64_t>(std::ceil(spec.mem_mib * 1024 * 1024));
    if (Status created = create_memory_cgroup(cgroup.path, limit_bytes); !created) {
      return make_error(created.error().code,
                        "task " + quoted(spec.task_id) + ": " + created.error().message);
    }
    cgroup.procs_fd = ::open((cgroup.path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (cgroup.procs_fd < 0) {
      std::string reason = std::strerror(errno);
      remove_memory_cgroup(cgroup.path);
      return make_error(ErrorCode::kInternal, "task " + quoted(spec.task_id) + ": cannot open " +
                                                  cgroup.path + "/cgroup.procs: " + reason);
    }
    return cgroup;
  }

  void retry_cgroup_removal() {
    std::erase_if(cgroups_to_remove, [](const std::string& cgroup) {
      signal_memory_cgroup(cgroup, SIGKILL, 0);
      return remove_memory_cgroup(cgroup);
    });
  }

  void send_due_sigkills() {
    MonoTime now = clock->mono_now();
    for (auto& [id, task] : tasks) {
      if (task.sigkill_at && *task.sigkill_at <= now) {
        signal_tree(task, SIGKILL);
        task.sigkill_at.reset();
      }
    }
  }

  // Moves every task whose main process has exited into `reaped`.
  void reap_exited() {
    for (auto it = tasks.begin(); it != tasks.end();) {
      Task& task = it->second;
      if (task.adopted) {
        if (process_runs(task.pid)) {
          ++it;
          continue;
        }
        TaskExit exit;
        exit.task_id = task.task_id;
        exit.pid = task.pid;
        exit.killed_by_us = task.killed_by_us;
        exit.code = -1;
        exit.message = "ended; its exit status is unknown (adopted after an agent restart)";
        if (!task.cgroup.empty()) remove_cgroup(task.cgroup);
        reaped.push_back(std::move(exit));
        it = tasks.erase(it);
        continue;
      }
      siginfo_t info;
      std::memset(&info, 0, sizeof info);
      // WNOWAIT leaves the zombie in place, and with it the process group id, so the leftovers
      // of the group can be killed without the pid having been reused.
      int rc = ::waitid(P_PID, task.pid, &info, WEXITED | WNOHANG | WNOWAIT);
      if (rc == 0 && info.si_pid == 0) {
        ++it;
        continue;
      }
      TaskExit exit;
      exit.task_id = task.task_id;
      exit.pid = task.pid;
      exit.killed_by_us = task.killed_by_us;
      if (rc == 0) {
        signal_tree(task, SIGKILL);
        int status = 0;
        while (::waitpid(task.pid, &status, 0) < 0 && errno == EINTR) {
        }
        exit.signaled = WIFSIGNALED(status);
        exit.code = exit.signaled ? WTERMSIG(status) : WEXITSTATUS(status);
      } else {
        // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, or a waitpid(-1) elsewhere
        // in the agent). The task is gone but how it ended is lost.
        exit.code = -1;
      }
      if (!task.cgroup.empty()) {
        std::optional<std::uint64_t> oom_kills = read_oom_kill_count(task.cgroup);
        exit.oom_killed = oom_kills && *oom_kills > 0;
        remove_cgroup(task.cgroup);
      }
      exit.message = rc == 0
                         ? describe_exit(exit.signaled, exit.code, exit.oom_killed, task.mem_mib)
                         : "exit status unknown: the process was reaped outside the executor";
      reaped.push_back(std::move(exit));
      it = tasks.erase(it);
    }
  }
};

ProcessExecutor::ProcessExecutor(ExecutorOptions options) : state_(std::make_unique<State>()) {
  state_->clock = &state_->system_clock;
  state_->options = std::move(options);
  const ExecutorOptions& opts = state_->options;
  std::string reason;
  if (!valid_name(opts.cgroup_prefix)) {
    reason = "cgroup_prefix " + quoted(opts.cgroup_prefix) + " is not a valid cgroup name";
  } else {
    MemoryCgroupProbe probe = probe_memory_cgroups(opts.memory_cgroup_root, opts.cgroup_prefix);
    state_->cgroup_dir = probe.dir;
    reason = probe.reason;
  }
  state_->summary = state_->cgroup_dir.empty()
                        ? "memory limits: not enforced (" + reason + ")"
                        : "memory limits: cgroup v1 at " + state_->cgroup_dir;
}

ProcessExecutor::ProcessExecutor(ExecutorOptions options, const Clock& clock)
    : ProcessExecutor(std::move(options)) {
  state_->clock = &clock;
}

ProcessExecutor::~ProcessExecutor() {
  kill_all_now();
  std::lock_guard lock(state_->mu);
  auto deadline = std::chrono::steady_clock::now() + kCgroupRemovalWait;
  for (;;) {
    state_->retry_cgroup_removal();
    if (state_->cgroups_to_remove.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kReapInterval);
  }
  // Other executors may share the prefix; rmdir fails harmlessly while they have tasks.
  if (!state_->cgroup_dir.empty()) remove_memory_cgroup(state_->cgroup_dir);
}

std::string ProcessExecutor::isolation_summary() const { return state_->summary; }

bool ProcessExecutor::memory_limits_enforced() const { return !state_->cgroup_dir.empty(); }

Result<TaskStarted> ProcessExecutor::launch(const TaskLaunch& launch) {
  const ProcessSpec* spec = std::get_if<ProcessSpec>(&launch);
  if (spec == nullptr) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "task " + quoted(task_id_of(launch)) + ": this executor runs processes, not containers");
  }
  Result<int> pid = launch_process(*spec);
  if (!pid) return pid.error();
  return TaskStarted{*pid, ""};
}

Result<int> ProcessExecutor::launch_process(const ProcessSpec& spec) {
  if (Status valid = validate(spec); !valid) return valid.error();
  // Before the lock: the user database may be slow (NSS, LDAP).
  Result<TaskUser> user = resolve_task_user(spec.user, state_->options.task_users, ::geteuid());
  if (!user) {
    return make_error(user.error().code,
                      "task " + quoted(spec.task_id) + ": " + user.error().message);
  }
  std::lock_guard lock(state_->mu);
  if (state_->tasks.count(spec.task_id) != 0) {
    return make_error(ErrorCode::kConflict,
                      "task " + quoted(spec.task_id) + " is already running; kill it first");
  }
  Result<std::string> sandbox = prepare_sandbox(spec, *user);
  if (!sandbox) return sandbox.error();
  SpawnRequest request = spawn_request(spec, *sandbox, *user);
  Result<TaskCgroup> cgroup = state_->create_task_cgroup(spec);
  if (!cgroup) return cgroup.error();
  request.cgroup_procs_fd = cgroup->procs_fd;

  Result<int> pid = spawn_task_process(request);
  if (cgroup->procs_fd >= 0) ::close(cgroup->procs_fd);
  if (!pid) {
    if (!cgroup->path.empty()) state_->remove_cgroup(cgroup->path);
    return make_error(pid.error().code,
                      "task " + quoted(spec.task_id) + ": " + pid.error().message);
  }
  State::Task task;
  task.task_id = spec.task_id;
  task.sandbox_dir = *sandbox;
  task.pid = *pid;
  task.cgroup = cgroup->path;
  task.mem_mib = spec.mem_mib;
  state_->tasks.emplace(spec.task_id, std::move(task));
  return pid;
}

Status ProcessExecutor::kill(const std::string& task_id, std::chrono::milliseconds grace) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tasks.find(task_id);
  if (it == state_->tasks.end()) {
    return make_error(ErrorCode::kNotFound, "no running task " + quoted(task_id));
  }
  State::Task& task = it->second;
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  // An adopted task is not our child (waitid would say ECHILD): ask whether it still exists.
  bool exited = task.adopted
                    ? !process_runs(task.pid)
                    : (::waitid(P_PID, task.pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
                       info.si_pid != 0);
  if (exited) {
    return make_error(ErrorCode::kNotFound,
                      "task " + quoted(task_id) + " has already exited; poll_exits() reports how");
  }
  if (grace <= std::chrono::milliseconds::zero()) {
    task.killed_by_us = true;
    state_->signal_tree(task, SIGKILL);
    task.sigkill_at.reset();
    return {};
  }
  MonoTime kill_at = state_->clock->mono_now() + grace;
  if (!task.killed_by_us) {
    task.killed_by_us = true;
    state_->signal_tree(task, SIGTERM);
    task.sigkill_at = kill_at;
  } else if (task.sigkill_at && kill_at < *task.sigkill_at) {
    task.sigkill_at = kill_at;
  }
  return {};
}

void ProcessExecutor::kill_all_now() {
  std::lock_guard lock(state_->mu);
  for (auto& [id, task] : state_->tasks) {
    task.killed_by_us = true;
    task.sigkill_at.reset();
    state_->signal_tree(task, SIGKILL);
  }
  auto deadline = std::chrono::steady_clock::now() + kKillAllWait;
  for (;;) {
    state_->reap_exited();
    if (state_->tasks.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kReapInterval);
    // A process forked just before the SIGKILL can land in a cgroup after it was read.
    for (auto& [id, task] : state_->tasks) state_->signal_tree(task, SIGKILL);
  }
  state_->retry_cgroup_removal();
}

void ProcessExecutor::leave_all() {
  std::lock_guard lock(state_->mu);
  state_->tasks.clear();  // their cgroups stay: the tasks are in them
}

Result<TaskStarted> ProcessExecutor::adopt(const TaskAdoption& adoption) {
  const std::string& task_id = adoption.task_id;
  std::lock_guard lock(state_->mu);
  if (state_->tasks.count(task_id))
    return make_error(ErrorCode::kConflict, "task " + task_id + " is already tracked");
  // A pid alone may have been reused since: the process must still be that task.
  if (!process_runs(adoption.pid) ||
      env_value(proc_entries(adoption.pid, "environ"), "MESOS_TASK_ID") != task_id) {
    return make_error(ErrorCode::kNotFound, "task " + task_id + " is not running");
  }
  State::Task task;
  task.task_id = task_id;
  task.sandbox_dir = adoption.sandbox_dir;
  task.pid = adoption.pid;
  task.mem_mib = adoption.mem_mib;
  task.adopted = true;
  if (!state_->cgroup_dir.empty()) {
    std::string cgroup = state_->cgroup_dir + "/" + task_id;
    if (::access(cgroup.c_str(), F_OK) == 0) task.cgroup = cgroup;
  }
  state_->tasks[task_id] = task;
  return TaskStarted{adoption.pid, ""};
}

int ProcessExecutor::stop_leftovers(const std::set<std::string>& keep) {
  if (state_->options.sandboxes_dir.empty()) return 0;
  return kill_tasks_under(state_->options.sandboxes_dir, keep);
}

std::vector<TaskExit> ProcessExecutor::poll_exits() {
  std::lock_guard lock(state_->mu);
  state_->send_due_sigkills();
  state_->reap_exited();
  state_->retry_cgroup_removal();
  return std::exchange(state_->reaped, {});
}

std::vector<std::string> ProcessExecutor::running() const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> ids;
  ids.reserve(state_->tasks.size());
  for (const auto& [id, task] : state_->tasks) ids.push_back(id);
  return ids;
}

Result<std::string> ProcessExecutor::logs(const std::string& task_id, int stream) {
  std::string path;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->tasks.find(task_id);
    if (it == state_->tasks.end())
      return make_error(ErrorCode::kNotFound, "no running task " + quoted(task_id));
    path = it->second.sandbox_dir + (stream == 2 ? "/stderr" : "/stdout");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text;
  char chunk[65536];
  while (in && text.size() < kMaxTaskOutputBytes) {
    in.read(chunk, static_cast<std::streamsize>(
                       std::min(sizeof chunk, kMaxTaskOutputBytes - text.size())));
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  return text;  // empty when nothing was written yet
}

}  // namespace berth
