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
  leases.on_heartbeat_received("a", at_ms(99000));  // from before the restart
  EXPECT_TRUE(leases.in_restart_grace(at_ms(102999)));
  EXPECT_FALSE(leases.is_lost("a", at_ms(103000)));
  EXPECT_TRUE(leases.declare_lost(at_ms(103000)).empty());
  EXPECT_FALSE(leases.in_restart_grace(at_ms(103000)));
  EXPECT_EQ(leases.declare_lost(at_ms(103001)), std::vector<std::string>{"a"});
}

TEST(MasterLeases, DeclaresEachLossOnceUntilTheAgentRegistersAgain) {
  MasterLeases leases = started_at_zero();
  leases.on_registered("a", 0, at_ms(0));
  EXPECT_EQ(leases.declare_lost(at_ms(3001)), std::vector<std::string>{"a"});
  EXPECT_TRUE(leases.declared_lost("a"));
  EXPECT_TRUE(leases.declare_lost(at_ms(5000)).empty());
  leases.on_registered("a", 7, at_ms(6000));
  EXPECT_FALSE(leases.declared_lost("a"));
  EXPECT_EQ(leases.report_seq("a"), 7u);
  EXPECT_EQ(leases.declare_lost(at_ms(9001)), std::vector<std::string>{"a"});
}

TEST(MasterLeases, EveryMoveTakesTheNextEpochAndStayingPutKeepsIt) {
  MasterLeases leases = started_at_zero();
  EXPECT_EQ(leases.moved("d1", "a"), (DatasetHolder{"a", 1}));
  EXPECT_FALSE(leases.holder("d1")) << "moved() changes nothing until the move is restored";
  leases.restore_dataset("d1", leases.moved("d1", "a"));
  EXPECT_EQ(leases.moved("d1", "a"), (DatasetHolder{"a", 1}));
  leases.restore_dataset("d1", leases.moved("d1", "b"));
  EXPECT_EQ(leases.holder("d1"), (DatasetHolder{"b", 2}));
  EXPECT_EQ(leases.moved("d1", ""), (DatasetHolder{"", 3}));
}

// a holds d1 at epoch 1 and reports it attached; the user moves it to b.
MasterLeases held_by_a_then_moved_to_b() {
  MasterLeases leases = started_at_zero();
  leases.on_registered("a", 0, at_ms(0));
  leases.on_registered("b", 0, at_ms(0));
  leases.restore_dataset("d1", DatasetHolder{"a", 1});
  EXPECT_TRUE(leases.may_attach("d1", "a", at_ms(3000)));
  leases.on_granted("d1", "a", 1);
  EXPECT_TRUE(leases.on_report("a", 2, {"d1"}, 1));
  leases.restore_dataset("d1", leases.moved("d1", "b"));
  return leases;
}

TEST(MasterLeases, ANewNodeAttachesOnlyOnceTheOldOneShowsItLetGo) {
  MasterLeases leases = held_by_a_then_moved_to_b();
  EXPECT_FALSE(leases.may_attach("d1", "a", at_ms(3000))) << "a is no longer its node";
  EXPECT_FALSE(leases.may_attach("d1", "b", at_ms(3000))) << "a reports it attached";
  EXPECT_TRUE(leases.held_elsewhere("d1", "b"));
  EXPECT_TRUE(leases.on_report("a", 3, {}, 3));
  EXPECT_TRUE(leases.may_attach("d1", "b", at_ms(3000)));
}

TEST(MasterLeases, AGrantHoldsUntilAReportTakenAfterItsAnswerShowsTheDatasetLetGo) {
  MasterLeases leases = held_by_a_then_moved_to_b();
  leases.on_granted("d1", "a", 4);  // an answer a may not have applied yet
  EXPECT_TRUE(leases.on_report("a", 5, {}, 3));
  EXPECT_FALSE(leases.may_attach("d1", "b", at_ms(3000)))
      << "a's report predates the answer that granted it d1 again";
  EXPECT_EQ(leases.granted_to("d1"), std::set<std::string>{"a"});
  EXPECT_TRUE(leases.on_report("a", 6, {}, 4));
  EXPECT_TRUE(leases.granted_to("d1").empty());
  EXPECT_TRUE(leases.may_attach("d1", "b", at_ms(3000)));
}

TEST(MasterLeases, AReportOlderThanOneTakenIsIgnored) {
  MasterLeases leases = held_by_a_then_moved_to_b();
  EXPECT_TRUE(leases.on_report("a", 9, {"d1"}, 8));
  EXPECT_FALSE(leases.on_report("a", 8, {}, 8)) << "sent before heartbeat 9, arrived after it";
  EXPECT_EQ(leases.attached_by("a"), std::set<std::string>{"d1"});
  EXPECT_FALSE(leases.may_attach("d1", "b", at_ms(3000)));
}

TEST(MasterLeases, ADeclaredLostHolderNoLongerKeepsANewNodeWaiting) {
  MasterLeases leases = held_by_a_then_moved_to_b();
  leases.on_heartbeat_received("b", at_ms(3500));
  EXPECT_EQ(leases.declare_lost(at_ms(3001)), std::vector<std::string>{"a"});
  EXPECT_TRUE(leases.may_attach("d1", "b", at_ms(3600)));
  // a comes back still reporting it: b is not granted it again until a lets go.
  leases.on_registered("a", 2, at_ms(4000));
  EXPECT_FALSE(leases.may_attach("d1", "b", at_ms(4000)));
}

TEST(MasterLeases, ARegistrationEndsGrantsFromAnswersItsProcessNeverSent) {
  MasterLeases leases = held_by_a_then_moved_to_b();
  leases.on_granted("d1", "a", 40);  // an answer to a heartbeat of a process now gone
  leases.on_registered("a", 3, at_ms(100));
  EXPECT_TRUE(leases.on_report("a", 4, {}, 3));
  EXPECT_TRUE(leases.may_attach("d1", "b", at_ms(3000)));
}

TEST(MasterLeases, InTheRestartGraceOnlyWhatANodeReportsAttachedStaysAttached) {
  MasterLeases leases(LeaseOptions{}, at_ms(100000));
  leases.restore_dataset("d1", DatasetHolder{"a", 4});
  leases.restore_dataset("d2", DatasetHolder{"a", 2});
  leases.on_registered("a", 10, at_ms(100100));
  EXPECT_TRUE(leases.on_report("a", 11, {"d1"}, 10));
  EXPECT_TRUE(leases.may_attach("d1", "a", at_ms(100200)));
  EXPECT_FALSE(leases.may_attach("d2", "a", at_ms(100200)));
  EXPECT_TRUE(leases.may_attach("d2", "a", at_ms(103000)));
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

TEST(MasterLeases, JudgesByTheTimingSetLaterButKeepsTheRestartGraceOfItsStart) {
  MasterLeases leases(LeaseOptions{}, at_ms(0));  // lost after 3000 ms, grace 3000 ms
  leases.set_timing(LeaseOptions{milliseconds(1000), milliseconds(5000), milliseconds(1000)});
  leases.on_heartbeat_received("a", at_ms(4000));
  EXPECT_FALSE(leases.is_lost("a", at_ms(10000)));
  EXPECT_TRUE(leases.is_lost("a", at_ms(10001)));
  EXPECT_TRUE(leases.in_restart_grace(at_ms(2999)));
  EXPECT_FALSE(leases.in_restart_grace(at_ms(3000)));
}

TEST(FleetTiming, KeepsTheBaseTimingWhileTheFleetsHeartbeatsFit) {
  const LeaseOptions base{milliseconds(200), milliseconds(1000), milliseconds(200)};
  // 500 agents every 200 ms: 2,500 heartbeats a second, the maximum.
  for (size_t agents : {size_t{0}, size_t{3}, size_t{500}}) {
    LeaseOptions t = fleet_timing(base, agents, 2500);
    EXPECT_EQ(t.heartbeat_interval, base.heartbeat_interval) << agents;
    EXPECT_EQ(t.lease, base.lease) << agents;
    EXPECT_EQ(t.margin, base.margin) << agents;
  }
  EXPECT_EQ(fleet_timing(base, 1000000, 0).lease, base.lease);  // 0: never stretched
}

TEST(FleetTiming, StretchesEveryDurationByTheSmallestWholeFactorThatFits) {
  const LeaseOptions base{milliseconds(200), milliseconds(1000), milliseconds(200)};
  LeaseOptions t = fleet_timing(base, 501, 2500);  // 2,505 a second: k = 2
  EXPECT_EQ(t.heartbeat_interval, milliseconds(400));
  EXPECT_EQ(t.lease, milliseconds(2000));
  EXPECT_EQ(t.margin, milliseconds(400));
  t = fleet_timing(base, 10000, 2500);  // 50,000 a second: k = 20, 2,500 a second
  EXPECT_EQ(t.heartbeat_interval, milliseconds(4000));
  EXPECT_EQ(t.lease, milliseconds(20000));
  EXPECT_EQ(t.lost_after(), milliseconds(24000));
  EXPECT_TRUE(check_timing(t).ok());
}

}  // namespace
}  // namespace berth::lease
