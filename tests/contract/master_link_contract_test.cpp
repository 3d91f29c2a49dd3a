// The MasterLink contract (docs/protocol.md): every test in MasterLinkContract runs against
// FakeMasterLink and against HttpMasterLink talking to a real master in this process (MasterCore
// with an in-memory store and the API's routes served over HTTP on 127.0.0.1), so the fake
// cannot drift from the master agents really talk to.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/fake_master_link.h"
#include "agent/http_master_link.h"
#include "api/auth.h"
#include "api/marathon_api.h"
#include "base/clock.h"
#include "base/ids.h"
#include "http/http.h"
#include "master/master_core.h"
#include "store/store.h"

namespace berth::agent {
namespace {

using namespace std::chrono_literals;
using Clocked = std::chrono::steady_clock;

constexpr const char* kToken = "contract-join-token";
constexpr const char* kUnknownAgent = "ffffffff-0000-4000-8000-00000000dead";

// The master's side behind a link: what a check needs to make the master do or tell.
class MasterSide {
 public:
  virtual ~MasterSide() = default;
  virtual MasterLink& link() = 0;
  // Makes the master queue a launch for the agent (the real master: by creating an app).
  virtual void queue_launch(const std::string& agent_id) = 0;
  // The state the master holds for the task ("" when it knows none).
  virtual std::optional<protocol::TaskState> task_state(const std::string& task_id) = 0;
};

class FakeSide final : public MasterSide {
 public:
  FakeSide() : link_(FakeMasterOptions{kToken, 500, 2500}) {}
  MasterLink& link() override { return link_; }
  void queue_launch(const std::string& agent_id) override {
    protocol::LaunchSpec spec;
    spec.task_id = "contract.task-" + std::to_string(++launches_);
    spec.app_id = "/contract";
    spec.cmd = "sleep 1000";
    ASSERT_TRUE(link_.enqueue_launch(agent_id, spec).ok());
  }
  std::optional<protocol::TaskState> task_state(const std::string& task_id) override {
    return link_.task_state(task_id);
  }

 private:
  FakeMasterLink link_;
  int launches_ = 0;
};

// The system clock, moved forward by hand: the master's restart grace (docs/architecture.md §4)
// is skipped without waiting for it. Safe to read from any thread.
class ShiftedClock final : public Clock {
 public:
  WallTime wall_now() const override { return std::chrono::system_clock::now() + offset(); }
  MonoTime mono_now() const override { return std::chrono::steady_clock::now() + offset(); }
  void advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }

 private:
  std::chrono::nanoseconds offset() const { return std::chrono::nanoseconds(offset_ns_.load()); }
  std::atomic<int64_t> offset_ns_{0};
};

// A real master: MasterCore, the API's routes over HTTP on an ephemeral port, and a reconcile
// loop, as `berth master` runs them.
class RealSide final : public MasterSide {
 public:
  // `dead_first`: the link is given a master that does not answer (nothing listens on port 1)
  // before the real one, as an agent configured with several masters may be.
  explicit RealSide(bool dead_first = false) {
    store_ = make_memory_store();
    master::MasterOptions options;
    options.join_token = kToken;
    core_ = std::make_unique<master::MasterCore>(options, *store_, clock_, ids_);
    EXPECT_TRUE(core_->load().ok());
    clock_.advance(options.timing.lost_after() + 1s);
    auth_ = std::make_unique<api::Authenticator>(*store_, clock_, ids_);
    EXPECT_TRUE(auth_->load().ok());
    auth_->disable();
    http::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    auto server = http::serve(so, [this](const http::Request& r) {
      return api::handle_request(*core_, clock_, info_, *auth_, r);
    });
    EXPECT_TRUE(server.ok()) << (server.ok() ? "" : server.error().message);
    if (server.ok()) server_ = std::move(*server);
    url_ = "http://127.0.0.1:" + std::to_string(server_ ? server_->port() : 0);
    link_ = std::make_unique<HttpMasterLink>(
        HttpMasterLinkOptions{dead_first ? "http://127.0.0.1:1," + url_ : url_});
    reconciler_ = std::thread([this] {
      while (!stopping_) {
        core_->reconcile();
        std::this_thread::sleep_for(20ms);
      }
    });
  }
  ~RealSide() override {
    stopping_ = true;
    reconciler_.join();
    core_->shutdown();
    if (server_) server_->stop();
  }
  MasterLink& link() override { return *link_; }
  void queue_launch(const std::string&) override {
    auto res =
        http::request(url_, "POST", "/v2/apps",
                      R"({"id":"/contract","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":1})");
    ASSERT_TRUE(res.ok()) << res.error().message;
    ASSERT_EQ(res->status, 201) << res->body;
  }
  std::optional<protocol::TaskState> task_state(const std::string& task_id) override {
    std::optional<protocol::TaskState> state;
    core_->read([&](const master::MasterState& s) {
      auto it = s.tasks.find(task_id);
      if (it != s.tasks.end()) state = it->second.state;
    });
    return state;
  }

 private:
  ShiftedClock clock_;
  RandomIdSource ids_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<master::MasterCore> core_;
  std::unique_ptr<api::Authenticator> auth_;
  api::ApiInfo info_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  std::unique_ptr<HttpMasterLink> link_;
  std::atomic<bool> stopping_{false};
  std::thread reconciler_;
};

struct SideFactory {
  std::string name;
  std::function<std::unique_ptr<MasterSide>()> make;
};

std::ostream& operator<<(std::ostream& out, const SideFactory& f) { return out << f.name; }

class MasterLinkContract : public ::testing::TestWithParam<SideFactory> {
 protected:
  void SetUp() override { side_ = GetParam().make(); }
  void TearDown() override { side_.reset(); }

  MasterLink& link() { return side_->link(); }

  static protocol::RegisterRequest join_request(const std::string& previous_id = "") {
    protocol::RegisterRequest r;
    r.token = kToken;
    r.agent_id = previous_id;
    r.hostname = "contract-node";
    r.address = "127.0.0.1";
    r.resources.cpus = 4;
    r.resources.mem = 4096;
    r.resources.disk = 10000;
    r.resources.ports = {{31000, 32000}};
    return r;
  }

  // Registers; records a failure (and returns an empty response) when it does not work.
  protocol::RegisterResponse join(const std::string& previous_id = "") {
    auto r = link().register_agent(join_request(previous_id));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : protocol::RegisterResponse{};
  }

  static AgentCredential who(const protocol::RegisterResponse& r) {
    return {r.agent_id, r.agent_secret};
  }

  Result<protocol::HeartbeatAck> beat(const AgentCredential& agent, uint64_t seq) {
    protocol::Heartbeat hb;
    hb.seq = seq;
    return link().heartbeat(agent, hb, 5s);
  }

  static protocol::StatusUpdate update(const std::string& id, const std::string& task_id,
                                       protocol::TaskState state) {
    protocol::StatusUpdate u;
    u.update_id = id;
    u.task_id = task_id;
    u.app_id = "/contract";
    u.state = state;
    u.timestamp = format_iso8601(std::chrono::system_clock::now());
    return u;
  }

  // Polls (heartbeating between polls, so the agent stays alive) until a launch arrives or
  // 20 s pass. Checks that sequence numbers only grow. Updates *after to the last seq seen.
  std::optional<protocol::Command> wait_for_launch(const AgentCredential& agent, uint64_t* after) {
    auto deadline = Clocked::now() + 20s;
    uint64_t hb = 0;
    while (Clocked::now() < deadline) {
      EXPECT_TRUE(beat(agent, ++hb).ok());
      auto batch = link().poll_commands(agent, *after, 500ms);
      EXPECT_TRUE(batch.ok()) << batch.error().message;
      if (!batch.ok()) return std::nullopt;
      std::optional<protocol::Command> launch;
      for (const auto& c : batch->commands) {
        EXPECT_GT(c.seq, *after) << "a command at or before the acknowledged seq came back";
        *after = c.seq;
        if (c.as<protocol::LaunchCommand>() && !launch) launch = c;
      }
      if (launch) return launch;
    }
    ADD_FAILURE() << "no launch arrived within 20 s";
    return std::nullopt;
  }

  std::unique_ptr<MasterSide> side_;
};

TEST_P(MasterLinkContract, RegisterReturnsAnIdAndASecret) {
  auto r = join();
  EXPECT_FALSE(r.agent_id.empty());
  EXPECT_FALSE(r.agent_secret.empty());
  EXPECT_GT(r.heartbeat_interval_ms, 0);
  EXPECT_GT(r.lease_ms, r.heartbeat_interval_ms);
  auto other = join();
  EXPECT_NE(other.agent_id, r.agent_id);
  EXPECT_NE(other.agent_secret, r.agent_secret);
}

TEST_P(MasterLinkContract, RegisterWithAWrongJoinTokenIsRefused) {
  auto request = join_request();
  request.token = "not-the-token";
  auto r = link().register_agent(request);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << r.error().message;
}

TEST_P(MasterLinkContract, ReRegisteringKeepsTheIdAndReplacesTheSecret) {
  auto first = join();
  auto again = join(first.agent_id);
  EXPECT_EQ(again.agent_id, first.agent_id);
  EXPECT_NE(again.agent_secret, first.agent_secret);
  auto stale = beat(who(first), 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, kRegisterAgain) << stale.error().message;
  EXPECT_TRUE(beat(who(again), 2).ok());
}

// A registration older than a heartbeat already taken is a late copy of an earlier attempt
// (docs/protocol.md §6): it must not replace the registration in force.
TEST_P(MasterLinkContract, ALateCopyOfARegistrationDoesNotReplaceTheOneInForce) {
  auto first = join();
  ASSERT_TRUE(beat(who(first), 5).ok());
  auto late = join_request(first.agent_id);
  late.heartbeat_seq = 3;
  EXPECT_FALSE(link().register_agent(late).ok());
  EXPECT_TRUE(beat(who(first), 6).ok()) << "the registration in force still holds";
  // The same process registering at its current count is a registration like any other.
  late.heartbeat_seq = 6;
  auto again = link().register_agent(late);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(beat(who(*again), 7).ok());
}

TEST_P(MasterLinkContract, HeartbeatWithTheSecretIsAcked) {
  auto r = join();
  auto ack = beat(who(r), 7);
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(ack->seq, 7u);
  EXPECT_EQ(ack->lease_ms, r.lease_ms);
  auto next = beat(who(r), 8);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->seq, 8u);
}

TEST_P(MasterLinkContract, HeartbeatForAnUnknownAgentAsksToRegisterAgain) {
  join();
  auto ack = beat(AgentCredential{kUnknownAgent, "some-secret"}, 1);
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.error().code, kRegisterAgain) << ack.error().message;
}

TEST_P(MasterLinkContract, HeartbeatWithAWrongSecretAsksToRegisterAgain) {
  auto r = join();
  for (const std::string& secret : {std::string("wrong"), std::string()}) {
    auto ack = beat(AgentCredential{r.agent_id, secret}, 1);
    ASSERT_FALSE(ack.ok()) << "secret '" << secret << "' was accepted";
    EXPECT_EQ(ack.error().code, kRegisterAgain) << ack.error().message;
  }
  EXPECT_TRUE(beat(who(r), 2).ok());
}

TEST_P(MasterLinkContract, StatusAndPollsOfAnUnknownAgentAskToRegisterAgain) {
  auto r = join();
  AgentCredential stranger{kUnknownAgent, r.agent_secret};
  auto ack = link().send_status(
      stranger, protocol::StatusBatch{{update("u-1", "t-1", protocol::TaskState::kRunning)}});
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.error().code, kRegisterAgain) << ack.error().message;
  auto batch = link().poll_commands(AgentCredential{r.agent_id, "wrong"}, r.next_command_seq, 0ms);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error().code, kRegisterAgain) << batch.error().message;
}

TEST_P(MasterLinkContract, AQueuedLaunchArrivesOnceWithGrowingSeqs) {
  auto r = join();
  uint64_t after = r.next_command_seq;
  side_->queue_launch(r.agent_id);
  auto launch = wait_for_launch(who(r), &after);
  ASSERT_TRUE(launch.has_value());
  EXPECT_FALSE(launch->command_id.empty());
  EXPECT_FALSE(launch->as<protocol::LaunchCommand>()->spec.task_id.empty());
  // Asking for what follows acknowledges it: it never comes back.
  auto deadline = Clocked::now() + 1s;
  while (Clocked::now() < deadline) {
    auto batch = link().poll_commands(who(r), after, 200ms);
    ASSERT_TRUE(batch.ok()) << batch.error().message;
    for (const auto& c : batch->commands) {
      EXPECT_GT(c.seq, after);
      EXPECT_NE(c.command_id, launch->command_id)
          << "the launch came back after it was acknowledged";
      after = c.seq;
    }
  }
}

TEST_P(MasterLinkContract, StatusUpdatesAreAckedByIdAndResendingIsIdempotent) {
  auto r = join();
  uint64_t after = r.next_command_seq;
  side_->queue_launch(r.agent_id);
  auto launch = wait_for_launch(who(r), &after);
  ASSERT_TRUE(launch.has_value());
  const std::string task = launch->as<protocol::LaunchCommand>()->spec.task_id;
  auto running = update("update-running-1", task, protocol::TaskState::kRunning);
  auto ack = link().send_status(who(r), protocol::StatusBatch{{running}});
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(ack->acked, std::vector<std::string>{"update-running-1"});
  EXPECT_EQ(side_->task_state(task), protocol::TaskState::kRunning);
  // At least once: the same update again is acknowledged again and changes nothing.
  auto again = link().send_status(who(r), protocol::StatusBatch{{running}});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->acked, std::vector<std::string>{"update-running-1"});
  EXPECT_EQ(side_->task_state(task), protocol::TaskState::kRunning);
}

TEST_P(MasterLinkContract, ARunningUpdateOfATaskTheMasterNeverLaunchedGetsAKill) {
  auto r = join();
  auto ack = link().send_status(
      who(r),
      protocol::StatusBatch{{update("u-stray", "stray.task", protocol::TaskState::kRunning)}});
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(ack->acked, std::vector<std::string>{"u-stray"});
  auto batch = link().poll_commands(who(r), r.next_command_seq, 2s);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  bool killed = false;
  for (const auto& c : batch->commands)
    killed = killed || (c.as<protocol::KillCommand>() &&
                        c.as<protocol::KillCommand>()->task_id == "stray.task");
  EXPECT_TRUE(killed);
}

TEST_P(MasterLinkContract, PollWithWaitReturnsWithinTheWaitWhenNothingIsQueued) {
  auto r = join();
  uint64_t after = r.next_command_seq;
  // Whatever the master queued at registration (the routing table) is taken first.
  for (int i = 0; i < 10; ++i) {
    auto batch = link().poll_commands(who(r), after, 0ms);
    ASSERT_TRUE(batch.ok()) << batch.error().message;
    if (batch->commands.empty()) break;
    after = batch->commands.back().seq;
  }
  auto start = Clocked::now();
  auto batch = link().poll_commands(who(r), after, 300ms);
  auto took = Clocked::now() - start;
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_TRUE(batch->commands.empty());
  EXPECT_GE(took, 250ms) << "the poll did not wait";
  EXPECT_LT(took, 300ms + 3s) << "the poll waited past its wait";
}

TEST_P(MasterLinkContract, PollingAfterTheLastCommandSentIsRefused) {
  auto r = join();
  auto batch = link().poll_commands(who(r), r.next_command_seq + 5, 0ms);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error().code, ErrorCode::kInvalidArgument) << batch.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Links, MasterLinkContract,
    ::testing::Values(SideFactory{"Fake", [] { return std::unique_ptr<MasterSide>(new FakeSide); }},
                      SideFactory{"HttpToRealMaster",
                                  [] { return std::unique_ptr<MasterSide>(new RealSide); }},
                      SideFactory{"HttpToRealMasterAfterADeadOne",
                                  [] { return std::unique_ptr<MasterSide>(new RealSide(true)); }}),
    [](const ::testing::TestParamInfo<SideFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::agent
