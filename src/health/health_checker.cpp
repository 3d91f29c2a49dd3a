#include "health/health_checker.h"

#include <algorithm>

#include "base/check.h"
#include "health/probes.h"

namespace berth::health {
namespace {

using std::chrono::milliseconds;

Error invalid(const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, message);
}

// What one probe needs, copied out of the task so the probe runs without the lock.
struct ProbeInput {
  HealthCheckSpec spec;
  std::string host;
  uint16_t port = 0;
  std::map<std::string, std::string> env;
  std::string sandbox_dir;
  std::shared_ptr<std::atomic<bool>> cancelled;
};

ProbeResult run_probe(const ProbeInput& in) {
  switch (probe_kind(in.spec)) {
    case ProbeKind::kHttp:
      return probe_http(in.host, in.port, in.spec.path, in.spec.timeout, in.spec.ignore_http_1xx,
                        in.spec.ok_statuses);
    case ProbeKind::kTcp:
      return probe_tcp(in.host, in.port, in.spec.timeout);
    case ProbeKind::kCommand:
      return probe_command({in.spec.command, in.env, in.sandbox_dir, in.spec.timeout},
                           *in.cancelled);
  }
  return {ProbeOutcome::kFail, "unknown probe kind"};
}

}  // namespace

HealthChecker::HealthChecker(const Clock& clock, ChangeCallback on_change,
                             HealthCheckerOptions options)
    : clock_(clock), on_change_(std::move(on_change)), options_(options) {
  BERTH_CHECK(options_.threads > 0);
  scheduler_ = std::thread([this] { run_scheduler(); });
  for (size_t i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { run_worker(); });
}

HealthChecker::~HealthChecker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& [id, task] : tasks_) task.cancelled->store(true);
  }
  scheduler_wakeup_.notify_all();
  worker_wakeup_.notify_all();
  scheduler_.join();
  for (auto& worker : workers_) worker.join();
}

Status HealthChecker::register_task(HealthTask info) {
  if (info.specs.size() > options_.max_checks_per_task) {
    return invalid("task " + info.task_id + " has " + std::to_string(info.specs.size()) +
                   " health checks; at most " + std::to_string(options_.max_checks_per_task) +
                   " are supported");
  }
  std::vector<Check> checks;
  for (size_t i = 0; i < info.specs.size(); ++i) {
    const HealthCheckSpec& spec = info.specs[i];
    uint16_t port = 0;
    if (probe_kind(spec) != ProbeKind::kCommand) {
      auto resolved = resolve_health_check_port(spec, info.ports);
      if (!resolved) {
        return invalid("healthChecks(" + std::to_string(i) + ") of task " + info.task_id + ": " +
                       resolved.error().message);
      }
      port = *resolved;
    }
    checks.push_back(Check{spec, port, HealthState(spec, info.started_at)});
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (tasks_.count(info.task_id) != 0) {
    return make_error(ErrorCode::kConflict,
                      "task " + info.task_id + " is already health checked; unregister it first");
  }
  if (tasks_.size() >= options_.max_tasks) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot health check task " + info.task_id + ": already checking " +
                          std::to_string(tasks_.size()) + " tasks, the most this agent allows");
  }
  // A task registered late (say, after an agent restart) does not wait again for its first check.
  auto since_start =
      std::max(milliseconds(0),
               std::chrono::duration_cast<milliseconds>(clock_.wall_now() - info.started_at));
  MonoTime now = clock_.mono_now();
  std::string id = info.task_id;
  Task& task = tasks_[id];
  task.generation = next_generation_++;
  task.info = std::move(info);
  task.checks = std::move(checks);
  task.cancelled = std::make_shared<std::atomic<bool>>(false);
  for (size_t i = 0; i < task.checks.size(); ++i) {
    const HealthCheckSpec& spec = task.checks[i].spec;
    milliseconds first =
        is_mesos_level(spec)
            ? spec.delay
            : std::min(std::max(spec.interval, options_.min_interval), options_.first_check_after);
    schedule(Job{id, task.generation, i}, now + std::max(milliseconds(0), first - since_start));
  }
  return {};
}

void HealthChecker::unregister_task(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return;
  it->second.cancelled->store(true);
  tasks_.erase(it);
  // Queued jobs would be skipped anyway; dropping them keeps the queues bounded by live checks.
  std::erase_if(timers_, [&](const auto& entry) { return entry.second.task_id == task_id; });
  std::erase_if(ready_, [&](const Job& job) { return job.task_id == task_id; });
  pending_.erase(task_id);
  std::erase(pending_order_, task_id);
}

std::vector<HealthState> HealthChecker::results(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<HealthState> out;
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return out;
  for (const Check& check : it->second.checks) out.push_back(check.state);
  return out;
}

nlohmann::json HealthChecker::results_json(const std::string& task_id,
                                           const std::string& instance_id) const {
  nlohmann::json out = nlohmann::json::array();
  for (const HealthState& state : results(task_id)) out.push_back(state.to_json(instance_id));
  return out;
}

HealthChecker::Task* HealthChecker::find(const std::string& task_id, uint64_t generation) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

void HealthChecker::schedule(const Job& job, MonoTime due) {
  timers_.emplace(due, job);
  scheduler_wakeup_.notify_one();
}

void HealthChecker::run_scheduler() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!pending_order_.empty()) {
      std::string task_id = std::move(pending_order_.front());
      pending_order_.pop_front();
      auto it = pending_.find(task_id);
      if (it == pending_.end()) continue;
      HealthChange change = std::move(it->second);
      pending_.erase(it);
      lock.unlock();
      if (on_change_) on_change_(change);
      lock.lock();
      continue;
    }
    MonoTime now = clock_.mono_now();
    bool due = false;
    while (!timers_.empty() && timers_.begin()->first <= now) {
      ready_.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
      due = true;
    }
    if (due) worker_wakeup_.notify_all();
    if (timers_.empty()) {
      scheduler_wakeup_.wait(lock);
    } else {
      scheduler_wakeup_.wait_for(lock, timers_.begin()->first - now);
    }
  }
}

void HealthChecker::run_worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    worker_wakeup_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    Job job = std::move(ready_.front());
    ready_.pop_front();
    run_job(lock, job);
  }
}

void HealthChecker::run_job(std::unique_lock<std::mutex>& lock, const Job& job) {
  Task* task = find(job.task_id, job.generation);
  if (task == nullptr) return;
  const Check& check = task->checks[job.check];
  ProbeInput input{check.spec, task->info.host,        check.port,
                   {},         task->info.sandbox_dir, task->cancelled};
  if (probe_kind(check.spec) == ProbeKind::kCommand) input.env = task->info.env;
  MonoTime started = clock_.mono_now();
  lock.unlock();
  ProbeResult result = run_probe(input);
  lock.lock();
  task = find(job.task_id, job.generation);
  if (task == nullptr) return;
  Check& done = task->checks[job.check];
  if (result.outcome != ProbeOutcome::kIgnored) {
    done.state.on_result(result.outcome == ProbeOutcome::kPass, result.cause, clock_.wall_now());
    note_change(*task);
  }
  MonoTime next = started + std::max(done.spec.interval, options_.min_interval);
  schedule(job, std::max(next, clock_.mono_now()));
}

void HealthChecker::note_change(Task& task) {
  bool any_unknown = false, any_failing = false, kill = false;
  std::string cause;
  for (const Check& check : task.checks) {
    std::optional<bool> alive = check.state.alive();
    if (!alive) {
      any_unknown = true;
    } else if (!*alive) {
      // The cause of a check due for a kill wins over that of a merely failing one.
      if (!any_failing || (check.state.should_kill() && !kill)) {
        cause = check.state.last_failure_cause().value_or("");
      }
      any_failing = true;
    }
    kill = kill || check.state.should_kill();
  }
  std::optional<bool> healthy;
  if (any_failing) {
    healthy = false;
  } else if (!any_unknown) {
    healthy = true;
  }
  bool health_flipped = healthy.has_value() && healthy != task.reported_healthy;
  if (!health_flipped && kill == task.reported_kill) return;
  if (healthy) task.reported_healthy = healthy;
  task.reported_kill = kill;
  const std::string& task_id = task.info.task_id;
  if (pending_.count(task_id) == 0) pending_order_.push_back(task_id);
  pending_[task_id] = HealthChange{task_id, healthy.value_or(false), kill, cause};
  scheduler_wakeup_.notify_one();
}

}  // namespace berth::health
