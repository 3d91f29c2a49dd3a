// MasterCore's command long poll holding no thread (poll_commands, docs/protocol.md §5): parked
// polls are answered when a command is queued for their agent, when it is lost or must
// register, when it registers again and at shutdown; abandoned ones are dropped unanswered.
// An in-memory store and a clock advanced by hand; answers are given on the thread that caused
// them, so each test sees them at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "master/master_core.h"
#include "master/test_support.h"
#include "store/memory_store.h"

namespace berth::master {
namespace {

using std::chrono::milliseconds;
using testing::CountingIds;
using testing::parsed_app;

const std::string kA = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kB = "bbbbbbbb-0000-4000-8000-000000000002";

// One poll's waiter and what it was answered, if anything.
struct Poll {
  std::mutex mu;
  std::optional<Result<protocol::CommandBatch>> answer;
  int answers = 0;
  bool abandoned = false;

  CommandWaiter waiter(std::function<void()> on_answer = nullptr) {
    CommandWaiter w;
    w.answer = [this, on_answer](Result<protocol::CommandBatch> batch) {
      if (on_answer) on_answer();
      std::lock_guard<std::mutex> lock(mu);
      answer = std::move(batch);
      ++answers;
    };
    w.abandoned = [this] {
      std::lock_guard<std::mutex> lock(mu);
      return abandoned;
    };
    return w;
  }
  bool answered() {
    std::lock_guard<std::mutex> lock(mu);
    return answers > 0;
  }
  // The commands answered; fails the test for an error.
  std::vector<protocol::Command> commands() {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(answer && answer->ok()) << (answer ? answer->error().message : "no answer");
    return answer && answer->ok() ? (*answer)->commands : std::vector<protocol::Command>{};
  }
};

class CommandPolls : public ::testing::Test {
 protected:
  void SetUp() override { start(MasterOptions{}); }

  void start(MasterOptions options) {
    options.join_token = "t";
    options.timing.margin = milliseconds(500);  // lost after 3000 ms
    core_ = std::make_unique<MasterCore>(options, store_, clock_, ids_);
    ASSERT_TRUE(core_->load().ok());
    join(kA);
    join(kB);
    clock_.advance(std::chrono::seconds(4));  // past the start-up grace
  }

  void join(const std::string& id) {
    protocol::RegisterRequest r;
    r.token = "t";
    r.agent_id = id;
    r.hostname = "node-" + id.substr(0, 1);
    auto registered = core_->register_agent(r);
    ASSERT_TRUE(registered.ok()) << registered.error().message;
    secrets_[id] = registered->agent_secret;
    after_[id] = registered->next_command_seq;
  }

  Result<protocol::HeartbeatAck> beat(const std::string& id) {
    protocol::Heartbeat hb;
    hb.seq = ++heartbeats_[id];
    hb.applied_seq = hb.seq - 1;
    return core_->heartbeat(id, secrets_[id], hb);
  }

  // A status report of a running task the master never launched: it queues a kill of it.
  void report_stray(const std::string& id, const std::string& task_id) {
    protocol::StatusUpdate update;
    update.update_id = "u-" + task_id;
    update.task_id = task_id;
    update.state = protocol::TaskState::kRunning;
    ASSERT_TRUE(core_->status(id, protocol::StatusBatch{{update}}).ok());
  }

  void park(const std::string& id, Poll& poll, std::function<void()> on_answer = nullptr) {
    core_->poll_commands(id, after_[id], poll.waiter(std::move(on_answer)));
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  std::unique_ptr<MasterCore> core_;
  std::map<std::string, std::string> secrets_;
  std::map<std::string, uint64_t> after_;
  std::map<std::string, uint64_t> heartbeats_;
};

TEST_F(CommandPolls, AParkedPollIsAnsweredWithTheCommandQueuedAfterItWithoutTheLock) {
  Poll poll;
  std::optional<bool> lock_free;
  park(kA, poll, [&] {
    // A heartbeat on another thread gets the state lock within its budget only if the answer
    // is not given under it.
    lock_free = std::async(std::launch::async, [&] {
                  auto ack = beat(kB);
                  return ack.ok() && !ack->lease_only;
                }).get();
  });
  EXPECT_FALSE(poll.answered());
  EXPECT_EQ(core_->parked_polls(), 1u);

  report_stray(kA, "stray.1");
  ASSERT_TRUE(poll.answered());
  auto commands = poll.commands();
  ASSERT_EQ(commands.size(), 1u);
  ASSERT_NE(commands[0].as<protocol::KillCommand>(), nullptr);
  EXPECT_EQ(commands[0].as<protocol::KillCommand>()->task_id, "stray.1");
  EXPECT_EQ(lock_free, true) << "the answer was given under the master's lock";
  EXPECT_EQ(core_->parked_polls(), 0u);

  Poll other;
  park(kB, other);
  report_stray(kA, "stray.2");
  EXPECT_FALSE(other.answered()) << "a command for A woke B's poll";
}

TEST_F(CommandPolls, APollWithCommandsQueuedIsAnsweredAtOnce) {
  report_stray(kA, "stray.1");
  Poll poll;
  park(kA, poll);
  ASSERT_TRUE(poll.answered());
  EXPECT_EQ(poll.commands().size(), 1u);
  EXPECT_EQ(core_->parked_polls(), 0u);

  Poll beyond;
  core_->poll_commands(kA, after_[kA] + 5, beyond.waiter());
  ASSERT_TRUE(beyond.answered());
  ASSERT_FALSE(beyond.answer->ok());
  EXPECT_EQ(beyond.answer->error().code, ErrorCode::kInvalidArgument);
}

TEST_F(CommandPolls, AbandonedPollsAreDroppedUnanswered) {
  Poll gone;
  park(kA, gone);
  gone.abandoned = true;
  report_stray(kA, "stray.1");
  EXPECT_FALSE(gone.answered());
  EXPECT_EQ(core_->parked_polls(), 0u);

  Poll left, next;
  park(kB, left);
  left.abandoned = true;
  park(kB, next);
  EXPECT_EQ(core_->parked_polls(), 1u) << "a new poll drops its agent's abandoned ones";
  report_stray(kB, "stray.2");
  EXPECT_FALSE(left.answered());
  EXPECT_TRUE(next.answered());
}

TEST_F(CommandPolls, TheOldestOfTooManyPollsOfAnAgentGetsAnEmptyBatch) {
  std::vector<std::unique_ptr<Poll>> polls;
  for (size_t i = 0; i <= MasterCore::kMaxPollsPerAgent; ++i) {
    polls.push_back(std::make_unique<Poll>());
    park(kA, *polls.back());
  }
  ASSERT_TRUE(polls[0]->answered());
  EXPECT_TRUE(polls[0]->commands().empty());
  for (size_t i = 1; i < polls.size(); ++i) EXPECT_FALSE(polls[i]->answered()) << i;
  EXPECT_EQ(core_->parked_polls(), MasterCore::kMaxPollsPerAgent);
}

TEST_F(CommandPolls, ShutdownAnswersEveryPollAndLaterOnesAtOnce) {
  Poll a, b;
  park(kA, a);
  park(kB, b);
  core_->shutdown();
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(b.answered());
  EXPECT_TRUE(a.commands().empty());
  EXPECT_TRUE(b.commands().empty());
  Poll late;
  park(kA, late);
  EXPECT_TRUE(late.answered());
  EXPECT_EQ(core_->parked_polls(), 0u);
}

TEST_F(CommandPolls, ALostAgentsPollIsAnsweredRegisterAgain) {
  Poll poll;
  park(kA, poll);
  clock_.advance(milliseconds(3500));
  ASSERT_TRUE(beat(kB).ok());
  core_->reconcile();
  ASSERT_TRUE(poll.answered());
  ASSERT_FALSE(poll.answer->ok());
  EXPECT_EQ(poll.answer->error().code, ErrorCode::kNotFound) << poll.answer->error().message;
}

TEST_F(CommandPolls, AnAgentThatMustRegisterHasItsPollAnsweredRegisterAgain) {
  MasterOptions options;
  options.max_outbox = 0;  // the first command overflows the outbox
  start(options);
  Poll poll;
  park(kA, poll);
  report_stray(kA, "stray.1");
  ASSERT_TRUE(poll.answered());
  ASSERT_FALSE(poll.answer->ok());
  EXPECT_EQ(poll.answer->error().code, ErrorCode::kNotFound) << poll.answer->error().message;
}

TEST_F(CommandPolls, ARegistrationAnswersThePollsOfThePreviousOneWithAnEmptyBatch) {
  Poll poll;
  park(kA, poll);
  join(kA);
  ASSERT_TRUE(poll.answered());
  EXPECT_TRUE(poll.commands().empty());
  EXPECT_EQ(core_->parked_polls(), 0u);
}

TEST_F(CommandPolls, TheBlockingPollStillWaitsForACommandOrItsWait) {
  auto start = std::chrono::steady_clock::now();
  auto empty = core_->commands(kA, after_[kA], milliseconds(200));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->commands.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(190));

  std::thread reporter([&] {
    std::this_thread::sleep_for(milliseconds(100));
    report_stray(kA, "stray.1");
  });
  auto batch = core_->commands(kA, after_[kA], milliseconds(10000));
  reporter.join();
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->commands.size(), 1u);
  EXPECT_EQ(core_->parked_polls(), 0u);
}

// The heartbeat's budget for the state lock counts from the request's arrival (docs/protocol.md
// §5): one that already waited its budget for a thread takes the lock only if it is free, and
// answers with the lease alone at once; one that has budget left waits for the lock.
TEST_F(CommandPolls, AHeartbeatsBudgetForTheStateLockCountsTheTimeItAlreadyWaited) {
  MasterOptions options;
  options.heartbeat_lock_budget = std::chrono::seconds(20);
  start(options);
  std::mutex gate;
  std::atomic<bool> holding{false};
  std::unique_lock<std::mutex> closed(gate);
  // A store write under the state lock that waits at the gate holds the lock until it opens.
  uint64_t watch = store_.watch("", [&](const WatchEvent&) {
    holding = true;
    std::lock_guard<std::mutex> pass(gate);
  });
  auto writer = std::async(std::launch::async, [&] {
    return core_->create_app(parsed_app(R"({"id":"/held","cmd":"sleep 100"})"), false).ok();
  });
  while (!holding) std::this_thread::sleep_for(milliseconds(1));

  protocol::Heartbeat hb;
  hb.seq = ++heartbeats_[kA];
  hb.applied_seq = hb.seq - 1;
  const auto before = std::chrono::steady_clock::now();
  auto spent = core_->heartbeat(kA, secrets_[kA], hb, options.heartbeat_lock_budget);
  ASSERT_TRUE(spent.ok()) << spent.error().message;
  EXPECT_TRUE(spent->lease_only);
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(10))
      << "waited for the lock past a budget already spent";

  hb.seq = ++heartbeats_[kA];
  auto waiting = std::async(std::launch::async, [&] {
    return core_->heartbeat(kA, secrets_[kA], hb, milliseconds(100));
  });
  EXPECT_EQ(waiting.wait_for(milliseconds(200)), std::future_status::timeout)
      << "gave up with budget left";
  closed.unlock();
  auto full = waiting.get();
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_FALSE(full->lease_only);
  EXPECT_TRUE(writer.get());
  store_.unwatch(watch);
}

}  // namespace
}  // namespace berth::master
