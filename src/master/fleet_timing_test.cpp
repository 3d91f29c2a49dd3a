// MasterCore's fleet timing (docs/fencing.md §10): past --max-heartbeats-per-second the master
// stretches the heartbeat interval, the lease and the margin by a whole factor, stores the
// longer lease as the ceiling before any answer grants it, judges agents by the ceiling, and
// lowers the ceiling only once every longer lease granted has run out. An in-memory store and a
// clock advanced by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "master/master_core.h"
#include "master/test_support.h"
#include "store/memory_store.h"

namespace berth::master {
namespace {

using std::chrono::milliseconds;
using testing::CountingIds;

// The lease tests' timing: heartbeats every 500 ms, lease 2500 ms, lost after 3000 ms. At 5
// heartbeats a second, two agents fit; a third doubles every duration.
class FleetTiming : public ::testing::Test {
 protected:
  std::unique_ptr<MasterCore> start() {
    MasterOptions options;
    options.join_token = "t";
    options.max_heartbeats_per_second = 5;
    auto core = std::make_unique<MasterCore>(options, store_, clock_, ids_);
    EXPECT_TRUE(core->load().ok());
    return core;
  }

  void join(MasterCore& core, const std::string& id) {
    auto registered = core.register_agent(testing::registration(id, "t"));
    ASSERT_TRUE(registered.ok());
    secrets_[id] = registered->agent_secret;
  }

  protocol::HeartbeatAck beat(MasterCore& core, const std::string& id) {
    protocol::Heartbeat hb;
    hb.seq = ++seqs_[id];
    hb.applied_seq = hb.seq - 1;
    auto ack = core.heartbeat(id, secrets_[id], hb);
    EXPECT_TRUE(ack.ok()) << id;
    return ack.ok() ? *ack : protocol::HeartbeatAck{};
  }

  // The stored ceiling's lease, or -1 when none is stored.
  int64_t stored_ceiling_ms() {
    auto kv = store_.get("/leaseCeiling");
    if (!kv.ok() || !*kv) return -1;
    return nlohmann::json::parse((*kv)->value).at("leaseMs").get<int64_t>();
  }

  bool lost(MasterCore& core, const std::string& id) {
    bool is_lost = false;
    core.read([&](const MasterState& s) { is_lost = s.agents.at(id).lost; });
    return is_lost;
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  std::map<std::string, std::string> secrets_;
  std::map<std::string, uint64_t> seqs_;
};

TEST_F(FleetTiming, AFleetThatFitsKeepsTheBaseTimingAndStoresNothing) {
  auto core = start();
  join(*core, "a");
  join(*core, "b");
  core->reconcile();
  protocol::HeartbeatAck ack = beat(*core, "a");
  EXPECT_EQ(ack.lease_ms, 2500);
  EXPECT_EQ(ack.heartbeat_interval_ms, 500);
  EXPECT_EQ(stored_ceiling_ms(), -1);
}

TEST_F(FleetTiming, ALargerFleetIsStretchedAndTheLongerLeaseStoredBeforeItIsGranted) {
  auto core = start();
  for (const char* id : {"a", "b", "c"}) join(*core, id);
  // Registered, not yet adjusted: the answers still grant the base lease.
  EXPECT_EQ(beat(*core, "a").lease_ms, 2500);
  EXPECT_EQ(stored_ceiling_ms(), -1);
  core->reconcile();
  EXPECT_EQ(stored_ceiling_ms(), 5000);
  protocol::HeartbeatAck ack = beat(*core, "a");
  EXPECT_EQ(ack.lease_ms, 5000);
  EXPECT_EQ(ack.heartbeat_interval_ms, 1000);
  auto again = core->register_agent(testing::registration("d", "t"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->lease_ms, 5000);
  EXPECT_EQ(again->heartbeat_interval_ms, 1000);
}

TEST_F(FleetTiming, AgentsAreJudgedByTheCeilingUntilEveryLongerLeaseHasRunOut) {
  auto core = start();
  for (const char* id : {"a", "b", "c"}) join(*core, id);
  clock_.advance(milliseconds(3100));  // past the start-up grace (3000 ms)
  core->reconcile();                   // stretched: lost after 6000 ms
  for (const char* id : {"a", "b", "c"}) beat(*core, id);
  // "c" falls silent. Past the base 3000 ms it is not lost: its last lease was 5000 ms.
  for (int i = 0; i < 8; ++i) {
    clock_.advance(milliseconds(500));
    beat(*core, "a");
    beat(*core, "b");
    core->reconcile();
  }
  EXPECT_FALSE(lost(*core, "c"));
  for (int i = 0; i < 5; ++i) {
    clock_.advance(milliseconds(500));
    beat(*core, "a");
    beat(*core, "b");
    core->reconcile();
  }
  ASSERT_TRUE(lost(*core, "c"));  // 6500 ms of silence
  // Two agents fit again: the answers grant the base lease at once, but the ceiling stays
  // until a stretched lease granted just before could have run out (6000 ms).
  core->reconcile();
  EXPECT_EQ(beat(*core, "a").lease_ms, 2500);
  EXPECT_EQ(stored_ceiling_ms(), 5000);
  for (int i = 0; i < 11; ++i) {
    clock_.advance(milliseconds(500));
    beat(*core, "a");
    beat(*core, "b");
    core->reconcile();
  }
  EXPECT_EQ(stored_ceiling_ms(), 5000);  // 5500 ms since
  for (int i = 0; i < 2; ++i) {
    clock_.advance(milliseconds(500));
    beat(*core, "a");
    beat(*core, "b");
    core->reconcile();
  }
  EXPECT_EQ(stored_ceiling_ms(), 2500);
  // From here "b" is judged by the base timing: lost after 3000 ms.
  for (int i = 0; i < 7; ++i) {
    clock_.advance(milliseconds(500));
    beat(*core, "a");
    core->reconcile();
  }
  EXPECT_TRUE(lost(*core, "b"));
  EXPECT_FALSE(lost(*core, "a"));
}

TEST_F(FleetTiming, ARestartedMasterWaitsOutTheLongestLeaseAnEarlierOneGranted) {
  {
    auto first = start();
    for (const char* id : {"a", "b", "c"}) join(*first, id);
    first->reconcile();
    ASSERT_EQ(stored_ceiling_ms(), 5000);
  }
  clock_.advance(milliseconds(1000));
  auto second = start();
  bool in_grace_at_base = false, in_grace_after = true;
  const MonoTime started = clock_.mono_now();
  second->read_with_leases([&](const MasterState&, const lease::MasterLeases& leases) {
    in_grace_at_base = leases.in_restart_grace(started + milliseconds(3500));
    in_grace_after = leases.in_restart_grace(started + milliseconds(6000));
  });
  EXPECT_TRUE(in_grace_at_base);
  EXPECT_FALSE(in_grace_after);
  // It grants the base lease until its own fleet is known to be larger.
  join(*second, "a");
  EXPECT_EQ(beat(*second, "a").lease_ms, 2500);
}

TEST_F(FleetTiming, AnUnreadableCeilingStopsTheMasterFromLoading) {
  ASSERT_TRUE(store_.put("/leaseCeiling", "{\"leaseMs\": \"long\"}").ok());
  MasterOptions options;
  options.join_token = "t";
  MasterCore core(options, store_, clock_, ids_);
  Status loaded = core.load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("/leaseCeiling"), std::string::npos);
}

}  // namespace
}  // namespace berth::master
