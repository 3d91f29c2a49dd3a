#include "lease/agent_lease.h"

#include <gtest/gtest.h>

namespace berth::lease {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kLease{2500};

MonoTime at_ms(int64_t ms) { return MonoTime(milliseconds(ms)); }

TEST(AgentLease, HasNoLeaseBeforeTheFirstAcknowledgment) {
  AgentLease lease;
  EXPECT_FALSE(lease.held());
  EXPECT_FALSE(lease.deadline().has_value());
  EXPECT_TRUE(lease.expired(at_ms(0)));
  lease.on_heartbeat_sent(1, at_ms(0));
  EXPECT_TRUE(lease.expired(at_ms(100)));
  EXPECT_FALSE(lease.tick(at_ms(100)).fence);
}

TEST(AgentLease, CountsTheLeaseFromWhenTheHeartbeatWasSentNotWhenTheAnswerArrived) {
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(1000));
  LeaseUpdate update = lease.on_ack(1, kLease, at_ms(2900));
  EXPECT_TRUE(update.granted);
  EXPECT_TRUE(update.extended);
  EXPECT_FALSE(update.fence);
  EXPECT_EQ(lease.deadline(), at_ms(3500));  // 1000 + 2500, not 2900 + 2500
  EXPECT_FALSE(lease.expired(at_ms(3499)));
  EXPECT_TRUE(lease.expired(at_ms(3500)));
}

TEST(AgentLease, IgnoresAnAnswerThatArrivesAfterTheLeaseItGrantsHasEnded) {
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(0));
  LeaseUpdate update = lease.on_ack(1, kLease, at_ms(2500));
  EXPECT_FALSE(update.granted);
  EXPECT_FALSE(update.extended);
  EXPECT_FALSE(lease.held());
}

TEST(AgentLease, RenewalMovesTheDeadlineToTheNewerSendTime) {
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(0));
  lease.on_heartbeat_sent(2, at_ms(500));
  ASSERT_TRUE(lease.on_ack(1, kLease, at_ms(100)).granted);
  LeaseUpdate update = lease.on_ack(2, kLease, at_ms(600));
  EXPECT_FALSE(update.granted);
  EXPECT_TRUE(update.extended);
  EXPECT_EQ(lease.deadline(), at_ms(3000));
}

TEST(AgentLease, DuplicateAndReorderedAnswersNeverExtendTheLease) {
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(0));
  lease.on_heartbeat_sent(2, at_ms(500));
  ASSERT_TRUE(lease.on_ack(2, kLease, at_ms(600)).extended);
  EXPECT_FALSE(lease.on_ack(2, kLease, at_ms(700)).extended);  // duplicate
  EXPECT_FALSE(lease.on_ack(1, kLease, at_ms(800)).extended);  // older, arrived late
  EXPECT_EQ(lease.deadline(), at_ms(3000));
}

TEST(AgentLease, IgnoresAnswersToHeartbeatsItNeverSent) {
  AgentLease lease;
  lease.on_heartbeat_sent(5, at_ms(0));
  EXPECT_FALSE(lease.on_ack(4, kLease, at_ms(10)).extended);
  EXPECT_FALSE(lease.on_ack(6, kLease, at_ms(10)).extended);
  EXPECT_FALSE(lease.on_ack(5, milliseconds(0), at_ms(10)).extended);
  EXPECT_FALSE(lease.held());
}

TEST(AgentLease, ForgetsTheOldestSendTimesBeyondItsBound) {
  AgentLease lease;
  for (uint64_t seq = 1; seq <= AgentLease::kMaxOutstanding + 1; ++seq) {
    lease.on_heartbeat_sent(seq, at_ms(static_cast<int64_t>(seq)));
  }
  EXPECT_FALSE(lease.on_ack(1, kLease, at_ms(100)).extended);
  EXPECT_TRUE(lease.on_ack(2, kLease, at_ms(100)).granted);
}

TEST(AgentLease, FencesOnceWhenTheDeadlinePassesWithoutRenewal) {
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(0));
  ASSERT_TRUE(lease.on_ack(1, kLease, at_ms(50)).granted);
  EXPECT_FALSE(lease.tick(at_ms(2499)).fence);
  EXPECT_TRUE(lease.tick(at_ms(2500)).fence);
  EXPECT_FALSE(lease.tick(at_ms(2501)).fence);
  EXPECT_FALSE(lease.tick(at_ms(9000)).fence);
  EXPECT_FALSE(lease.held());
  EXPECT_EQ(lease.fences(), 1u);
  EXPECT_EQ(lease.deadline(), at_ms(2500));
}

TEST(AgentLease, ALateAnswerReportsTheLapseBeforeItsNewLease) {
  // Paused past its deadline, the agent reads an answer whose lease is still running: it
  // must fence first and treat the answer as a new lease, never as a seamless renewal.
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(0));
  ASSERT_TRUE(lease.on_ack(1, kLease, at_ms(10)).granted);
  lease.on_heartbeat_sent(2, at_ms(2400));
  LeaseUpdate update = lease.on_ack(2, kLease, at_ms(3000));
  EXPECT_TRUE(update.fence);
  EXPECT_TRUE(update.granted);
  EXPECT_EQ(lease.deadline(), at_ms(4900));
  EXPECT_FALSE(lease.tick(at_ms(3001)).fence);
  EXPECT_EQ(lease.fences(), 1u);
}

TEST(AgentLease, ARenewalAfterAFenceStartsANewLease) {
  AgentLease lease;
  lease.on_heartbeat_sent(1, at_ms(0));
  ASSERT_TRUE(lease.on_ack(1, kLease, at_ms(10)).granted);
  ASSERT_TRUE(lease.tick(at_ms(2600)).fence);
  lease.on_heartbeat_sent(2, at_ms(5000));
  LeaseUpdate update = lease.on_ack(2, kLease, at_ms(5100));
  EXPECT_FALSE(update.fence);
  EXPECT_TRUE(update.granted);
  EXPECT_TRUE(lease.held());
  EXPECT_EQ(lease.deadline(), at_ms(7500));
  EXPECT_TRUE(lease.tick(at_ms(7500)).fence);
  EXPECT_EQ(lease.fences(), 2u);
}

TEST(AgentLease, ARestartedAgentTakesBackItsSupervisorsDeadline) {
  AgentLease lease = AgentLease::resumed(at_ms(3000), at_ms(1000));
  EXPECT_TRUE(lease.held());
  EXPECT_EQ(lease.deadline(), at_ms(3000));
  lease.on_heartbeat_sent(100, at_ms(1100));
  LeaseUpdate update = lease.on_ack(100, kLease, at_ms(1200));
  EXPECT_FALSE(update.granted);
  EXPECT_TRUE(update.extended);
  EXPECT_EQ(lease.deadline(), at_ms(3600));
}

TEST(AgentLease, ARestartAfterTheSupervisorsDeadlineHoldsNoLease) {
  AgentLease lease = AgentLease::resumed(at_ms(3000), at_ms(3000));
  EXPECT_FALSE(lease.held());
  EXPECT_TRUE(lease.expired(at_ms(3000)));
  EXPECT_FALSE(lease.tick(at_ms(4000)).fence);
}

TEST(AgentLeaseDeathTest, RefusesAReusedSequenceNumber) {
  AgentLease lease;
  lease.on_heartbeat_sent(7, at_ms(0));
  EXPECT_DEATH(lease.on_heartbeat_sent(7, at_ms(1)), "CHECK failed");
}

}  // namespace
}  // namespace berth::lease
