// DockerExecutor: runs tasks as Docker containers on this node (docs/architecture.md §7), through
// the Engine API (docker::DockerClient). Used by the agent next to the ProcessExecutor.
// Thread-safe.
//
// Each task is one container named "berth-<task id>" and labelled org.berth.task (the task id)
// and org.berth.agent (the owner, one per agent), so that a restarted agent finds its containers
// and re-adopts them (adopt) or removes them (remove_leftovers). A watcher thread per container
// waits for its end; the exit is then inspected, its output saved to <sandbox>/stdout and
// <sandbox>/stderr (the files `berth task logs` reads for ended tasks, as for process tasks) and
// the container removed. kill() sends SIGTERM, then SIGKILL once `grace` has passed; a kill with
// no grace also SIGKILLs the container's init directly, so a fenced node stops writing even
// when dockerd does not answer.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "executor/process_executor.h"

namespace berth {

// Labels of every container berth starts.
inline constexpr const char* kTaskLabel = "org.berth.task";    // the task id
inline constexpr const char* kOwnerLabel = "org.berth.agent";  // container_owner() of its agent

// The owner label of the agent with this host name and work directory: stable across its
// restarts and distinct from other agents sharing the dockerd.
std::string container_owner(const std::string& hostname, const std::string& work_dir);
// Host pids of the inits of `owner`'s running containers (to kill a whole node at once).
std::vector<int> container_pids(const std::string& owner, const std::string& socket_path = "/var/run/docker.sock");
// Removes every container whose owner's work directory lies under `dir` (agents of a `berth up`
// or a test cluster that died without removing them). Returns how many.
int remove_containers_under(const std::string& dir, const std::string& socket_path = "/var/run/docker.sock");

struct DockerExecutorOptions {
  std::string socket_path = "/var/run/docker.sock";
  std::string owner;  // container_owner() of this agent
};

struct DockerLaunch {
  std::string task_id;
  std::string sandbox_dir;  // created if missing; receives stdout and stderr after the end
  std::string create_body;  // the Engine API create body (docker_create_body), labels included
};

struct DockerStarted {
  std::string container_id;
  int pid = 0;  // host pid of the container's init
};

class DockerExecutor {
 public:
  explicit DockerExecutor(DockerExecutorOptions options);
  ~DockerExecutor();  // stops watching (the containers keep running: they outlive the agent)
  DockerExecutor(const DockerExecutor&) = delete;
  DockerExecutor& operator=(const DockerExecutor&) = delete;

  // Negotiates the API version. kUnavailable when Docker does not answer (DOCKER tasks then fail
  // with this message).
  Status connect();
  bool connected() const;
  std::string summary() const;  // for the agent's log, e.g. "docker: API 1.41 at /var/run/docker.sock"

  // Creates and starts the container; blocks for Docker (~0.5-0.7 s). On failure nothing is
  // left: the container is removed and the error carries Docker's message (kNotFound for a
  // missing image, kInternal for a failed start). kConflict when the task is already tracked.
  Result<DockerStarted> launch(const DockerLaunch& launch);
  // Takes over a running container of an earlier run of this agent. kNotFound when it is not
  // running; kConflict when the task is tracked already.
  Result<DockerStarted> adopt(const std::string& task_id, const std::string& container_id,
                              const std::string& sandbox_dir);
  // Removes this owner's containers whose task ids are not in `keep` (left by an earlier run
  // and replaced by the master since). Returns how many were removed.
  int remove_leftovers(const std::vector<std::string>& keep);

  // SIGTERM now and SIGKILL after `grace` (at once when grace <= 0). kNotFound for an unknown
  // or ended task.
  Status kill(const std::string& task_id, std::chrono::milliseconds grace);
  // SIGKILLs every container and waits (at most 10 s) for their exits; used at agent shutdown.
  void kill_all_now();
  // Ended tasks, once each (pid 0; `code` is the container's exit code, 128 + N after signal N,
  // and `message` Docker's error when it has one); also sends due SIGKILLs.
  std::vector<ProcessExit> poll_exits();
  // Task ids launched or adopted and not yet returned by poll_exits().
  std::vector<std::string> running() const;
  bool tracks(const std::string& task_id) const;
  // The container's output so far (stream 1 = stdout, 2 = stderr) while it is tracked.
  Result<std::string> logs(const std::string& task_id, int stream);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace berth
