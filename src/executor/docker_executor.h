// DockerExecutor: runs tasks as Docker containers on this node (docs/architecture.md §7), through
// the Engine API (docker::DockerClient). Used by the agent next to the ProcessExecutor.
// Thread-safe.
//
// Each task is one container named "berth-<task id>" and labelled org.berth.task (the task id)
// and org.berth.agent (the owner, one per agent), so that a restarted agent finds its containers
// and re-adopts them (adopt) or removes them (stop_leftovers). A watcher thread per container
// waits for its end; the exit is then inspected, its output saved to <sandbox>/stdout and
// <sandbox>/stderr (the files `berth task logs` reads for ended tasks, as for process tasks) and
// the container removed. kill() sends SIGTERM, then SIGKILL once `grace` has passed; a kill with
// no grace also SIGKILLs the container's init directly, so a fenced node stops writing even
// when dockerd does not answer.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "executor/executor.h"

namespace berth {

// Labels of every container berth starts.
inline constexpr const char* kTaskLabel = "org.berth.task";    // the task id
inline constexpr const char* kOwnerLabel = "org.berth.agent";  // container_owner() of its agent

// The owner label of the agent with this host name and work directory: stable across its
// restarts and distinct from other agents sharing the dockerd.
std::string container_owner(const std::string& hostname, const std::string& work_dir);
// Host pids of the inits of `owner`'s running containers (to kill a whole node at once).
std::vector<int> container_pids(const std::string& owner,
                                const std::string& socket_path = "/var/run/docker.sock");
// Removes every container whose owner's work directory lies under `dir` (agents of a `berth up`
// or a test cluster that died without removing them). Returns how many.
int remove_containers_under(const std::string& dir,
                            const std::string& socket_path = "/var/run/docker.sock");

struct DockerExecutorOptions {
  std::string socket_path = "/var/run/docker.sock";
  std::string owner;  // container_owner() of this agent
};

class DockerExecutor final : public Executor {
 public:
  explicit DockerExecutor(DockerExecutorOptions options);
  ~DockerExecutor()
      override;  // stops watching (the containers keep running: they outlive the agent)
  DockerExecutor(const DockerExecutor&) = delete;
  DockerExecutor& operator=(const DockerExecutor&) = delete;

  // Negotiates the API version. kUnavailable when Docker does not answer (DOCKER tasks then fail
  // with this message).
  Status open() override;
  bool ready() const override;
  std::string summary() const override;  // e.g. "docker: Engine API 1.41 at /var/run/docker.sock"

  // Creates and starts the container of a DockerLaunch; blocks for Docker (~0.5-0.7 s). On
  // failure nothing is left: the container is removed and the error carries Docker's message
  // (kNotFound for a missing image, kInternal for a failed start). kConflict when the task is
  // already tracked; kInvalidArgument for a process.
  Result<TaskStarted> launch(const TaskLaunch& launch) override;
  // Takes over the running container `adoption.container_id`, which must carry the task's
  // label.
  Result<TaskStarted> adopt(const TaskAdoption& adoption) override;
  // Removes this owner's containers whose task ids are not in `keep`.
  int stop_leftovers(const std::set<std::string>& keep) override;

  // See Executor::kill: with no grace the container's init is SIGKILLed directly (everything
  // in its pid namespace dies with it), then Docker is told.
  Status kill(const std::string& task_id, std::chrono::milliseconds grace) override;
  // SIGKILLs every container and waits (at most 10 s) for their exits.
  void kill_all_now() override;
  void leave_all() override;
  // Ended tasks, once each (pid 0; `code` is the container's exit code, or the signal for
  // 129-159, and `message` Docker's error when it has one); also sends due SIGKILLs.
  std::vector<TaskExit> poll_exits() override;
  // Task ids launched or adopted whose containers have not ended.
  std::vector<std::string> running() const override;
  // The container's output so far while it is tracked.
  Result<std::string> logs(const std::string& task_id, int stream) override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace berth
