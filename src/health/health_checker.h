// HealthChecker: the agent's shell around HealthState. It runs each registered task's health
// checks (docs/compatibility.md §2.3) on a small thread pool, keeps one HealthState per task and
// check, and tells its owner when a task's health flips or a kill is due. The agent registers a
// task when it starts running and unregisters it when it ends; the master learns results from
// the agent's reports (results_json) and kills on its own say.
//
// Timing: the first check runs min(interval, 5s) after the task started for HTTP/HTTPS/TCP
// (Marathon's DefaultFirstHealthCheckAfter) and delaySeconds after it for COMMAND/MESOS_*;
// later checks start `interval` after the previous one started, or as soon as it ends if it
// ran longer. A check never overlaps itself.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "health/health_check.h"

namespace berth::health {

struct HealthTask {
  std::string task_id;
  std::string host;             // what HTTP/TCP checks connect to, e.g. "127.0.0.1"
  std::vector<uint32_t> ports;  // the task's host ports, in portDefinitions/portMappings order
  std::map<std::string, std::string> env;  // COMMAND: the task's whole environment
  std::string sandbox_dir;                 // COMMAND: working directory
  std::vector<HealthCheckSpec> specs;
  WallTime started_at;  // the grace period and the first check count from here
};

struct HealthChange {
  std::string task_id;
  bool healthy = false;      // every check of the task is alive
  bool should_kill = false;  // some check reached its kill threshold
  std::string cause;         // the failing check's lastFailureCause; empty when healthy
};

struct HealthCheckerOptions {
  size_t threads = 4;        // probes block for up to their timeout
  size_t max_tasks = 10000;  // register_task beyond this is refused
  size_t max_checks_per_task = 32;
  // Intervals below this are raised to it, so intervalSeconds = 0 cannot spin a worker.
  std::chrono::milliseconds min_interval{100};
  std::chrono::milliseconds first_check_after{5000};  // HTTP/HTTPS/TCP cap on the first delay
};

class HealthChecker {
 public:
  // Called on the checker's scheduler thread, one call at a time, in order, never under the
  // checker's lock (it may call unregister_task or results). Fired when a task's health
  // becomes known or flips (healthy = all checks alive; unknown checks keep it silent) and
  // when should_kill changes. Changes for one task that pile up while a callback runs are
  // merged: the next call carries the latest state.
  using ChangeCallback = std::function<void(const HealthChange&)>;

  // `clock` supplies the timestamps of results (wall) and the schedule (mono); it must outlive
  // the checker.
  HealthChecker(const Clock& clock, ChangeCallback on_change, HealthCheckerOptions options = {});
  // Stops the threads. Running COMMAND probes are killed; HTTP/TCP probes end within their
  // timeout.
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts checking `task`. kInvalidArgument when a check's port cannot be resolved from the
  // task's ports (the message names the check) or there are too many checks; kConflict when
  // the task id is already registered; kUnavailable at max_tasks. Nothing changes on error.
  // A task without checks is accepted and never reported.
  Status register_task(HealthTask task);

  // Stops checking the task and forgets its results and undelivered changes. A COMMAND probe
  // in flight is killed; an HTTP/TCP probe's result is discarded. A callback already running
  // for the task may still finish. Unknown ids are ignored.
  void unregister_task(const std::string& task_id);

  // The task's states in the order of its specs; empty for an unknown task.
  std::vector<HealthState> results(const std::string& task_id) const;
  // The same as Marathon's healthCheckResults array, with `instance_id` as instanceId.
  nlohmann::json results_json(const std::string& task_id, const std::string& instance_id) const;

 private:
  struct Check {
    HealthCheckSpec spec;
    uint16_t port = 0;  // HTTP/TCP only
    HealthState state;
  };
  struct Task {
    uint64_t generation = 0;
    HealthTask info;
    std::vector<Check> checks;
    std::shared_ptr<std::atomic<bool>> cancelled;
    std::optional<bool> reported_healthy;
    bool reported_kill = false;
  };
  struct Job {
    std::string task_id;
    uint64_t generation = 0;
    size_t check = 0;
  };

  void run_scheduler();
  void run_worker();
  void run_job(std::unique_lock<std::mutex>& lock, const Job& job);
  Task* find(const std::string& task_id, uint64_t generation);
  void schedule(const Job& job, MonoTime due);
  void note_change(Task& task);

  const Clock& clock_;
  ChangeCallback on_change_;
  HealthCheckerOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable scheduler_wakeup_;
  std::condition_variable worker_wakeup_;
  bool stopping_ = false;
  uint64_t next_generation_ = 1;
  std::map<std::string, Task> tasks_;
  std::multimap<MonoTime, Job> timers_;          // at most one entry per check
  std::deque<Job> ready_;                        // due checks waiting for a worker
  std::map<std::string, HealthChange> pending_;  // undelivered changes, one per task
  std::deque<std::string> pending_order_;        // may name tasks no longer pending
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace berth::health
