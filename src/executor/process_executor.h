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
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "executor/executor.h"
#include "executor/task_user.h"

namespace berth {

struct ExecutorOptions {
  // Root of the cgroup v1 memory hierarchy; the executor uses <root>/<cgroup_prefix>/<task_id>.
  std::string memory_cgroup_root = "/sys/fs/cgroup/memory";
  // Distinguishes several agents on one machine in cgroup names. Same rules as a task id; an
  // invalid prefix turns memory limits off (isolation_summary() says so).
  std::string cgroup_prefix = "berth";
  // Who tasks run as, and whether root is allowed (by default it is not).
  TaskUserPolicy task_users;
  // The agent's sandboxes: stop_leftovers() stops the processes whose MESOS_SANDBOX lies under
  // it. Empty: it finds none.
  std::string sandboxes_dir;
};

class ProcessExecutor final : public Executor {
 public:
  // Probes the memory cgroup hierarchy and creates <root>/<prefix> when it is writable.
  explicit ProcessExecutor(ExecutorOptions options);
  // `clock` times the kill grace periods (tests drive it by hand); it must outlive the executor.
  // The bounded waits on real processes (kill_all_now, the destructor) use real time.
  ProcessExecutor(ExecutorOptions options, const Clock& clock);
  // Kills every task still running (kill_all_now), removes their cgroups, and removes
  // <root>/<prefix> if it is empty. Exits not yet returned by poll_exits() are dropped.
  ~ProcessExecutor() override;
  ProcessExecutor(const ProcessExecutor&) = delete;
  ProcessExecutor& operator=(const ProcessExecutor&) = delete;

  // One line describing the isolation in effect, for the agent's log at start-up, e.g.
  // "memory limits: cgroup v1 at /sys/fs/cgroup/memory/berth" or
  // "memory limits: not enforced (/sys/fs/cgroup/memory not writable: Permission denied)".
  std::string isolation_summary() const;
  bool memory_limits_enforced() const;

  Status open() override { return {}; }
  bool ready() const override { return true; }
  std::string summary() const override { return isolation_summary(); }

  // Runs a ProcessSpec (see Executor::launch); the pid is known once the program has been
  // exec'd. `args[0]` is looked up in the PATH of spec.env (default "/bin:/usr/bin", as
  // execvp), relative entries and relative paths from the sandbox. When the task runs as
  // another user than the executor's, its sandbox becomes writable by that user's group, with
  // the sticky bit, so the task can create files there but cannot remove or replace the
  // agent's own (its lease deadline, its metadata, its stdout and stderr). Errors say what
  // went wrong; nothing is left running:
  //   kInvalidArgument: a bad spec (task id, neither cmd nor args, NUL bytes, "=" in an env
  //     name, negative mem), a container launch, a user that does not exist, or args[0] that
  //     cannot be executed (not found, not executable); the latter is also appended to
  //     <sandbox>/stderr.
  //   kPermissionDenied: a user the policy refuses (see resolve_task_user).
  //   kConflict: a task with this id is running, or its cgroup exists with processes in it.
  //   kInternal: the sandbox, the cgroup or fork/exec of /bin/sh failed.
  Result<TaskStarted> launch(const TaskLaunch& launch) override;

  // Takes over the process `adoption.pid` of an earlier run: it must be alive and carry
  // MESOS_TASK_ID=<task id> in its environment. It is not our child: its end is seen by
  // polling, and its exit status is unknown.
  Result<TaskStarted> adopt(const TaskAdoption& adoption) override;

  // SIGKILLs every process under options.sandboxes_dir whose task is not in `keep`.
  int stop_leftovers(const std::set<std::string>& keep) override;

  // See Executor::kill; the grace period is timed by the executor's clock.
  Status kill(const std::string& task_id, std::chrono::milliseconds grace) override;

  // Kills every task (SIGKILL to each tree) and waits for them, at most 5 s. Holds the lock
  // throughout, so nothing is launched meanwhile.
  void kill_all_now() override;
  void leave_all() override;

  // Reaps exited tasks and returns them once each. Also sends due SIGKILLs and retries the
  // removal of cgroups that were still busy. Only reaps the executor's own children (waitpid
  // on each known pid), never -1.
  std::vector<TaskExit> poll_exits() override;

  // Task ids launched and not yet returned by poll_exits().
  std::vector<std::string> running() const override;

  // Reads <sandbox>/stdout or <sandbox>/stderr of a known task.
  Result<std::string> logs(const std::string& task_id, int stream) override;

 private:
  Result<int> launch_process(const ProcessSpec& spec);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace berth
