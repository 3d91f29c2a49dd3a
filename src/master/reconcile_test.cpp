// MasterCore::reconcile planning on change (docs/architecture.md §4): a pass plans apps,
// placement, routes and deployments only when the state changed since the last plan, when the
// last plan acted, when a launch backoff ends, or every kPlanInterval; otherwise it settles the
// leases alone. An in-memory store and a clock advanced by hand; berth_reconcile_pass_seconds
// tells the two kinds of pass apart.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "master/master_core.h"
#include "master/test_support.h"
#include "metrics/registry.h"
#include "store/memory_store.h"

namespace berth::master {
namespace {

using std::chrono::milliseconds;
using testing::CountingIds;
using testing::parsed_app;

class PlanningOnChange : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterOptions options;
    options.join_token = "t";
    options.metrics = &metrics_;
    core_ = std::make_unique<MasterCore>(options, store_, clock_, ids_);
    ASSERT_TRUE(core_->load().ok());
    auto registered = core_->register_agent(testing::registration("a", "t"));
    ASSERT_TRUE(registered.ok());
    secret_ = registered->agent_secret;
    clock_.advance(std::chrono::seconds(4));  // past the start-up grace
    beat();
    core_->reconcile();  // the plan after start-up
  }

  void beat() {
    protocol::Heartbeat hb;
    hb.seq = ++seq_;
    hb.applied_seq = hb.seq - 1;
    auto ack = core_->heartbeat("a", secret_, hb);
    ASSERT_TRUE(ack.ok());
    ASSERT_FALSE(ack->lease_only);
  }

  // Passes until one plans nothing (at most 5): what start-up or a change left is planned.
  void settle() {
    for (int i = 0; i < 5 && pass(); ++i) {
    }
  }
  // One pass, 50 ms after the last: whether it planned.
  bool pass() {
    clock_.advance(milliseconds(50));
    double before = plans();
    core_->reconcile();
    return plans() > before;
  }
  double plans() { return metrics_.value(metrics::Metric::kReconcilePass, {"plan"}); }
  double lease_passes() { return metrics_.value(metrics::Metric::kReconcilePass, {"leases"}); }

  std::map<std::string, protocol::TaskState> tasks() {
    std::map<std::string, protocol::TaskState> out;
    core_->read([&](const MasterState& s) {
      for (const auto& [id, t] : s.tasks) out[id] = t.state;
    });
    return out;
  }

  void report(const std::string& task, protocol::TaskState state) {
    protocol::StatusUpdate u;
    u.update_id = ids_.uuid();
    u.task_id = task;
    u.state = state;
    ASSERT_TRUE(core_->status("a", protocol::StatusBatch{{u}}).ok());
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  metrics::Registry metrics_;
  std::unique_ptr<MasterCore> core_;
  std::string secret_;
  uint64_t seq_ = 0;
};

TEST_F(PlanningOnChange, APassWithNothingNewSettlesTheLeasesAlone) {
  settle();
  ASSERT_FALSE(pass()) << "nothing changed, yet the pass planned";
  // Reads and heartbeats that report what the last one did change nothing.
  (void)tasks();
  beat();
  EXPECT_FALSE(pass()) << "a read or an unchanged heartbeat made the pass plan";
  EXPECT_GE(lease_passes(), 2);
}

TEST_F(PlanningOnChange, AChangeIsPlannedAtTheNextPass) {
  settle();
  ASSERT_TRUE(
      core_->create_app(parsed_app(R"({"id":"/web","cmd":"sleep 100","instances":2})"), false)
          .ok());
  EXPECT_TRUE(pass());
  EXPECT_EQ(tasks().size(), 2u) << "the new app's instances were not placed at the next pass";
  // Placing them acted: the pass after plans again, then there is nothing new.
  EXPECT_TRUE(pass());
  EXPECT_FALSE(pass());
  // A status update is a change.
  report(tasks().begin()->first, protocol::TaskState::kRunning);
  EXPECT_TRUE(pass());
}

TEST_F(PlanningOnChange, WithoutChangesThePlanStillRunsEveryPlanInterval) {
  settle();
  int planned = 0;
  const int passes = static_cast<int>(MasterCore::kPlanInterval / milliseconds(50));
  for (int i = 0; i < passes; ++i) planned += pass() ? 1 : 0;
  EXPECT_EQ(planned, 1) << "over one plan interval of unchanged state";
}

TEST_F(PlanningOnChange, AnAppWaitingOutABackoffIsPlannedAsTheBackoffEnds) {
  ASSERT_TRUE(
      core_->create_app(parsed_app(R"({"id":"/crash","cmd":"exit 1","backoffSeconds":0.3})"), false)
          .ok());
  ASSERT_TRUE(pass());
  ASSERT_EQ(tasks().size(), 1u);
  const std::string first = tasks().begin()->first;
  report(first, protocol::TaskState::kFailed);
  // The failure is planned at once; the app then waits 300 ms, shorter than kPlanInterval.
  ASSERT_TRUE(pass());
  auto live = [&] {
    int n = 0;
    for (const auto& [id, state] : tasks()) n += id != first ? 1 : 0;
    return n;
  };
  EXPECT_EQ(live(), 0) << "relaunched within its backoff";
  int waited = 0;
  while (live() == 0 && waited < 1000) {
    pass();
    waited += 50;
  }
  EXPECT_EQ(live(), 1);
  EXPECT_LE(waited, 350) << "the relaunch waited for the plan interval, not the backoff";
}

}  // namespace
}  // namespace berth::master
