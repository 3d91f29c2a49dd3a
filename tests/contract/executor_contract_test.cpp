// The Executor contract (docs/architecture.md §7): every test in ExecutorContract runs against
// FakeExecutor, against ProcessExecutor with real processes and signals, and against
// DockerExecutor with real containers of the local berth/busybox image, so the fake the agent's
// tests use cannot drift from what the agent really drives. The Docker instantiation is built
// into its own binary (BERTH_EXECUTOR_CONTRACT_DOCKER), which holds the dockerd lock; it skips
// without Docker, except under CI=true, where it fails (tests/e2e/docker_env.h).
//
// Each side writes the same few programs its own way (a shell for processes and containers,
// the fake's controls for the fake), and lets time pass its own way: the real sides wait, the
// fake's clock is moved by hand.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "docker/docker_client.h"
#include "executor/docker_executor.h"
#include "executor/executor.h"
#include "executor/fake_executor.h"
#include "executor/process_executor.h"
#include "tests/e2e/docker_env.h"

namespace berth {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kOutput = "contract-output";
constexpr milliseconds kStep = 50ms;

// What a contract task does. Every program but kExits3 first prints kOutput to stdout.
enum class Program {
  kRuns,            // runs until killed; ends on SIGTERM
  kIgnoresSigterm,  // runs until SIGKILLed
  kExits3,          // exits at once with code 3
};

// One implementation with the node it runs tasks on.
class Side {
 public:
  virtual ~Side() = default;
  virtual Executor& executor() = 0;
  virtual const Clock& clock() const = 0;
  // A launch of task `id` running `program`, for this side's executor.
  virtual TaskLaunch launch_of(const std::string& id, Program program) = 0;
  // Called after a successful launch: the fake is told here what its task does.
  virtual void launched(const std::string& /*id*/, Program /*program*/) {}
  // The agent restarts: a new executor for the same node replaces the current one, which does
  // nothing more. Its tasks keep running.
  virtual void restart() = 0;
  // The agent stops after leave_all(): the executor is destroyed and a new one replaces it.
  virtual void stop_and_restart() { restart(); }
  // Whether the task still runs, seen from outside the executor.
  virtual bool alive(const TaskStarted& started) = 0;
  // Lets `d` pass.
  virtual void pass(milliseconds d) = 0;
};

// A private directory for sandboxes (readable by `nobody`, whom a root executor runs tasks as).
fs::path make_test_dir() {
  std::string pattern = (fs::temp_directory_path() / "berth-executor-contract-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  fs::permissions(pattern, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  return pattern;
}

class FakeSide final : public Side {
 public:
  FakeSide() : executor_(std::make_unique<FakeExecutor>(clock_)) {}
  Executor& executor() override { return *executor_; }
  const Clock& clock() const override { return clock_; }
  TaskLaunch launch_of(const std::string& id, Program) override {
    ProcessSpec spec;
    spec.task_id = id;
    spec.sandbox_dir = "/nowhere/" + id;
    spec.cmd = "not run by the fake";
    return spec;
  }
  void launched(const std::string& id, Program program) override {
    switch (program) {
      case Program::kExits3:
        ASSERT_TRUE(executor_->finish(id, 3).ok());
        return;
      case Program::kIgnoresSigterm:
        ASSERT_TRUE(executor_->ignore_sigterm(id).ok());
        [[fallthrough]];
      case Program::kRuns:
        ASSERT_TRUE(executor_->write_output(id, 1, std::string(kOutput) + "\n").ok());
        return;
    }
  }
  void restart() override {
    auto machine = executor_->machine();
    executor_ = std::make_unique<FakeExecutor>(clock_, machine);
  }
  bool alive(const TaskStarted& started) override { return executor_->alive(started.pid); }
  void pass(milliseconds d) override { clock_.advance(d); }

 private:
  ManualClock clock_;
  std::unique_ptr<FakeExecutor> executor_;
};

// A process that has not ended (a zombie has).
bool process_runs(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

class ProcessSide final : public Side {
 public:
  ProcessSide() : dir_(make_test_dir()) { executor_ = make(); }
  ~ProcessSide() override {
    executor_.reset();
    earlier_.clear();  // kills what is left of the earlier runs' tasks
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Executor& executor() override { return *executor_; }
  const Clock& clock() const override { return clock_; }
  TaskLaunch launch_of(const std::string& id, Program program) override {
    ProcessSpec spec;
    spec.task_id = id;
    spec.sandbox_dir = (dir_ / "sandboxes" / id).string();
    // What the agent gives every task, and what adopt() and stop_leftovers() look for.
    spec.env = {
        {"PATH", "/usr/bin:/bin"}, {"MESOS_TASK_ID", id}, {"MESOS_SANDBOX", spec.sandbox_dir}};
    std::string echo = std::string("echo ") + kOutput + "; ";
    switch (program) {
      case Program::kRuns:
        spec.cmd = echo + "exec sleep 1000";
        break;
      case Program::kIgnoresSigterm:
        spec.cmd = "trap '' TERM; " + echo + "exec sleep 1000";
        break;
      case Program::kExits3:
        spec.cmd = "exit 3";
        break;
    }
    return spec;
  }
  // The earlier executor is kept, idle: its tasks stay its children, as they would stay
  // running after an agent crashed, and it kills them when the test ends.
  void restart() override {
    earlier_.push_back(std::move(executor_));
    executor_ = make();
  }
  void stop_and_restart() override {
    executor_.reset();
    executor_ = make();
  }
  bool alive(const TaskStarted& started) override { return process_runs(started.pid); }
  void pass(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  std::unique_ptr<ProcessExecutor> make() const {
    ExecutorOptions options;
    options.memory_cgroup_root = (dir_ / "no-cgroup").string();
    options.cgroup_prefix = "contract";
    options.sandboxes_dir = (dir_ / "sandboxes").string();
    return std::make_unique<ProcessExecutor>(options, clock_);
  }

  fs::path dir_;
  SystemClock clock_;
  std::unique_ptr<ProcessExecutor> executor_;
  std::vector<std::unique_ptr<ProcessExecutor>> earlier_;
};

class DockerSide final : public Side {
 public:
  DockerSide()
      : dir_(make_test_dir()), owner_(container_owner("contract", (dir_ / "work").string())) {
    EXPECT_TRUE(client_.connect().ok());
    executor_ = make();
  }
  ~DockerSide() override {
    executor_.reset();
    remove_containers_under(dir_.string());
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Executor& executor() override { return *executor_; }
  const Clock& clock() const override { return clock_; }
  TaskLaunch launch_of(const std::string& id, Program program) override {
    std::string echo = std::string("echo ") + kOutput + "; ";
    std::string script;
    // The container's init gets only the signals it handles: SIGTERM ends it through its trap,
    // with 143, which the executor reports as SIGTERM.
    switch (program) {
      case Program::kRuns:
        script = "trap 'exit 143' TERM; " + echo + "sleep 1000 & wait";
        break;
      case Program::kIgnoresSigterm:
        script = "trap '' TERM; " + echo + "sleep 1000";
        break;
      case Program::kExits3:
        script = "exit 3";
        break;
    }
    nlohmann::json body = {{"Image", "berth/busybox"},
                           {"Cmd", {"sh", "-c", script}},
                           {"HostConfig", {{"NetworkMode", "none"}}},
                           {"Labels", {{kTaskLabel, id}, {kOwnerLabel, owner_}}}};
    return DockerLaunch{id, (dir_ / "sandboxes" / id).string(), body.dump()};
  }
  // Its containers outlive the executor, as they outlive the agent.
  void restart() override {
    executor_.reset();
    executor_ = make();
  }
  bool alive(const TaskStarted& started) override {
    auto state = client_.inspect_container(started.container_id);
    return state.ok() && state->running;
  }
  void pass(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  std::unique_ptr<DockerExecutor> make() const {
    auto executor =
        std::make_unique<DockerExecutor>(DockerExecutorOptions{"/var/run/docker.sock", owner_});
    Status opened = executor->open();
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return executor;
  }

  fs::path dir_;
  std::string owner_;
  SystemClock clock_;
  docker::DockerClient client_;
  std::unique_ptr<DockerExecutor> executor_;
};

struct SideFactory {
  std::string name;
  bool needs_docker = false;
  std::function<std::unique_ptr<Side>()> make;
};

std::ostream& operator<<(std::ostream& out, const SideFactory& f) { return out << f.name; }

class ExecutorContract : public ::testing::TestWithParam<SideFactory> {
 protected:
  void SetUp() override {
    if (GetParam().needs_docker) BERTH_REQUIRE_DOCKER();
    side_ = GetParam().make();
  }
  void TearDown() override { side_.reset(); }

  Executor& executor() { return side_->executor(); }

  // Task ids unique on this machine: containers are named after them.
  static std::string id(const std::string& what) {
    return "contract-" + std::to_string(::getpid()) + "-" + what;
  }

  // Launches `program` as task `task_id`; a failed assertion (and an empty result) if it fails.
  TaskStarted launch(const std::string& task_id, Program program) {
    auto started = executor().launch(side_->launch_of(task_id, program));
    EXPECT_TRUE(started.ok()) << started.error().message;
    if (!started.ok()) return {};
    side_->launched(task_id, program);
    return *started;
  }

  // Lets time pass in steps until `condition` holds or `timeout` has passed.
  bool eventually(const std::function<bool()>& condition, milliseconds timeout = 20s) {
    for (milliseconds waited{0};; waited += kStep) {
      if (condition()) return true;
      if (waited >= timeout) return false;
      side_->pass(kStep);
    }
  }

  // Until the task has printed kOutput: it runs, and its traps are in place.
  bool printed(const std::string& task_id) {
    return eventually([&] {
      auto out = executor().logs(task_id, 1);
      return out.ok() && out->find(kOutput) != std::string::npos;
    });
  }

  void poll() {
    for (TaskExit& exit : executor().poll_exits()) seen_.push_back(std::move(exit));
  }

  // Polls until the task's exit is reported; other exits are kept for later calls.
  std::optional<TaskExit> wait_for_exit(const std::string& task_id, milliseconds timeout = 20s) {
    std::optional<TaskExit> found;
    eventually(
        [&] {
          poll();
          auto it = std::find_if(seen_.begin(), seen_.end(),
                                 [&](const TaskExit& e) { return e.task_id == task_id; });
          if (it == seen_.end()) return false;
          found = *it;
          seen_.erase(it);
          return true;
        },
        timeout);
    return found;
  }

  bool is_running(const std::string& task_id) {
    auto ids = executor().running();
    return std::find(ids.begin(), ids.end(), task_id) != ids.end();
  }

  std::unique_ptr<Side> side_;
  std::vector<TaskExit> seen_;
};

TEST_P(ExecutorContract, OpensReadyAndSaysWhatItIs) {
  Status opened = executor().open();
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(executor().ready());
  EXPECT_FALSE(executor().summary().empty());
}

TEST_P(ExecutorContract, ALaunchedTaskRunsUntilItIsKilled) {
  const std::string task = id("runs");
  TaskStarted started = launch(task, Program::kRuns);
  EXPECT_GT(started.pid, 0);
  EXPECT_TRUE(is_running(task));
  EXPECT_TRUE(side_->alive(started));
  ASSERT_TRUE(printed(task)) << "the task's output never showed in logs()";
  poll();
  EXPECT_TRUE(seen_.empty()) << "an exit was reported for a task that runs: "
                             << seen_.front().message;
  EXPECT_TRUE(side_->alive(started));

  ASSERT_TRUE(executor().kill(task, 0ms).ok());
  auto exit = wait_for_exit(task);
  ASSERT_TRUE(exit.has_value()) << "no exit reported after the kill";
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_TRUE(exit->signaled) << exit->message;
  EXPECT_EQ(exit->code, SIGKILL) << exit->message;
  EXPECT_FALSE(is_running(task));
  EXPECT_TRUE(eventually([&] { return !side_->alive(started); }));
}

TEST_P(ExecutorContract, AnExitIsReportedOnceWithItsCode) {
  const std::string task = id("exits");
  launch(task, Program::kExits3);
  auto exit = wait_for_exit(task);
  ASSERT_TRUE(exit.has_value()) << "the exit was not reported";
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->killed_by_us);
  EXPECT_NE(exit->message.find("exited with code 3"), std::string::npos) << exit->message;
  EXPECT_FALSE(is_running(task));
  // Once only: later polls do not report it again.
  for (int i = 0; i < 5; ++i) {
    poll();
    side_->pass(kStep);
  }
  EXPECT_TRUE(seen_.empty()) << "reported again: " << seen_.front().message;
  Status kill = executor().kill(task, 0ms);
  ASSERT_FALSE(kill.ok());
  EXPECT_EQ(kill.error().code, ErrorCode::kNotFound) << kill.error().message;
}

TEST_P(ExecutorContract, KillWithAGraceSendsSigtermFirst) {
  const std::string task = id("term");
  launch(task, Program::kRuns);
  ASSERT_TRUE(printed(task));
  ASSERT_TRUE(executor().kill(task, 60s).ok());
  // Well within the grace: it ended on SIGTERM, not on the SIGKILL that would follow.
  auto exit = wait_for_exit(task, 20s);
  ASSERT_TRUE(exit.has_value()) << "SIGTERM did not end the task";
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_TRUE(exit->signaled) << exit->message;
  EXPECT_EQ(exit->code, SIGTERM) << exit->message;
  EXPECT_NE(exit->message.find("SIGTERM"), std::string::npos) << exit->message;
}

TEST_P(ExecutorContract, KillSendsSigkillOnlyOnceTheGraceHasPassed) {
  const std::string task = id("stubborn");
  TaskStarted started = launch(task, Program::kIgnoresSigterm);
  ASSERT_TRUE(printed(task));
  constexpr milliseconds kGrace = 1500ms;
  MonoTime killed_at = side_->clock().mono_now();
  ASSERT_TRUE(executor().kill(task, kGrace).ok());
  // Within the grace it keeps running: SIGTERM is ignored and SIGKILL is not due.
  for (milliseconds waited{0}; waited < 500ms; waited += kStep) {
    poll();
    side_->pass(kStep);
  }
  EXPECT_TRUE(seen_.empty()) << "ended within the grace: " << seen_.front().message;
  EXPECT_TRUE(side_->alive(started));
  auto exit = wait_for_exit(task);
  ASSERT_TRUE(exit.has_value()) << "no SIGKILL after the grace";
  EXPECT_GE(side_->clock().mono_now() - killed_at, kGrace);
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_TRUE(exit->signaled) << exit->message;
  EXPECT_EQ(exit->code, SIGKILL) << exit->message;
}

// The fence (docs/fencing.md §3): no grace, and the task is dead before anyone polls.
TEST_P(ExecutorContract, KillWithoutGraceKillsAtOnce) {
  const std::string task = id("fenced");
  TaskStarted started = launch(task, Program::kIgnoresSigterm);
  ASSERT_TRUE(printed(task));
  ASSERT_TRUE(executor().kill(task, 0ms).ok());
  EXPECT_TRUE(eventually([&] { return !side_->alive(started); }, 5s))
      << "still running without a poll";
  auto exit = wait_for_exit(task, 5s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_TRUE(exit->signaled) << exit->message;
  EXPECT_EQ(exit->code, SIGKILL) << exit->message;
}

TEST_P(ExecutorContract, KillingAgainBringsTheSigkillForward) {
  const std::string task = id("again");
  launch(task, Program::kIgnoresSigterm);
  ASSERT_TRUE(printed(task));
  ASSERT_TRUE(executor().kill(task, 600s).ok());
  ASSERT_TRUE(executor().kill(task, 0ms).ok());
  auto exit = wait_for_exit(task, 10s);
  ASSERT_TRUE(exit.has_value()) << "the second kill did not bring the SIGKILL forward";
  EXPECT_EQ(exit->code, SIGKILL) << exit->message;
}

TEST_P(ExecutorContract, UnknownTasksAreNotFound) {
  const std::string task = id("unknown");
  Status kill = executor().kill(task, 1s);
  ASSERT_FALSE(kill.ok());
  EXPECT_EQ(kill.error().code, ErrorCode::kNotFound) << kill.error().message;
  auto logs = executor().logs(task, 1);
  ASSERT_FALSE(logs.ok());
  EXPECT_EQ(logs.error().code, ErrorCode::kNotFound) << logs.error().message;
  auto adopted = executor().adopt(TaskAdoption{task, "/nowhere", 0, "", 0});
  ASSERT_FALSE(adopted.ok());
  EXPECT_EQ(adopted.error().code, ErrorCode::kNotFound) << adopted.error().message;
  EXPECT_TRUE(executor().running().empty());
}

TEST_P(ExecutorContract, ALaunchWithTheIdOfARunningTaskConflicts) {
  const std::string task = id("twice");
  TaskStarted started = launch(task, Program::kRuns);
  auto again = executor().launch(side_->launch_of(task, Program::kRuns));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict) << again.error().message;
  EXPECT_TRUE(side_->alive(started)) << "the refused launch disturbed the running task";
  EXPECT_EQ(executor().running(), std::vector<std::string>{task});
}

TEST_P(ExecutorContract, AfterARestartAdoptFindsTheRunningTask) {
  const std::string task = id("adopted");
  auto launch_request = side_->launch_of(task, Program::kRuns);
  TaskStarted started = launch(task, Program::kRuns);
  ASSERT_TRUE(printed(task));
  side_->restart();
  EXPECT_TRUE(executor().running().empty());
  TaskAdoption adoption{task, sandbox_of(launch_request), started.pid, started.container_id, 0};
  auto adopted = executor().adopt(adoption);
  ASSERT_TRUE(adopted.ok()) << adopted.error().message;
  EXPECT_EQ(adopted->pid, started.pid);
  EXPECT_EQ(adopted->container_id, started.container_id);
  EXPECT_EQ(executor().running(), std::vector<std::string>{task});
  auto twice = executor().adopt(adoption);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict) << twice.error().message;
  // Adopted, it is killed and reported like a launched task.
  ASSERT_TRUE(executor().kill(task, 0ms).ok());
  auto exit = wait_for_exit(task);
  ASSERT_TRUE(exit.has_value()) << "the adopted task's end was not reported";
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_FALSE(side_->alive(started));
}

TEST_P(ExecutorContract, AdoptingATaskThatEndedIsNotFound) {
  const std::string task = id("gone");
  auto launch_request = side_->launch_of(task, Program::kExits3);
  TaskStarted started = launch(task, Program::kExits3);
  ASSERT_TRUE(wait_for_exit(task).has_value());
  side_->restart();
  auto adopted = executor().adopt(
      TaskAdoption{task, sandbox_of(launch_request), started.pid, started.container_id, 0});
  ASSERT_FALSE(adopted.ok());
  EXPECT_EQ(adopted.error().code, ErrorCode::kNotFound) << adopted.error().message;
  EXPECT_TRUE(executor().running().empty());
}

TEST_P(ExecutorContract, StopLeftoversStopsOnlyTheTasksNotKept) {
  const std::string kept = id("kept"), replaced = id("replaced");
  auto kept_launch = side_->launch_of(kept, Program::kRuns);
  TaskStarted kept_started = launch(kept, Program::kRuns);
  TaskStarted replaced_started = launch(replaced, Program::kRuns);
  ASSERT_TRUE(printed(kept) && printed(replaced));
  side_->restart();
  ASSERT_TRUE(executor()
                  .adopt(TaskAdoption{kept, sandbox_of(kept_launch), kept_started.pid,
                                      kept_started.container_id, 0})
                  .ok());
  EXPECT_GE(executor().stop_leftovers({kept}), 1);
  EXPECT_TRUE(eventually([&] { return !side_->alive(replaced_started); }))
      << "the replaced task still runs";
  EXPECT_TRUE(side_->alive(kept_started));
  EXPECT_EQ(executor().running(), std::vector<std::string>{kept});
}

// What an agent does when it stops: its tasks run on, and its next start adopts them.
TEST_P(ExecutorContract, LeaveAllLeavesEveryTaskRunningForTheNextStartToAdopt) {
  const std::string task = id("left");
  auto launch_request = side_->launch_of(task, Program::kRuns);
  TaskStarted started = launch(task, Program::kRuns);
  ASSERT_TRUE(printed(task));
  executor().leave_all();
  EXPECT_TRUE(executor().running().empty());
  side_->stop_and_restart();
  side_->pass(300ms);
  EXPECT_TRUE(side_->alive(started)) << "the task did not outlive its executor";
  auto adopted = executor().adopt(
      TaskAdoption{task, sandbox_of(launch_request), started.pid, started.container_id, 0});
  ASSERT_TRUE(adopted.ok()) << adopted.error().message;
  poll();
  EXPECT_TRUE(seen_.empty()) << "an exit was reported for a task that runs";
  ASSERT_TRUE(executor().kill(task, 0ms).ok());
  auto exit = wait_for_exit(task);
  ASSERT_TRUE(exit.has_value()) << "the adopted task's end was not reported";
  EXPECT_FALSE(side_->alive(started));
}

TEST_P(ExecutorContract, KillAllNowKillsEveryTaskAndReportsEachOnce) {
  const std::string one = id("one"), two = id("two");
  launch(one, Program::kIgnoresSigterm);
  launch(two, Program::kRuns);
  ASSERT_TRUE(printed(one) && printed(two));
  executor().kill_all_now();
  EXPECT_TRUE(executor().running().empty());
  auto first = wait_for_exit(one, 5s);
  auto second = wait_for_exit(two, 5s);
  ASSERT_TRUE(first.has_value() && second.has_value());
  for (const auto& exit : {*first, *second}) {
    EXPECT_TRUE(exit.killed_by_us) << exit.task_id;
    EXPECT_EQ(exit.code, SIGKILL) << exit.task_id << ": " << exit.message;
  }
  poll();
  EXPECT_TRUE(seen_.empty());
}

#ifdef BERTH_EXECUTOR_CONTRACT_DOCKER
INSTANTIATE_TEST_SUITE_P(Docker, ExecutorContract,
                         ::testing::Values(SideFactory{
                             "Docker", true, [] { return std::unique_ptr<Side>(new DockerSide); }}),
                         [](const ::testing::TestParamInfo<SideFactory>& info) {
                           return info.param.name;
                         });
#else
INSTANTIATE_TEST_SUITE_P(
    Executors, ExecutorContract,
    ::testing::Values(
        SideFactory{"Fake", false, [] { return std::unique_ptr<Side>(new FakeSide); }},
        SideFactory{"Process", false, [] { return std::unique_ptr<Side>(new ProcessSide); }}),
    [](const ::testing::TestParamInfo<SideFactory>& info) { return info.param.name; });
#endif

}  // namespace
}  // namespace berth
