// What only the FakeExecutor has: the controls a test uses to make its backend fail. The
// behaviour it shares with the real executors is checked by the contract suite
// (tests/contract/executor_contract_test.cpp).
#include "executor/fake_executor.h"

#include <gtest/gtest.h>

#include <csignal>

namespace berth {
namespace {

using namespace std::chrono_literals;

ProcessSpec spec(const std::string& task_id) {
  ProcessSpec s;
  s.task_id = task_id;
  s.sandbox_dir = "/sandboxes/" + task_id;
  s.cmd = "sleep 60";
  return s;
}

TEST(FakeExecutor, AFailedLaunchLeavesNothingRunningAndTheNextOneWorks) {
  ManualClock clock;
  FakeExecutor executor(clock);
  executor.fail_next_launch(make_error(ErrorCode::kNotFound, "no such image: berth/nothing"));
  auto failed = executor.launch(spec("web.1"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(failed.error().message, "no such image: berth/nothing");
  EXPECT_TRUE(executor.running().empty());
  EXPECT_TRUE(executor.launch(spec("web.1")).ok());
  EXPECT_EQ(executor.running(), std::vector<std::string>{"web.1"});
}

// The fence must not depend on the backend (docs/fencing.md §3).
TEST(FakeExecutor, WithoutABackendOnlyAKillWithoutGraceEndsATask) {
  ManualClock clock;
  FakeExecutor executor(clock);
  ASSERT_TRUE(executor.launch(spec("db.1")).ok());
  ASSERT_TRUE(executor.launch(spec("db.2")).ok());
  executor.set_backend_answers(false);
  EXPECT_FALSE(executor.ready());
  Status opened = executor.open();
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  auto launched = executor.launch(spec("db.3"));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.error().code, ErrorCode::kUnavailable);

  ASSERT_TRUE(executor.kill("db.1", 1s).ok());
  ASSERT_TRUE(executor.kill("db.2", 0ms).ok());
  clock.advance(5s);
  auto exits = executor.poll_exits();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].task_id, "db.2");
  EXPECT_EQ(exits[0].code, SIGKILL);
  EXPECT_EQ(executor.running(), std::vector<std::string>{"db.1"});

  // Once the backend answers again, the SIGKILL that was due goes out.
  executor.set_backend_answers(true);
  exits = executor.poll_exits();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].task_id, "db.1");
  EXPECT_EQ(exits[0].code, SIGKILL);
  EXPECT_TRUE(exits[0].killed_by_us);
}

TEST(FakeExecutor, ControlsOfATaskThatDoesNotRunAreNotFound) {
  ManualClock clock;
  FakeExecutor executor(clock);
  EXPECT_EQ(executor.finish("nope", 0).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(executor.ignore_sigterm("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(executor.write_output("nope", 1, "x").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(executor.launch(spec("app.1")).ok());
  EXPECT_EQ(executor.write_output("app.1", 3, "x").error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(executor.finish("app.1", 0).ok());
  EXPECT_EQ(executor.finish("app.1", 0).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth
