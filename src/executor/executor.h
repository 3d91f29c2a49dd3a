// Executor: how the agent runs tasks on its node (docs/architecture.md §7). The agent holds one
// for process tasks (ProcessExecutor) and one for DOCKER tasks (DockerExecutor), and reaches
// both only through this interface, so tests can give it a FakeExecutor instead. One contract
// suite (tests/contract/executor_contract_test.cpp) runs against every implementation and the
// fake. Implementations are thread-safe: the agent calls them from its command, status,
// launcher and heartbeat threads.
//
// A task is known by its id from launch() or adopt() until poll_exits() has returned its exit.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"

namespace berth {

// A task to run as a process tree (ProcessExecutor).
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

// A task to run as a Docker container (DockerExecutor).
struct DockerLaunch {
  std::string task_id;
  std::string sandbox_dir;  // created if missing; receives stdout and stderr after the end
  std::string create_body;  // the Engine API create body (docker_create_body), labels included
};

// What launch() runs. An executor refuses the kind it does not run (kInvalidArgument); the
// FakeExecutor takes both.
using TaskLaunch = std::variant<ProcessSpec, DockerLaunch>;
const std::string& task_id_of(const TaskLaunch& launch);
const std::string& sandbox_of(const TaskLaunch& launch);

// A task that runs: what a restarted agent needs to find it again (docs/fencing.md §6).
struct TaskStarted {
  int pid = 0;               // host pid of its main process (a container's init); 0 when unknown
  std::string container_id;  // a container's id; empty for a process
};

// A task started by an earlier run of this agent, as its sandbox recorded it.
struct TaskAdoption {
  std::string task_id;
  std::string sandbox_dir;
  int pid = 0;               // a process task's main process
  std::string container_id;  // a container task's container
  double mem_mib = 0;
};

// How a task ended. A container's exit code 128+N (129-159) is reported as signal N, the
// way Docker reports a container whose init a signal ended.
struct TaskExit {
  std::string task_id;
  int pid = 0;
  bool signaled = false;
  int code = 0;               // exit code, or signal number when signaled; -1 when unknown
  bool killed_by_us = false;  // kill() was called for this task before it exited
  bool oom_killed = false;    // its memory cgroup recorded an OOM kill
  // Human-readable: "exited with code 3", "killed by signal 9 (SIGKILL)",
  // "exited with code 137; OOM-killed (memory limit 16 MiB)" (sh reporting its killed child).
  std::string message;
};

// "exited with code 3", "killed by signal 9 (SIGKILL)", with "; OOM-killed (memory limit
// N MiB)" when `oom` (mem_mib 0: no limit given).
std::string describe_exit(bool signaled, int code, bool oom, double mem_mib);

class Executor {
 public:
  virtual ~Executor() = default;

  // Makes the executor ready to run tasks; the agent calls it at start-up and again before a
  // launch while ready() is false (a backend may start after the agent). kUnavailable, with
  // the reason, when its backend does not answer (Docker not running). Processes are always
  // ready.
  virtual Status open() = 0;
  virtual bool ready() const = 0;
  // One line for the agent's log at start-up: the isolation or the backend in effect.
  virtual std::string summary() const = 0;

  // Starts the task and returns once it runs (a container: created and started, ~0.5 s).
  // On failure nothing is left running and the error says why:
  //   kInvalidArgument: a bad launch, or a kind this executor does not run.
  //   kConflict: a task with this id is known already.
  //   kUnavailable: the backend does not answer (see open()).
  //   others: what the backend said (kNotFound for a missing image, kPermissionDenied for a
  //   user the policy refuses, kInternal for a failed start).
  virtual Result<TaskStarted> launch(const TaskLaunch& launch) = 0;

  // Takes over a task started by an earlier run of this agent (docs/fencing.md §6: tasks
  // outlive their agent); from then on it is killed and its exit reported like a launched
  // one's. kNotFound when it no longer runs or is not that task (a reused pid, another
  // container); kConflict when the task id is known already.
  virtual Result<TaskStarted> adopt(const TaskAdoption& adoption) = 0;

  // Stops everything an earlier run of this agent left running whose task id is not in
  // `keep` (tasks the master has replaced since). Returns how many processes or containers
  // it stopped.
  virtual int stop_leftovers(const std::set<std::string>& keep) = 0;

  // SIGTERM to the task now, SIGKILL after `grace`; both go to the whole task (its process
  // tree, its container). With `grace` <= 0 the SIGKILL goes at once, straight to the task's
  // processes, so it takes effect even when the backend does not answer: that is how a
  // fenced node stops writing its datasets (docs/fencing.md §3). Returns at once; the exit is
  // reported by poll_exits(), which also sends due SIGKILLs. Calling it again only ever
  // brings the SIGKILL forward. kNotFound for an unknown or already ended task.
  virtual Status kill(const std::string& task_id, std::chrono::milliseconds grace) = 0;

  // SIGKILLs every task and waits (bounded) for their ends; used at agent shutdown. Their
  // exits are returned by the next poll_exits().
  virtual void kill_all_now() = 0;

  // Stops tracking every task without signalling it; used when the agent stops, so that its
  // tasks run on for the agent's next start to adopt (docs/fencing.md §6). No exit of theirs
  // is reported afterwards, and destroying the executor leaves them alone.
  virtual void leave_all() = 0;

  // The tasks that ended since the last call, each once. Also sends due SIGKILLs: call it
  // often.
  virtual std::vector<TaskExit> poll_exits() = 0;

  // Ids of the tasks launched or adopted that have not ended.
  virtual std::vector<std::string> running() const = 0;

  // The output of a known task so far (stream 1: stdout, 2: stderr), for an agent serving
  // its logs while it runs (a container's are in Docker until it ends). A process task's
  // comes from its sandbox files, at most the first kMaxTaskOutputBytes. kNotFound for an
  // unknown task.
  virtual Result<std::string> logs(const std::string& task_id, int stream) = 0;
};

inline constexpr size_t kMaxTaskOutputBytes = size_t{64} << 20;

}  // namespace berth
