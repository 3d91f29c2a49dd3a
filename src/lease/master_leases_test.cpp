#include "lease/master_leases.h"

#include <gtest/gtest.h>

namespace berth::lease {
namespace {

using std::chrono::milliseconds;

MonoTime at_ms(int64_t ms) { return MonoTime(milliseconds(ms)); }

// Defaults: L = 2500 ms, margin = 500 ms, so lost after more than 3000 ms of silence.
MasterLeases started_at_zero() { return MasterLeases(LeaseOptions{}, at_ms(0)); }

TEST(MasterLeases, DeclaresAnAgentLostOnlyAfterLeasePlusMarginOfSilence) {
  MasterLeases leases = started_at_zero();
  leases.on_heartbeat_received("a", at_ms(1000));
  EXPECT_FALSE(leases.is_lost("a", at_ms(4000)));
  EXPECT_TRUE(leases.is_lost("a", at_ms(4001)));
  EXPECT_EQ(leases.lost_at("a"), at_ms(4000) + MonoTime::duration(1));
  leases.on_heartbeat_received("a", at_ms(3900));
  EXPECT_FALSE(leases.is_lost("a", at_ms(6900)));
  EXPECT_TRUE(leases.is_lost("a", at_ms(6901)));
}

TEST(MasterLeases, AnOlderHeartbeatTimeDoesNotMoveTheLastReceivedBack) {
  MasterLeases leases = started_at_zero();
  leases.on_heartbeat_received("a", at_ms(5000));
  leases.on_heartbeat_received("a", at_ms(4000));
  EXPECT_EQ(leases.last_received("a"), at_ms(5000));
}

TEST(MasterLeases, ListsTheLostAgentsInOrder) {
  MasterLeases leases = started_at_zero();
  leases.on_heartbeat_received("c", at_ms(4000));
  leases.on_heartbeat_received("b", at_ms(4000));
  leases.on_heartbeat_received("a", at_ms(9000));
  EXPECT_EQ(leases.lost_agents(at_ms(7500)), (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(leases.lost_agents(at_ms(7000)).empty());
}

TEST(MasterLeases, ARestartedMasterDeclaresNobodyLostBeforeItsGraceEnds) {
  MasterLeases leases(LeaseOptions{}, at_ms(100000));
  leases.restore_dataset("d1", DatasetHolder{"a", 4});
  EXPECT_FALSE(leases.is_lost("a", at_ms(103000)));
  EXPECT_TRUE(leases.lost_agents(at_ms(103000)).empty());
  EXPECT_TRUE(leases.is_lost("a", at_ms(103001)));
  EXPECT_EQ(leases.lost_agents(at_ms(103001)), std::vector<std::string>{"a"});
  EXPECT_FALSE(leases.assign("d1", "b", at_ms(103000)).ok());
  auto epoch = leases.assign("d1", "b", at_ms(103001));
  ASSERT_TRUE(epoch.ok()) << epoch.error().message;
  EXPECT_EQ(*epoch, 5u);
}

TEST(MasterLeases, AHeartbeatBeforeTheRestartDoesNotShortenTheGrace) {
  MasterLeases leases(LeaseOptions{}, at_ms(100000));
  leases.on_heartbeat_received("a", at_ms(99000));
  EXPECT_FALSE(leases.is_lost("a", at_ms(103000)));
}

TEST(MasterLeases, EachAssignmentTakesANewEpoch) {
  MasterLeases leases = started_at_zero();
  leases.on_heartbeat_received("a", at_ms(0));
  leases.on_heartbeat_received("b", at_ms(0));
  auto first = leases.assign("d1", "a", at_ms(10));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 1u);
  ASSERT_TRUE(leases.release("d1", "a", 1));
  auto second = leases.assign("d1", "b", at_ms(20));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 2u);
  EXPECT_EQ(leases.holder("d1"), (DatasetHolder{"b", 2}));
}

TEST(MasterLeases, AssigningToTheCurrentHolderKeepsItsEpoch) {
  MasterLeases leases = started_at_zero();
  ASSERT_TRUE(leases.assign("d1", "a", at_ms(0)).ok());
  auto again = leases.assign("d1", "a", at_ms(10));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 1u);
}

TEST(MasterLeases, RefusesToMoveADatasetAwayFromAnAgentThatIsNotLost) {
  MasterLeases leases = started_at_zero();
  leases.on_heartbeat_received("a", at_ms(1000));
  ASSERT_TRUE(leases.assign("d1", "a", at_ms(1000)).ok());
  auto moved = leases.assign("d1", "b", at_ms(4000));
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, ErrorCode::kConflict);
  EXPECT_NE(moved.error().message.find("\"a\" holds it at epoch 1"), std::string::npos)
      << moved.error().message;
  EXPECT_EQ(leases.holder("d1"), (DatasetHolder{"a", 1}));
  auto after_loss = leases.assign("d1", "b", at_ms(4001));
  ASSERT_TRUE(after_loss.ok());
  EXPECT_EQ(*after_loss, 2u);
}

TEST(MasterLeases, AReleaseAppliesOnlyToTheHolderAtThatEpoch) {
  MasterLeases leases = started_at_zero();
  leases.restore_dataset("d1", DatasetHolder{"a", 3});
  EXPECT_FALSE(leases.release("d1", "a", 2));  // a stale report
  EXPECT_FALSE(leases.release("d1", "b", 3));  // not the holder
  EXPECT_FALSE(leases.release("d9", "a", 3));  // unknown dataset
  EXPECT_EQ(leases.holder("d1"), (DatasetHolder{"a", 3}));
  EXPECT_TRUE(leases.release("d1", "a", 3));
  EXPECT_EQ(leases.holder("d1"), (DatasetHolder{"", 3}));
  EXPECT_FALSE(leases.release("d1", "a", 3));
}

TEST(MasterLeases, TellsEachAgentWhatItHolds) {
  MasterLeases leases = started_at_zero();
  ASSERT_TRUE(leases.assign("d2", "a", at_ms(0)).ok());
  ASSERT_TRUE(leases.assign("d1", "a", at_ms(0)).ok());
  ASSERT_TRUE(leases.assign("d3", "b", at_ms(0)).ok());
  EXPECT_EQ(leases.assignments_of("a"), (std::vector<Assignment>{{"d1", 1}, {"d2", 1}}));
  EXPECT_TRUE(leases.assignments_of("c").empty());
}

TEST(MasterLeases, RejectsEmptyNames) {
  MasterLeases leases = started_at_zero();
  auto result = leases.assign("", "a", at_ms(0));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(leases.datasets().empty());
}

}  // namespace
}  // namespace berth::lease

namespace berth::lease {
namespace {

TEST(CheckTiming, AcceptsTheDefaultsAndRefusesAnUnsafeMarginNamingTheFlags) {
  EXPECT_TRUE(check_timing(LeaseOptions{}).ok());
  LeaseOptions tight;
  tight.margin = std::chrono::milliseconds(1);
  auto refused = check_timing(tight);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("at least 250 ms"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("--lost-timeout-ms 2501"), std::string::npos)
      << refused.error().message;
  LeaseOptions small;  // a short lease still needs 100 ms
  small.heartbeat_interval = std::chrono::milliseconds(100);
  small.lease = std::chrono::milliseconds(300);
  small.margin = std::chrono::milliseconds(99);
  EXPECT_FALSE(check_timing(small).ok());
  small.margin = std::chrono::milliseconds(100);
  EXPECT_TRUE(check_timing(small).ok());
  LeaseOptions slow_heartbeat;
  slow_heartbeat.heartbeat_interval = slow_heartbeat.lease;
  EXPECT_FALSE(check_timing(slow_heartbeat).ok())
      << "a heartbeat per lease leaves no room for one lost";
}

}  // namespace
}  // namespace berth::lease
