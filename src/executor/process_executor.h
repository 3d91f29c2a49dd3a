// ProcessExecutor: runs tasks as process trees on this node (DESIGN §8). Used by the agent.
// Each task gets its own sandbox directory, session (process group) and, where the cgroup v1
// memory controller is writable, its own memory cgroup with the app's `mem` as the limit.
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth {

struct ProcessSpec {
  std::string task_id;        // validated: [A-Za-z0-9._-]+ ; used in paths
  std::string sandbox_dir;    // created if missing; stdout and stderr files go here
  std::optional<std::string> cmd;   // run as /bin/sh -c cmd
  std::vector<std::string> args;    // exec'd directly (args[0] looked up in PATH) when no cmd
  std::map<std::string, std::string> env;  // the whole environment of the task
  double mem_mib = 0;          // 0 = no limit
};

struct ProcessExit {
  std::string task_id;
  int pid = 0;
  bool signaled = false;
  int code = 0;             // exit code, or signal number when signaled
  bool killed_by_us = false;  // kill() was called for this task before it exited
  bool oom_killed = false;    // its memory cgroup recorded an OOM kill
  std::string message;      // human-readable: "exited with code 3", "killed by signal 9 (OOM)"
};

struct ExecutorOptions {
  // Root of the cgroup v1 memory hierarchy; the executor uses <root>/berth/<task_id>.
  std::string memory_cgroup_root = "/sys/fs/cgroup/memory";
  // Distinguishes several agents on one machine in cgroup names.
  std::string cgroup_prefix = "berth";
};

class ProcessExecutor {
 public:
  explicit ProcessExecutor(ExecutorOptions options);
  ~ProcessExecutor();

  // One line describing the isolation in effect, for the agent's log at start-up, e.g.
  // "memory limits: cgroup v1 at /sys/fs/cgroup/memory/berth" or
  // "memory limits: not enforced (/sys/fs/cgroup/memory not writable: Permission denied)".
  std::string isolation_summary() const;
  bool memory_limits_enforced() const;

  // Starts the task. Errors (kInvalidArgument for a bad spec, kInternal when fork/exec or the
  // sandbox fails) say what went wrong; nothing is left running on error.
  Result<int> launch(const ProcessSpec& spec);

  // SIGTERM to the whole tree now, SIGKILL to whatever remains after `grace`. Returns at once;
  // the exit is reported by poll_exits(). kNotFound for an unknown or already exited task.
  Status kill(const std::string& task_id, std::chrono::milliseconds grace);

  // Kills every task (SIGKILL to each tree) and waits for them; used at agent shutdown.
  void kill_all_now();

  // Reaps exited tasks and returns them once each. Also sends due SIGKILLs. Call it often.
  std::vector<ProcessExit> poll_exits();

  // Task ids currently running.
  std::vector<std::string> running() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace berth
