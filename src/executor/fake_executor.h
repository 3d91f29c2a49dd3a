// FakeExecutor: an Executor in memory, for tests of the agent (and anything else that runs
// tasks) without forking a process or asking Docker. It passes the same contract suite as
// ProcessExecutor and DockerExecutor (tests/contract/executor_contract_test.cpp). Thread-safe
// and deterministic: nothing happens by itself except what the clock makes due.
//
// A launched task "runs" until it is killed or the test ends it (finish()). It honours SIGTERM
// and ends with it, unless the test made it ignore SIGTERM; SIGKILL always ends it. Grace
// periods are timed by the clock it is given. Tasks live on a FakeMachine, which outlives the
// executor the way processes and containers outlive a crashed agent: a second FakeExecutor on
// the same machine plays the restarted agent and can adopt them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "executor/executor.h"

namespace berth {

// The tasks of one node, shared by the FakeExecutors of an agent's successive runs.
struct FakeMachine;

class FakeExecutor final : public Executor {
 public:
  // `clock` must outlive the executor. Without a machine, it gets a new one of its own.
  explicit FakeExecutor(const Clock& clock, std::shared_ptr<FakeMachine> machine = nullptr);
  // Leaves its tasks running on the machine, as a crashed agent leaves its processes.
  ~FakeExecutor() override;
  FakeExecutor(const FakeExecutor&) = delete;
  FakeExecutor& operator=(const FakeExecutor&) = delete;

  std::shared_ptr<FakeMachine> machine() const;

  Status open() override;
  bool ready() const override;
  std::string summary() const override;
  Result<TaskStarted> launch(const TaskLaunch& launch) override;
  // Adopts the machine's task with that id whose pid or container id matches.
  Result<TaskStarted> adopt(const TaskAdoption& adoption) override;
  // Ends (SIGKILL) every running task of the machine whose id is not in `keep`.
  int stop_leftovers(const std::set<std::string>& keep) override;
  Status kill(const std::string& task_id, std::chrono::milliseconds grace) override;
  void kill_all_now() override;
  void leave_all() override;
  std::vector<TaskExit> poll_exits() override;
  std::vector<std::string> running() const override;
  Result<std::string> logs(const std::string& task_id, int stream) override;

  // --- what a test does to the tasks ---
  // The task ends by itself with exit code `code`. kNotFound when it is not running.
  Status finish(const std::string& task_id, int code);
  // The task ignores SIGTERM from now on: only a SIGKILL ends it.
  Status ignore_sigterm(const std::string& task_id);
  // The task writes `text` to stdout (stream 1) or stderr (2).
  Status write_output(const std::string& task_id, int stream, const std::string& text);
  // The next launch fails with `error`, leaving nothing running (a missing image, a bad user).
  void fail_next_launch(Error error);
  // Until called with true again, open() fails with kUnavailable and so does every launch,
  // as when Docker does not answer. Kills with no grace still end their tasks (the fence);
  // the signals of kills with a grace wait until it answers again.
  void set_backend_answers(bool answers);
  // Whether the machine's task with this pid runs, whoever tracks it (what `kill -0` tells).
  bool alive(int pid) const;
  // What the task was launched with, while it is known.
  std::optional<TaskLaunch> launched(const std::string& task_id) const;

 private:
  struct Tracked {
    int pid = 0;
    bool killed_by_us = false;
    bool adopted = false;
    std::optional<MonoTime> sigkill_at;
    std::optional<TaskLaunch> launch;
  };

  const Clock& clock_;
  std::shared_ptr<FakeMachine> machine_;
  // Guarded by the machine's mutex.
  std::map<std::string, Tracked> tracked_;
  bool answers_ = true;
  std::optional<Error> next_launch_error_;
};

}  // namespace berth
