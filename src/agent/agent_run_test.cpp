// An Agent run against a FakeMasterLink, with a hand-set clock and counted ids: it registers,
// heartbeats, starts a launched process task through the real ProcessExecutor and reports
// TASK_RUNNING (and TASK_KILLED after a kill) through the link; with FakeExecutors it does the
// same without forking, and reports how tasks end. The agent's loops (and the real task) are
// real threads and processes, so the test polls with generous deadlines; it sleeps for no fixed
// time.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "agent/agent.h"
#include "agent/fake_master_link.h"
#include "executor/fake_executor.h"

namespace berth::agent {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class CountingIds final : public IdSource {
 public:
  std::string uuid() override {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", ++n_);
    return buf;
  }
  std::string secret() override { return "secret-" + std::to_string(++n_); }

 private:
  std::atomic<int> n_{0};
};

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class AgentAgainstFakeMaster : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-agent-run-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // Tasks run as `nobody` when the test runs as root: it must reach its sandbox.
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  AgentOptions options() const {
    AgentOptions o;
    o.join_token = "join-token";
    o.hostname = "fake-node";
    o.address = "127.0.0.1";
    o.work_dir = (dir_ / "work").string();
    o.cpus = 1;
    o.mem = 256;
    o.disk = 1000;
    o.memory_cgroup_root = (dir_ / "no-cgroup").string();
    o.dataset_pool = (dir_ / "pool").string();
    o.service_router = false;
    o.docker_socket = (dir_ / "no-docker.sock").string();
    fs::create_directories(o.dataset_pool);
    return o;
  }

  // The real parts for `o`, with a clock that is never advanced (the lease cannot run out),
  // counted ids and a fake master (heartbeats every 50 ms, lease 2.5 s) left in `master`; the
  // clock in `clock` when asked for.
  static AgentParts parts_with_fake_master(const AgentOptions& o, FakeMasterLink** master,
                                           std::shared_ptr<ManualClock>* clock = nullptr) {
    AgentParts parts = real_agent_parts(o);
    auto manual = std::make_shared<ManualClock>();
    if (clock) *clock = manual;
    parts.clock = manual;
    parts.ids = std::make_shared<CountingIds>();
    auto link = std::make_unique<FakeMasterLink>(FakeMasterOptions{"join-token", 50, 2500});
    *master = link.get();
    parts.master = std::move(link);
    return parts;
  }

  fs::path dir_;
};

TEST_F(AgentAgainstFakeMaster, HeartbeatsAtTheIntervalTheMastersAnswersAskFor) {
  AgentOptions o = options();
  FakeMasterLink* master = nullptr;
  Agent agent(o, parts_with_fake_master(o, &master));
  Status ran;
  std::thread runner([&] { ran = agent.run(); });
  ASSERT_TRUE(eventually([&] { return master->agents().size() == 1; }));
  const std::string id = master->agents().front();
  ASSERT_TRUE(eventually([&] { return master->heartbeats(id).size() >= 3; }));
  // The master stretches its fleet's timing: from the next answer on, every 400 ms.
  master->set_timing(400, 5000);
  const size_t asked = master->heartbeats(id).size();
  ASSERT_TRUE(eventually([&] { return master->heartbeats(id).size() >= asked + 2; }));
  const size_t before = master->heartbeats(id).size();
  std::this_thread::sleep_for(1200ms);
  const size_t sent = master->heartbeats(id).size() - before;
  EXPECT_GE(sent, 1u);
  EXPECT_LE(sent, 5u) << "at 50 ms it would have sent about 24";
  agent.stop();
  runner.join();
  EXPECT_TRUE(ran.ok()) << ran.error().message;
}

TEST_F(AgentAgainstFakeMaster, RegistersHeartbeatsAndReportsALaunchedTaskRunning) {
  AgentOptions o = options();
  FakeMasterLink* master = nullptr;
  std::shared_ptr<ManualClock> clock;
  Agent agent(o, parts_with_fake_master(o, &master, &clock));
  Status ran;
  std::thread runner([&] { ran = agent.run(); });

  ASSERT_TRUE(eventually([&] { return master->agents().size() == 1; }))
      << "the agent did not register";
  const std::string id = master->agents().front();
  ASSERT_TRUE(eventually([&] { return master->heartbeats(id).size() >= 3; }))
      << "the agent does not heartbeat";
  EXPECT_EQ(master->registration(id)->hostname, "fake-node");

  protocol::LaunchSpec spec;
  spec.task_id = "fake-app.task-1";
  spec.app_id = "/fake-app";
  spec.version = "2024-01-01T00:00:00.000Z";
  spec.cmd = "sleep 60";
  spec.cpus = 0.1;
  spec.mem = 32;
  spec.kill_grace_ms = 500;
  ASSERT_TRUE(master->enqueue_launch(id, spec).ok());
  ASSERT_TRUE(eventually([&] {
    return master->task_state(spec.task_id) == protocol::TaskState::kRunning;
  })) << "no TASK_RUNNING; the task reported: "
      << (master->task_state(spec.task_id) ? protocol::to_string(*master->task_state(spec.task_id))
                                           : "nothing");
  bool stamped = false;
  for (const auto& u : master->status_updates(id)) {
    if (u.task_id != spec.task_id || u.state != protocol::TaskState::kRunning) continue;
    // Its id and time come from the parts the agent was given.
    EXPECT_EQ(u.timestamp, format_iso8601(clock->wall_now()));
    EXPECT_TRUE(u.update_id.starts_with("00000000-0000-4000-8000-")) << u.update_id;
    stamped = true;
  }
  EXPECT_TRUE(stamped);
  EXPECT_TRUE(fs::exists(dir_ / "work" / "sandboxes" / spec.task_id / ".berth-task.json"));

  protocol::Command kill;
  kill.body = protocol::KillCommand{spec.task_id, 500};
  ASSERT_TRUE(master->enqueue(id, kill).ok());
  EXPECT_TRUE(eventually([&] {
    return master->task_state(spec.task_id) == protocol::TaskState::kKilled;
  })) << "no TASK_KILLED; the task reported: "
      << (master->task_state(spec.task_id) ? protocol::to_string(*master->task_state(spec.task_id))
                                           : "nothing");

  agent.stop();
  runner.join();
  EXPECT_TRUE(ran.ok()) << ran.error().message;
}

protocol::LaunchSpec sleeper(const std::string& task_id) {
  protocol::LaunchSpec spec;
  spec.task_id = task_id;
  spec.app_id = "/fake-app";
  spec.version = "2024-01-01T00:00:00.000Z";
  spec.cmd = "sleep 60";
  spec.cpus = 0.1;
  spec.mem = 32;
  spec.kill_grace_ms = 500;
  return spec;
}

std::string state_of(FakeMasterLink* master, const std::string& task_id) {
  auto state = master->task_state(task_id);
  return state ? protocol::to_string(*state) : "nothing";
}

TEST_F(AgentAgainstFakeMaster, LaunchesKillsAndReportsTasksThroughItsExecutors) {
  AgentOptions o = options();
  AgentParts parts = real_agent_parts(o);
  auto clock = std::make_shared<ManualClock>();  // never advanced: the lease cannot run out
  parts.clock = clock;
  parts.ids = std::make_shared<CountingIds>();
  auto link = std::make_unique<FakeMasterLink>(FakeMasterOptions{"join-token", 50, 2500});
  FakeMasterLink* master = link.get();
  parts.master = std::move(link);
  auto processes = std::make_unique<FakeExecutor>(*clock);
  auto containers = std::make_unique<FakeExecutor>(*clock);
  FakeExecutor* executor = processes.get();
  FakeExecutor* docker = containers.get();
  parts.executor = std::move(processes);
  parts.docker = std::move(containers);
  Agent agent(o, std::move(parts));
  std::thread runner([&] { (void)agent.run(); });
  ASSERT_TRUE(eventually([&] { return master->agents().size() == 1; }))
      << "the agent did not register";
  const std::string id = master->agents().front();

  // A process task: the executor gets its spec, the master hears it runs.
  protocol::LaunchSpec spec = sleeper("fake-app.process");
  ASSERT_TRUE(master->enqueue_launch(id, spec).ok());
  ASSERT_TRUE(eventually([&] {
    return master->task_state(spec.task_id) == protocol::TaskState::kRunning;
  })) << "no TASK_RUNNING; the task reported: "
      << state_of(master, spec.task_id);
  auto launched = executor->launched(spec.task_id);
  ASSERT_TRUE(launched.has_value());
  const ProcessSpec* process = std::get_if<ProcessSpec>(&*launched);
  ASSERT_NE(process, nullptr) << "a task without a container was not launched as a process";
  EXPECT_EQ(process->cmd, "sleep 60");
  EXPECT_EQ(process->env.at("MESOS_TASK_ID"), spec.task_id);
  EXPECT_EQ(process->sandbox_dir, o.work_dir + "/sandboxes/" + spec.task_id);
  EXPECT_TRUE(docker->running().empty());

  // Killed with its grace: the fake ends on the SIGTERM, and the master hears TASK_KILLED.
  protocol::Command kill;
  kill.body = protocol::KillCommand{spec.task_id, 500};
  ASSERT_TRUE(master->enqueue(id, kill).ok());
  EXPECT_TRUE(eventually([&] {
    return master->task_state(spec.task_id) == protocol::TaskState::kKilled;
  })) << "no TASK_KILLED; the task reported: "
      << state_of(master, spec.task_id);
  EXPECT_TRUE(executor->running().empty());

  // Tasks that end by themselves: FINISHED with code 0, FAILED with the exit in the message.
  protocol::LaunchSpec done = sleeper("fake-app.done"), failing = sleeper("fake-app.failing");
  ASSERT_TRUE(master->enqueue_launch(id, done).ok());
  ASSERT_TRUE(master->enqueue_launch(id, failing).ok());
  ASSERT_TRUE(eventually([&] { return executor->running().size() == 2; }))
      << "the launches did not arrive";
  ASSERT_TRUE(executor->finish(done.task_id, 0).ok());
  ASSERT_TRUE(executor->finish(failing.task_id, 2).ok());
  EXPECT_TRUE(eventually([&] {
    return master->task_state(done.task_id) == protocol::TaskState::kFinished;
  })) << done.task_id
      << " reported " << state_of(master, done.task_id);
  EXPECT_TRUE(eventually([&] {
    return master->task_state(failing.task_id) == protocol::TaskState::kFailed;
  })) << failing.task_id
      << " reported " << state_of(master, failing.task_id);
  bool said = false;
  for (const auto& u : master->status_updates(id)) {
    said = said || (u.task_id == failing.task_id && u.message == "exited with code 2");
  }
  EXPECT_TRUE(said) << "TASK_FAILED does not say how the task ended";

  // A DOCKER task goes to the Docker executor, with its create body.
  protocol::LaunchSpec boxed = sleeper("fake-app.boxed");
  boxed.container = model::ContainerSpec{};
  boxed.container->docker = model::DockerSpec{"berth/busybox", false, false, {}};
  boxed.networks = {{"host", ""}};
  ASSERT_TRUE(master->enqueue_launch(id, boxed).ok());
  ASSERT_TRUE(eventually([&] {
    return master->task_state(boxed.task_id) == protocol::TaskState::kRunning;
  })) << "no TASK_RUNNING; the container task reported: "
      << state_of(master, boxed.task_id);
  auto container = docker->launched(boxed.task_id);
  ASSERT_TRUE(container.has_value());
  const DockerLaunch* body = std::get_if<DockerLaunch>(&*container);
  ASSERT_NE(body, nullptr);
  EXPECT_NE(body->create_body.find("berth/busybox"), std::string::npos) << body->create_body;
  EXPECT_FALSE(executor->launched(boxed.task_id).has_value());

  // Stopping the agent kills what still runs.
  agent.stop();
  runner.join();
  EXPECT_TRUE(docker->running().empty());
}

// A "datasets" command's list is built when the agent's poll fetches it, so one built before
// the answer that grants a dataset can arrive after it. It must not make the agent let go of
// the granted dataset, whose task is about to be launched on it; one that names the dataset at
// another epoch (a move) still does (docs/fencing.md §4).
TEST_F(AgentAgainstFakeMaster, ADatasetsCommandKeepsTheGrantsAtItsEpochsAndLetsGoOfMoves) {
  AgentOptions o = options();
  FakeMasterLink* master = nullptr;
  Agent agent(o, parts_with_fake_master(o, &master));
  std::thread runner([&] { (void)agent.run(); });
  struct Stop {
    Agent& agent;
    std::thread& runner;
    ~Stop() {
      agent.stop();
      runner.join();
    }
  } stop{agent, runner};
  ASSERT_TRUE(eventually([&] { return master->agents().size() == 1; }));
  const std::string id = master->agents().front();

  const std::string dataset = "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10";
  protocol::DatasetAssignment granted;
  granted.dataset_id = dataset;
  granted.driver = "shared";
  granted.epoch = 2;
  granted.size_bytes = 1 << 20;
  granted.attach = true;
  master->set_assignments(id, {granted});
  auto attached_at = [&](const protocol::Heartbeat& hb) {
    for (const auto& d : hb.datasets) {
      if (d.dataset_id == dataset && d.attached && d.epoch == 2) return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually([&] {
    auto hbs = master->heartbeats(id);
    return !hbs.empty() && attached_at(hbs.back());
  })) << "the granted dataset was not attached";

  protocol::DatasetAssignment listed = granted;
  listed.attach = false;
  const size_t before = master->heartbeats(id).size();
  ASSERT_TRUE(master->enqueue(id, protocol::Command{0, "", protocol::DatasetsCommand{{listed}}}));
  // A kill of a task the agent never had comes after it in order; its answer says the agent
  // executed the datasets command.
  ASSERT_TRUE(master->enqueue(id, protocol::Command{0, "", protocol::KillCommand{"no-task", 0}}));
  ASSERT_TRUE(eventually([&] { return master->task_state("no-task").has_value(); }));
  const size_t executed = master->heartbeats(id).size();
  ASSERT_TRUE(eventually([&] { return master->heartbeats(id).size() >= executed + 10; }));
  auto hbs = master->heartbeats(id);
  for (size_t i = before; i < hbs.size(); ++i) {
    EXPECT_TRUE(attached_at(hbs[i])) << "heartbeat " << hbs[i].seq << " reports it let go";
  }

  // The dataset moved on (epoch 3): the command makes the agent let go at once, although this
  // fake's answers still grant epoch 2 and have it attached again after.
  listed.epoch = 3;
  const size_t moved = master->heartbeats(id).size();
  ASSERT_TRUE(master->enqueue(id, protocol::Command{0, "", protocol::DatasetsCommand{{listed}}}));
  EXPECT_TRUE(eventually([&] {
    auto all = master->heartbeats(id);
    for (size_t i = moved; i < all.size(); ++i) {
      if (!attached_at(all[i])) return true;
    }
    return false;
  })) << "a command naming a newer epoch did not make the agent let go";
}

TEST_F(AgentAgainstFakeMaster, RegistersAgainWhenTheMasterForgetsIt) {
  AgentOptions o = options();
  FakeMasterLink* master = nullptr;
  Agent agent(o, parts_with_fake_master(o, &master));
  std::thread runner([&] { (void)agent.run(); });

  ASSERT_TRUE(eventually([&] { return master->agents().size() == 1; }))
      << "the agent did not register";
  const std::string id = master->agents().front();
  master->forget(id);
  // It keeps its id (docs/protocol.md §2) and heartbeats again under its new registration.
  EXPECT_TRUE(eventually([&] { return master->heartbeats(id).size() >= 2; }))
      << "the agent did not come back";
  EXPECT_EQ(master->agents(), std::vector<std::string>{id});

  agent.stop();
  runner.join();
}

}  // namespace
}  // namespace berth::agent
