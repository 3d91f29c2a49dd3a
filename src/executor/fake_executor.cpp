#include "executor/fake_executor.h"

#include <csignal>
#include <map>
#include <utility>

namespace berth {

struct FakeMachine {
  struct Task {
    std::string task_id;
    std::string container_id;  // for a container task
    bool running = true;
    bool ignores_sigterm = false;
    bool signaled = false;
    int code = 0;
    std::string output[2];  // stdout, stderr
  };

  std::mutex mu;
  std::map<int, Task> tasks;  // by pid; a task is dropped once its end is reported
  int next_pid = 1000;

  // The running task with this id, or nullptr. Called with `mu` held.
  std::pair<int, Task*> find_running(const std::string& task_id) {
    for (auto& [pid, task] : tasks) {
      if (task.running && task.task_id == task_id) return {pid, &task};
    }
    return {0, nullptr};
  }
};

namespace {

void end(FakeMachine::Task& task, bool signaled, int code) {
  task.running = false;
  task.signaled = signaled;
  task.code = code;
}

Error not_running(const std::string& task_id) {
  return make_error(ErrorCode::kNotFound, "task " + task_id + " is not running");
}

}  // namespace

FakeExecutor::FakeExecutor(const Clock& clock, std::shared_ptr<FakeMachine> machine)
    : clock_(clock), machine_(machine ? std::move(machine) : std::make_shared<FakeMachine>()) {}

FakeExecutor::~FakeExecutor() = default;

std::shared_ptr<FakeMachine> FakeExecutor::machine() const { return machine_; }

Status FakeExecutor::open() {
  std::lock_guard lock(machine_->mu);
  if (!answers_)
    return make_error(ErrorCode::kUnavailable, "the fake executor's backend does not answer");
  return {};
}

bool FakeExecutor::ready() const {
  std::lock_guard lock(machine_->mu);
  return answers_;
}

std::string FakeExecutor::summary() const { return "fake executor: tasks in memory, nothing runs"; }

Result<TaskStarted> FakeExecutor::launch(const TaskLaunch& launch) {
  const std::string& task_id = task_id_of(launch);
  std::lock_guard lock(machine_->mu);
  if (task_id.empty() || sandbox_of(launch).empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "task '" + task_id + "': a launch needs a task id and a sandbox");
  }
  if (tracked_.count(task_id))
    return make_error(ErrorCode::kConflict, "task " + task_id + " is already running");
  if (!answers_)
    return make_error(ErrorCode::kUnavailable, "the fake executor's backend does not answer");
  if (next_launch_error_) return *std::exchange(next_launch_error_, std::nullopt);
  int pid = machine_->next_pid++;
  FakeMachine::Task task;
  task.task_id = task_id;
  if (std::holds_alternative<DockerLaunch>(launch))
    task.container_id = "fake-container-" + std::to_string(pid);
  machine_->tasks[pid] = task;
  Tracked tracked;
  tracked.pid = pid;
  tracked.launch = launch;
  tracked_[task_id] = tracked;
  return TaskStarted{pid, task.container_id};
}

Result<TaskStarted> FakeExecutor::adopt(const TaskAdoption& adoption) {
  std::lock_guard lock(machine_->mu);
  if (tracked_.count(adoption.task_id)) {
    return make_error(ErrorCode::kConflict, "task " + adoption.task_id + " is already tracked");
  }
  auto [pid, task] = machine_->find_running(adoption.task_id);
  bool same = task != nullptr &&
              (adoption.container_id.empty() ? adoption.pid == pid
                                             : adoption.container_id == task->container_id);
  if (!same) return not_running(adoption.task_id);
  Tracked tracked;
  tracked.pid = pid;
  tracked.adopted = true;
  tracked_[adoption.task_id] = tracked;
  return TaskStarted{pid, task->container_id};
}

int FakeExecutor::stop_leftovers(const std::set<std::string>& keep) {
  std::lock_guard lock(machine_->mu);
  int stopped = 0;
  for (auto it = machine_->tasks.begin(); it != machine_->tasks.end();) {
    FakeMachine::Task& task = it->second;
    if (!task.running || keep.count(task.task_id)) {
      ++it;
      continue;
    }
    end(task, true, SIGKILL);
    ++stopped;
    // Nobody will report the end of a task this executor does not track.
    it = tracked_.count(task.task_id) ? std::next(it) : machine_->tasks.erase(it);
  }
  return stopped;
}

Status FakeExecutor::kill(const std::string& task_id, std::chrono::milliseconds grace) {
  std::lock_guard lock(machine_->mu);
  auto it = tracked_.find(task_id);
  if (it == tracked_.end()) return not_running(task_id);
  auto found = machine_->tasks.find(it->second.pid);
  if (found == machine_->tasks.end() || !found->second.running) return not_running(task_id);
  Tracked& tracked = it->second;
  FakeMachine::Task& task = found->second;
  if (grace <= std::chrono::milliseconds::zero()) {
    tracked.killed_by_us = true;
    tracked.sigkill_at.reset();
    end(task, true, SIGKILL);
    return {};
  }
  MonoTime kill_at = clock_.mono_now() + grace;
  if (!tracked.killed_by_us) {
    tracked.killed_by_us = true;
    tracked.sigkill_at = kill_at;
    // A backend that does not answer passes no SIGTERM on.
    if (answers_ && !task.ignores_sigterm) end(task, true, SIGTERM);
  } else if (tracked.sigkill_at && kill_at < *tracked.sigkill_at) {
    tracked.sigkill_at = kill_at;
  }
  return {};
}

void FakeExecutor::kill_all_now() {
  std::lock_guard lock(machine_->mu);
  for (auto& [id, tracked] : tracked_) {
    auto found = machine_->tasks.find(tracked.pid);
    if (found == machine_->tasks.end() || !found->second.running) continue;
    tracked.killed_by_us = true;
    tracked.sigkill_at.reset();
    end(found->second, true, SIGKILL);
  }
}

void FakeExecutor::leave_all() {
  std::lock_guard lock(machine_->mu);
  tracked_.clear();  // the machine's tasks run on
}

std::vector<TaskExit> FakeExecutor::poll_exits() {
  std::lock_guard lock(machine_->mu);
  MonoTime now = clock_.mono_now();
  std::vector<TaskExit> exits;
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    Tracked& tracked = it->second;
    auto found = machine_->tasks.find(tracked.pid);
    if (found != machine_->tasks.end() && found->second.running && answers_ && tracked.sigkill_at &&
        *tracked.sigkill_at <= now) {
      tracked.sigkill_at.reset();
      end(found->second, true, SIGKILL);
    }
    if (found != machine_->tasks.end() && found->second.running) {
      ++it;
      continue;
    }
    TaskExit exit;
    exit.task_id = it->first;
    exit.pid = tracked.pid;
    exit.killed_by_us = tracked.killed_by_us;
    if (found == machine_->tasks.end()) {
      exit.code = -1;
      exit.message = "ended; its exit status is unknown";
    } else {
      exit.signaled = found->second.signaled;
      exit.code = found->second.code;
      exit.message = describe_exit(exit.signaled, exit.code, false, 0);
      machine_->tasks.erase(found);
    }
    exits.push_back(std::move(exit));
    it = tracked_.erase(it);
  }
  return exits;
}

std::vector<std::string> FakeExecutor::running() const {
  std::lock_guard lock(machine_->mu);
  std::vector<std::string> ids;
  for (const auto& [id, tracked] : tracked_) {
    auto found = machine_->tasks.find(tracked.pid);
    if (found != machine_->tasks.end() && found->second.running) ids.push_back(id);
  }
  return ids;
}

Result<std::string> FakeExecutor::logs(const std::string& task_id, int stream) {
  std::lock_guard lock(machine_->mu);
  auto it = tracked_.find(task_id);
  if (it == tracked_.end())
    return make_error(ErrorCode::kNotFound, "task " + task_id + " is not running here");
  if (stream != 1 && stream != 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stream " + std::to_string(stream) + ": use 1 (stdout) or 2 (stderr)");
  }
  auto found = machine_->tasks.find(it->second.pid);
  if (found == machine_->tasks.end()) return std::string();
  return found->second.output[stream - 1];
}

Status FakeExecutor::finish(const std::string& task_id, int code) {
  std::lock_guard lock(machine_->mu);
  auto [pid, task] = machine_->find_running(task_id);
  if (task == nullptr) return not_running(task_id);
  end(*task, false, code);
  return {};
}

Status FakeExecutor::ignore_sigterm(const std::string& task_id) {
  std::lock_guard lock(machine_->mu);
  auto [pid, task] = machine_->find_running(task_id);
  if (task == nullptr) return not_running(task_id);
  task->ignores_sigterm = true;
  return {};
}

Status FakeExecutor::write_output(const std::string& task_id, int stream, const std::string& text) {
  std::lock_guard lock(machine_->mu);
  auto [pid, task] = machine_->find_running(task_id);
  if (task == nullptr) return not_running(task_id);
  if (stream != 1 && stream != 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stream " + std::to_string(stream) + ": use 1 (stdout) or 2 (stderr)");
  }
  std::string& output = task->output[stream - 1];
  output += text.substr(0, kMaxTaskOutputBytes - std::min(output.size(), kMaxTaskOutputBytes));
  return {};
}

void FakeExecutor::fail_next_launch(Error error) {
  std::lock_guard lock(machine_->mu);
  next_launch_error_ = std::move(error);
}

void FakeExecutor::set_backend_answers(bool answers) {
  std::lock_guard lock(machine_->mu);
  answers_ = answers;
}

bool FakeExecutor::alive(int pid) const {
  std::lock_guard lock(machine_->mu);
  auto found = machine_->tasks.find(pid);
  return found != machine_->tasks.end() && found->second.running;
}

std::optional<TaskLaunch> FakeExecutor::launched(const std::string& task_id) const {
  std::lock_guard lock(machine_->mu);
  auto it = tracked_.find(task_id);
  if (it == tracked_.end()) return std::nullopt;
  return it->second.launch;
}

}  // namespace berth
