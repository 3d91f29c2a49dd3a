#include "lease/lease_desk.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "lease/master_leases.h"

namespace berth::lease {
namespace {

using std::chrono::milliseconds;

MonoTime at_ms(int64_t ms) { return MonoTime(milliseconds(ms)); }

TEST(LeaseDesk, RenewsOnlyAnAdmittedAgentWithItsSecret) {
  LeaseDesk desk;
  EXPECT_EQ(desk.renew("a", "s", at_ms(1)), LeaseDesk::Renewal::kUnknown);
  desk.admit("a", "s", at_ms(10));
  EXPECT_EQ(desk.renew("a", "wrong", at_ms(20)), LeaseDesk::Renewal::kDenied);
  EXPECT_EQ(desk.renew("a", "", at_ms(20)), LeaseDesk::Renewal::kDenied);
  EXPECT_EQ(desk.last_stamp("a"), at_ms(10));
  EXPECT_EQ(desk.renew("a", "s", at_ms(30)), LeaseDesk::Renewal::kRenewed);
  EXPECT_EQ(desk.last_stamp("a"), at_ms(30));
  desk.close("a");
  EXPECT_EQ(desk.renew("a", "s", at_ms(40)), LeaseDesk::Renewal::kUnknown);
  desk.admit("a", "t", at_ms(50));
  EXPECT_EQ(desk.renew("a", "s", at_ms(60)), LeaseDesk::Renewal::kDenied);
  EXPECT_EQ(desk.renew("a", "t", at_ms(60)), LeaseDesk::Renewal::kRenewed);
}

TEST(LeaseDesk, SettleHandsOverEachNewStampOnceAndClosesTheLost) {
  LeaseDesk desk;
  desk.admit("a", "s", at_ms(0));
  desk.admit("b", "s", at_ms(0));
  ASSERT_EQ(desk.renew("a", "s", at_ms(100)), LeaseDesk::Renewal::kRenewed);
  ASSERT_EQ(desk.renew("a", "s", at_ms(90)), LeaseDesk::Renewal::kRenewed);  // late copy
  std::map<std::string, MonoTime> taken;
  auto take = [&](const std::string& agent, MonoTime at) { taken[agent] = at; };
  auto lost = desk.settle(take, [] { return std::vector<std::string>{"b"}; });
  EXPECT_EQ(lost, std::vector<std::string>{"b"});
  EXPECT_EQ(taken, (std::map<std::string, MonoTime>{{"a", at_ms(100)}}));
  taken.clear();
  desk.settle(take, [] { return std::vector<std::string>{}; });
  EXPECT_TRUE(taken.empty());
  EXPECT_EQ(desk.renew("b", "s", at_ms(200)), LeaseDesk::Renewal::kUnknown);
  EXPECT_EQ(desk.renew("a", "s", at_ms(200)), LeaseDesk::Renewal::kRenewed);
}

// The safety of the split (docs/fencing.md §9): an agent's heartbeat either is stamped before
// the master declares it lost, and then that heartbeat keeps it alive, or is refused. A
// heartbeat that renewed and an agent declared lost at a time within lost_after of that
// renewal never both happen, however the threads interleave.
TEST(LeaseDesk, NoHeartbeatRenewsALeaseThatTheMasterDeclaredLost) {
  LeaseOptions options;
  options.heartbeat_interval = milliseconds(1);
  options.lease = milliseconds(4);
  options.margin = milliseconds(1);
  for (int round = 0; round < 50; ++round) {
    LeaseDesk desk;
    MasterLeases leases(options, at_ms(0));
    desk.admit("a", "s", at_ms(0));
    leases.on_registered("a", 0, at_ms(0));
    std::atomic<int64_t> clock_ms{0};
    std::atomic<bool> done{false};
    std::vector<int64_t> renewed_at;
    std::thread agent([&] {
      while (!done) {
        int64_t now = clock_ms.load();
        if (desk.renew("a", "s", at_ms(now)) == LeaseDesk::Renewal::kRenewed)
          renewed_at.push_back(now);
        std::this_thread::yield();
      }
    });
    int64_t declared_at = -1;
    for (int64_t t = 1; t < 2000 && declared_at < 0; ++t) {
      clock_ms = t;
      auto lost = desk.settle(
          [&](const std::string& who, MonoTime at) { leases.on_heartbeat_received(who, at); },
          [&] { return leases.declare_lost(at_ms(t)); });
      if (!lost.empty()) declared_at = t;
      if (round % 2 == 0 && t % 7 == 0) std::this_thread::yield();
    }
    done = true;
    agent.join();
    if (declared_at < 0) continue;  // the agent kept up throughout this round
    for (int64_t at : renewed_at) {
      EXPECT_LT(at + options.lost_after().count(), declared_at)
          << "a heartbeat stamped at " << at << " ms renewed after the agent was declared lost at "
          << declared_at << " ms";
    }
  }
}

}  // namespace
}  // namespace berth::lease
