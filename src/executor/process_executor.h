// ProcessExecutor: runs tasks as process trees on this node (docs/architecture.md §7). Used by the
// agent. Each task gets its own sandbox directory, session (process group) and, where the cgroup v1
// memory controller is writable, its own memory cgroup with the app's `mem` as the limit.
// Thread-safe.
//
// "The whole tree" of a task is its process group (the session leader's) and, when its memory
// cgroup exists, every process in that cgroup, which catches children that called setsid() or
// setpgid() themselves. Without the cgroup, such escaped processes are not reached.
// When a task's main process exits, whatever is left of its tree is SIGKILLed: the task is over,
// and its cgroup can only be removed once it is empty.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "executor/task_user.h"

namespace berth {

struct ProcessSpec {
  std::string task_id;             // validated: [A-Za-z0-9._-]+ ; used in paths
  std::string sandbox_dir;         // created if missing; stdout and stderr files go here
  std::optional<std::string> cmd;  // run as /bin/sh -c cmd
  std::vector<std::string> args;   // exec'd directly (args[0] looked up in PATH) when no cmd
  std::map<std::string, std::string> env;  // the whole environment of the task
  double mem_mib = 0;                      // 0 = no limit
  // host path -> path inside the task: bind-mounted in a private mount namespace of the task
  // (needs root). Targets are created if missing.
  std::vector<std::pair<std::string, std::string>> bind_mounts;
  // The user the task runs as, with that user's groups (Marathon's `user`); empty: the
  // executor's default (ExecutorOptions::task_users).
  std::string user;
};

struct ProcessExit {
  std::string task_id;
  int pid = 0;
  bool signaled = false;
  int code = 0;               // exit code, or signal number when signaled
  bool killed_by_us = false;  // kill() was called for this task before it exited
  bool oom_killed = false;    // its memory cgroup recorded an OOM kill
  // Human-readable: "exited with code 3", "killed by signal 9 (SIGKILL)",
  // "exited with code 137; OOM-killed (memory limit 16 MiB)" (sh reporting its killed child).
  std::string message;
};

// "exited with code 3", "killed by signal 9 (SIGKILL)", with "; OOM-killed (memory limit
// N MiB)" when `oom` (mem_mib 0: no limit given).
std::string describe_exit(bool signaled, int code, bool oom, double mem_mib);

struct ExecutorOptions {
  // Root of the cgroup v1 memory hierarchy; the executor uses <root>/<cgroup_prefix>/<task_id>.
  std::string memory_cgroup_root = "/sys/fs/cgroup/memory";
  // Distinguishes several agents on one machine in cgroup names. Same rules as a task id; an
  // invalid prefix turns memory limits off (isolation_summary() says so).
  std::string cgroup_prefix = "berth";
  // Who tasks run as, and whether root is allowed (by default it is not).
  TaskUserPolicy task_users;
};

class ProcessExecutor {
 public:
  // Probes the memory cgroup hierarchy and creates <root>/<prefix> when it is writable.
  explicit ProcessExecutor(ExecutorOptions options);
  // `clock` times the kill grace periods (tests drive it by hand); it must outlive the executor.
  // The bounded waits on real processes (kill_all_now, the destructor) use real time.
  ProcessExecutor(ExecutorOptions options, const Clock& clock);
  // Kills every task still running (kill_all_now), removes their cgroups, and removes
  // <root>/<prefix> if it is empty. Exits not yet returned by poll_exits() are dropped.
  ~ProcessExecutor();
  ProcessExecutor(const ProcessExecutor&) = delete;
  ProcessExecutor& operator=(const ProcessExecutor&) = delete;

  // One line describing the isolation in effect, for the agent's log at start-up, e.g.
  // "memory limits: cgroup v1 at /sys/fs/cgroup/memory/berth" or
  // "memory limits: not enforced (/sys/fs/cgroup/memory not writable: Permission denied)".
  std::string isolation_summary() const;
  bool memory_limits_enforced() const;

  // Starts the task and returns its pid, once the program has been exec'd. `args[0]` is looked
  // up in the PATH of spec.env (default "/bin:/usr/bin", as execvp), relative entries and
  // relative paths from the sandbox. When the task runs as another user than the executor's,
  // its sandbox becomes writable by that user's group, with the sticky bit, so the task can
  // create files there but cannot remove or replace the agent's own (its lease deadline, its
  // metadata, its stdout and stderr). Errors say what went wrong; nothing is left running:
  //   kInvalidArgument: a bad spec (task id, neither cmd nor args, NUL bytes, "=" in an env
  //     name, negative mem), a user that does not exist, or args[0] that cannot be executed
  //     (not found, not executable); the latter is also appended to <sandbox>/stderr.
  //   kPermissionDenied: a user the policy refuses (see resolve_task_user).
  //   kConflict: a task with this id is running, or its cgroup exists with processes in it.
  //   kInternal: the sandbox, the cgroup or fork/exec of /bin/sh failed.
  Result<int> launch(const ProcessSpec& spec);

  // Takes over a task started by an earlier run of this agent (docs/fencing.md §6: tasks outlive
  // their agent). It is not our child: its end is seen by polling, and its exit status is unknown.
  // kNotFound when `pid` is not alive; kConflict when the task id is already tracked.
  Status adopt(const std::string& task_id, int pid, double mem_mib);

  // SIGTERM to the whole tree now, SIGKILL to whatever remains after `grace` (at once when
  // `grace` <= 0). Returns at once; the exit is reported by poll_exits(), which also sends the
  // due SIGKILL. Calling it again only ever brings the SIGKILL forward. kNotFound for an
  // unknown or already exited task.
  Status kill(const std::string& task_id, std::chrono::milliseconds grace);

  // Kills every task (SIGKILL to each tree) and waits for them, at most 5 s; used at agent
  // shutdown. Their exits are returned by the next poll_exits(). Holds the lock throughout,
  // so nothing is launched meanwhile.
  void kill_all_now();

  // Reaps exited tasks and returns them once each. Also sends due SIGKILLs and retries the
  // removal of cgroups that were still busy. Call it often. Only reaps the executor's own
  // children (waitpid on each known pid), never -1.
  std::vector<ProcessExit> poll_exits();

  // Task ids launched and not yet returned by poll_exits().
  std::vector<std::string> running() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace berth
