#include "control/app_controller.h"

#include <gtest/gtest.h>

namespace berth::control {
namespace {

// The views point into the literals, which outlive every test.
TaskView task(const char* id, const char* config, std::string state = "TASK_RUNNING",
              int64_t started = 0) {
  TaskView t;
  t.task_id = id;
  t.config_version = config;
  t.running = state == "TASK_RUNNING";
  t.healthy = t.running;
  t.started_at_ms = started;
  t.staged_at_ms = started;
  return t;
}

AppView app(uint32_t n, std::string config = "v1") {
  AppView a;
  a.instances = n;
  a.config_version = std::move(config);
  return a;
}

}  // namespace

TEST(AppController, LaunchesMissingInstances) {
  auto plan = plan_app(app(5), {task("a", "v1"), task("b", "v1")});
  EXPECT_EQ(plan.launch, 3u);
  EXPECT_TRUE(plan.kill.empty());
}

TEST(AppController, ScalesDownYoungestRunningFirstAndStagingBeforeRunning) {
  auto plan = plan_app(
      app(1), {task("old", "v1", "TASK_RUNNING", 10), task("young", "v1", "TASK_RUNNING", 20),
               task("staging", "v1", "TASK_STAGING", 30)});
  ASSERT_EQ(plan.kill.size(), 2u);
  EXPECT_EQ(plan.kill[0], "staging");
  EXPECT_EQ(plan.kill[1], "young");
  EXPECT_EQ(plan.launch, 0u);
}

TEST(AppController, OldestFirstKillSelectionKillsTheOldest) {
  AppView a = app(1);
  a.oldest_first = true;
  auto plan =
      plan_app(a, {task("old", "v1", "TASK_RUNNING", 10), task("young", "v1", "TASK_RUNNING", 20)});
  ASSERT_EQ(plan.kill.size(), 1u);
  EXPECT_EQ(plan.kill[0], "old");
}

TEST(AppController, TasksBeingKilledAreNotCounted) {
  TaskView dying = task("a", "v1");
  dying.kill_requested = true;
  auto plan = plan_app(app(1), {dying});
  EXPECT_EQ(plan.launch, 1u);
}

TEST(AppController, RestartWithFullHealthCapacityStartsNewBeforeKillingOld) {
  // Marathon's default {1, 1}: minHealthy = 3, maxCapacity = 6.
  auto plan = plan_app(app(3, "v2"), {task("a", "v1"), task("b", "v1"), task("c", "v1")});
  EXPECT_TRUE(plan.kill.empty());
  EXPECT_EQ(plan.launch, 3u);
}

TEST(AppController, RestartKillsOldOnlyAsNewTasksBecomeHealthy) {
  auto plan = plan_app(app(3, "v2"), {task("a", "v1"), task("b", "v1"), task("c", "v1"),
                                      task("n1", "v2"), task("n2", "v2", "TASK_STAGING")});
  // healthy = 4, minHealthy = 3: one old task may go.
  ASSERT_EQ(plan.kill.size(), 1u);
  EXPECT_EQ(plan.launch, 1u);
}

TEST(AppController, RestartWithZeroHealthCapacityKillsEverythingFirst) {
  AppView a = app(2, "v2");
  a.minimum_health_capacity = 0;
  a.maximum_over_capacity = 0;
  auto plan = plan_app(a, {task("a", "v1"), task("b", "v1")});
  EXPECT_EQ(plan.kill.size(), 2u);
  EXPECT_EQ(plan.launch, 2u);
}

TEST(AppController, HalfCapacityWithoutOverCapacityReplacesInWaves) {
  AppView a = app(4, "v2");
  a.minimum_health_capacity = 0.5;
  a.maximum_over_capacity = 0;
  auto plan = plan_app(a, {task("a", "v1"), task("b", "v1"), task("c", "v1"), task("d", "v1")});
  EXPECT_EQ(plan.kill.size(), 2u);
  EXPECT_EQ(plan.launch, 2u);
}

TEST(AppController, AnAppWithAnExclusiveVolumeStopsTheOldTaskBeforeStartingTheNew) {
  AppView a = app(1, "v2");
  a.minimum_health_capacity = 0.5;
  a.maximum_over_capacity = 0;
  a.exclusive_volumes = true;
  auto plan = plan_app(a, {task("old", "v1")});
  ASSERT_EQ(plan.kill.size(), 1u);
  EXPECT_EQ(plan.kill[0], "old");
  EXPECT_EQ(plan.launch, 1u);
  // Without the exclusive volume Marathon over-provisions by one instead.
  a.exclusive_volumes = false;
  plan = plan_app(a, {task("old", "v1")});
  EXPECT_TRUE(plan.kill.empty());
  EXPECT_EQ(plan.launch, 1u);
}

TEST(AppController, UnhealthyOldTasksAreKilledRightAway) {
  TaskView sick = task("sick", "v1");
  sick.healthy = false;
  auto plan = plan_app(app(2, "v2"), {sick, task("ok", "v1")});
  ASSERT_FALSE(plan.kill.empty());
  EXPECT_EQ(plan.kill[0], "sick");
}

TEST(AppController, DeletingKillsEveryTask) {
  AppView a = app(3);
  a.deleting = true;
  auto plan = plan_app(a, {task("a", "v1"), task("b", "v0")});
  EXPECT_EQ(plan.kill.size(), 2u);
  EXPECT_EQ(plan.launch, 0u);
}

TEST(AppController, ConvergedOnlyWithExactlyTheRightRunningTasks) {
  EXPECT_TRUE(app_converged(app(2), {task("a", "v1"), task("b", "v1")}));
  EXPECT_FALSE(app_converged(app(2), {task("a", "v1")}));
  EXPECT_FALSE(app_converged(app(2), {task("a", "v1"), task("b", "v0")}));
  EXPECT_FALSE(app_converged(app(1), {task("a", "v1", "TASK_STAGING")}));
  EXPECT_TRUE(app_converged(app(0), {}));
}

TEST(Backoff, GrowsByFactorUpToTheMaximum) {
  BackoffPolicy p{1, 2, 5};
  Backoff b;
  b = backoff_after_failure(b, p, 1000);
  EXPECT_DOUBLE_EQ(b.delay_seconds, 1);
  EXPECT_EQ(b.next_launch_ms, 2000);
  EXPECT_FALSE(may_launch(b, 1999));
  EXPECT_TRUE(may_launch(b, 2000));
  b = backoff_after_failure(b, p, 2000);
  EXPECT_DOUBLE_EQ(b.delay_seconds, 2);
  b = backoff_after_failure(b, p, 2000);
  b = backoff_after_failure(b, p, 2000);
  EXPECT_DOUBLE_EQ(b.delay_seconds, 5);
}

}  // namespace berth::control
