// MasterCore's moves of `local` datasets, driven through its agent protocol and Flocker API
// methods with an in-memory store and a clock advanced by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "master/master_core.h"
#include "master/test_support.h"
#include "store/memory_store.h"

namespace berth::master {
namespace {

using testing::CountingIds;
using testing::parsed_app;

const std::string kA = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kB = "bbbbbbbb-0000-4000-8000-000000000002";
const std::string kC = "cccccccc-0000-4000-8000-000000000003";

protocol::DatasetReport attached(const std::string& id, uint64_t epoch) {
  protocol::DatasetReport r;
  r.dataset_id = id;
  r.driver = "local";
  r.attached = true;
  r.epoch = epoch;
  r.path = "/data/" + id;
  r.local_copy = true;
  return r;
}

protocol::DatasetReport detached_copy(const std::string& id, uint64_t epoch) {
  protocol::DatasetReport r = attached(id, epoch);
  r.attached = false;
  r.path.clear();
  return r;
}

class LocalMoves : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterOptions options;
    options.join_token = "t";
    options.timing.margin = std::chrono::milliseconds(500);  // lost after 3000 ms
    core_ = std::make_unique<MasterCore>(options, store_, clock_, ids_);
    ASSERT_TRUE(core_->load().ok());
    join(kA, "node-a", "10.0.0.1", 7001);
    join(kB, "node-b", "10.0.0.2", 7002);
    join(kC, "node-c", "10.0.0.3", 7003);
    // Past the start-up grace, so reconcile() may declare agents lost.
    clock_.advance(std::chrono::seconds(4));
    for (const auto& n : {kA, kB, kC}) beat(n, {});
  }

  void join(const std::string& id, const std::string& host, const std::string& address,
            uint32_t port) {
    protocol::RegisterRequest r;
    r.token = "t";
    r.agent_id = id;
    r.hostname = host;
    r.address = address;
    r.http_port = port;
    auto registered = core_->register_agent(r);
    ASSERT_TRUE(registered.ok());
    secrets_[id] = registered->agent_secret;
  }

  // A heartbeat from `node` reporting `datasets`; what the master assigns it in return.
  std::vector<protocol::DatasetAssignment> beat(const std::string& node,
                                                std::vector<protocol::DatasetReport> datasets) {
    protocol::Heartbeat hb;
    // Numbered as an agent numbers them, each sent after the answer to the one before was
    // applied.
    hb.seq = ++seqs_[node];
    hb.applied_seq = hb.seq - 1;
    hb.datasets = std::move(datasets);
    auto ack = core_->heartbeat(node, secrets_[node], hb);
    EXPECT_TRUE(ack.ok()) << ack.error().message;
    return ack.ok() ? ack->datasets : std::vector<protocol::DatasetAssignment>{};
  }

  static std::optional<protocol::DatasetAssignment> find(
      const std::vector<protocol::DatasetAssignment>& all, const std::string& id) {
    for (const auto& a : all) {
      if (a.dataset_id == id) return a;
    }
    return std::nullopt;
  }

  // Every node but `dead` heartbeats while the clock passes the lost timeout.
  void lose(const std::string& dead) {
    clock_.advance(std::chrono::milliseconds(3500));
    for (const auto& n : {kA, kB, kC}) {
      if (n != dead) beat(n, reports_[n]);
    }
    core_->reconcile();
  }

  std::string configuration_tag() {
    std::string tag;
    core_->read([&](const MasterState& s) { tag = core_->configuration_tag(s); });
    return tag;
  }

  model::Dataset dataset(const std::string& id) {
    model::Dataset out;
    core_->read([&](const MasterState& s) { out = s.datasets.at(id); });
    return out;
  }

  // A local dataset created on node A and attached there at epoch 1.
  std::string local_on_a() {
    auto created = core_->create_dataset({{"primary", kA}, {"driver", "local"}}, "");
    EXPECT_TRUE(created.ok()) << created.error().message;
    std::string id = created->dataset_id;
    reports_[kA] = {attached(id, 1)};
    beat(kA, reports_[kA]);
    return id;
  }

  Result<model::Dataset> move(const std::string& id, const std::string& to) {
    return core_->update_dataset(id, {{"primary", to}}, "");
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  std::unique_ptr<MasterCore> core_;
  std::map<std::string, std::vector<protocol::DatasetReport>> reports_;
  std::map<std::string, uint64_t> seqs_;
  std::map<std::string, std::string> secrets_;  // agent id -> its registration's credential
};

TEST_F(LocalMoves, TheNewNodeCopiesFromTheOldOneWhichKeepsItsCopyUntilTheNewOneHasAttached) {
  std::string id = local_on_a();
  ASSERT_TRUE(move(id, kB).ok());
  std::string tag = configuration_tag();
  EXPECT_EQ(dataset(id).moving_from, kA);
  EXPECT_EQ(dataset(id).epoch, 2u);

  // A still has it attached: A is told to let go, B waits.
  EXPECT_EQ(find(beat(kA, {attached(id, 1)}), id), std::nullopt);
  std::optional<protocol::DatasetAssignment> waiting = find(beat(kB, {}), id);
  ASSERT_NE(waiting, std::nullopt);
  EXPECT_FALSE(waiting->attach);

  // A detached and keeps its copy; B copies it from A's agent.
  EXPECT_EQ(find(beat(kA, {detached_copy(id, 1)}), id), std::nullopt);
  std::optional<protocol::DatasetAssignment> copy = find(beat(kB, {}), id);
  ASSERT_NE(copy, std::nullopt);
  EXPECT_TRUE(copy->attach);
  EXPECT_FALSE(copy->destroy);
  EXPECT_EQ(copy->epoch, 2u);
  EXPECT_EQ(copy->copy_from, "http://10.0.0.1:7001");
  EXPECT_EQ(copy->copy_from_node, kA);
  // Until B reports it attached, A's copy stays.
  EXPECT_EQ(find(beat(kA, {detached_copy(id, 1)}), id), std::nullopt);

  std::optional<protocol::DatasetAssignment> done = find(beat(kB, {attached(id, 2)}), id);
  ASSERT_NE(done, std::nullopt);
  EXPECT_TRUE(done->copy_from.empty());
  EXPECT_TRUE(dataset(id).moving_from.empty());
  std::optional<protocol::DatasetAssignment> stale = find(beat(kA, {detached_copy(id, 1)}), id);
  ASSERT_NE(stale, std::nullopt);
  EXPECT_TRUE(stale->destroy);
  EXPECT_FALSE(stale->attach);
  EXPECT_EQ(find(beat(kA, {}), id), std::nullopt);
  // The copy is bookkeeping, not configuration: its end leaves the configuration tag alone.
  EXPECT_EQ(configuration_tag(), tag);
}

TEST_F(LocalMoves, AMoveToANodeThatIsDownIsRefusedNamingIt) {
  std::string id = local_on_a();
  lose(kB);
  auto refused = move(id, kB);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("node-b"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("down"), std::string::npos) << refused.error().message;
  EXPECT_EQ(dataset(id).primary, kA);
  EXPECT_EQ(dataset(id).epoch, 1u);
}

TEST_F(LocalMoves, AMoveAwayFromANodeThatIsDownIsRefusedBecauseTheDataLivesOnlyThere) {
  std::string id = local_on_a();
  lose(kA);
  auto refused = move(id, kB);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("lives only on node node-a"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(dataset(id).primary, kA);
}

TEST_F(LocalMoves, ADatasetWithNoDataOnItsNodeYetIsNotMoved) {
  auto created = core_->create_dataset({{"primary", kA}, {"driver", "local"}}, "");
  ASSERT_TRUE(created.ok());
  auto refused = move(created->dataset_id, kB);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("no data"), std::string::npos) << refused.error().message;
}

TEST_F(LocalMoves, NothingIsAttachedWhileTheSourceIsDown) {
  std::string id = local_on_a();
  ASSERT_TRUE(move(id, kB).ok());
  reports_[kA] = {detached_copy(id, 1)};
  beat(kA, reports_[kA]);
  lose(kA);
  std::optional<protocol::DatasetAssignment> b = find(beat(kB, {}), id);
  ASSERT_NE(b, std::nullopt);
  EXPECT_FALSE(b->attach);
  EXPECT_TRUE(b->copy_from.empty());
}

TEST_F(LocalMoves, MovingOnMidCopyCopiesFromTheSourceAndBackToItCopiesNothing) {
  std::string id = local_on_a();
  ASSERT_TRUE(move(id, kB).ok());
  reports_[kA] = {detached_copy(id, 1)};
  beat(kA, reports_[kA]);
  ASSERT_TRUE(move(id, kC).ok());
  EXPECT_EQ(dataset(id).moving_from, kA);
  std::optional<protocol::DatasetAssignment> c = find(beat(kC, {}), id);
  ASSERT_NE(c, std::nullopt);
  EXPECT_EQ(c->copy_from_node, kA);
  // B finished a copy it no longer needs: it goes; A's stays while C copies.
  std::optional<protocol::DatasetAssignment> b = find(beat(kB, {detached_copy(id, 1)}), id);
  ASSERT_NE(b, std::nullopt);
  EXPECT_TRUE(b->destroy);
  EXPECT_EQ(find(beat(kA, reports_[kA]), id), std::nullopt);

  ASSERT_TRUE(move(id, kA).ok());
  EXPECT_TRUE(dataset(id).moving_from.empty());
  // C was granted the copy: until it shows it let go, A waits (docs/fencing.md §4).
  std::optional<protocol::DatasetAssignment> early = find(beat(kA, reports_[kA]), id);
  ASSERT_NE(early, std::nullopt);
  EXPECT_FALSE(early->attach);
  EXPECT_EQ(find(beat(kC, {}), id), std::nullopt);
  std::optional<protocol::DatasetAssignment> home = find(beat(kA, reports_[kA]), id);
  ASSERT_NE(home, std::nullopt);
  EXPECT_TRUE(home->attach);
  EXPECT_TRUE(home->copy_from.empty());
  EXPECT_EQ(home->epoch, 4u);
}

TEST_F(LocalMoves, AMoveWhileTheCopyTargetIsDownIsRefused) {
  std::string id = local_on_a();
  ASSERT_TRUE(move(id, kB).ok());
  reports_[kA] = {detached_copy(id, 1)};
  beat(kA, reports_[kA]);
  lose(kB);
  auto refused = move(id, kC);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("node-b"), std::string::npos) << refused.error().message;
}

TEST_F(LocalMoves, DeletingADatasetMidCopyDestroysTheSourcesCopyToo) {
  std::string id = local_on_a();
  ASSERT_TRUE(move(id, kB).ok());
  ASSERT_TRUE(core_->delete_dataset(id, "").ok());
  std::optional<protocol::DatasetAssignment> a = find(beat(kA, {detached_copy(id, 1)}), id);
  ASSERT_NE(a, std::nullopt);
  EXPECT_TRUE(a->destroy);
  std::optional<protocol::DatasetAssignment> b = find(beat(kB, {}), id);
  ASSERT_NE(b, std::nullopt);
  EXPECT_FALSE(b->attach);
  EXPECT_TRUE(b->copy_from.empty());
}

}  // namespace

// After a master restart, a node that held a dataset may not have registered again yet while
// its lease still runs: the restarted master attaches nothing anew until lost_timeout has
// passed since it loaded, and keeps what a node reports attached.
// Reports can be stale (docs/fencing.md §4): the two rules that keep one from letting a
// dataset go to a second node. Same cluster as LocalMoves, with a shared dataset.
class Grants : public LocalMoves {
 protected:
  // A heartbeat numbered by hand: `seq`, having applied answers up to `applied`.
  std::vector<protocol::DatasetAssignment> beat_as(const std::string& node, uint64_t seq,
                                                   uint64_t applied,
                                                   std::vector<protocol::DatasetReport> datasets) {
    protocol::Heartbeat hb;
    hb.seq = seq;
    hb.applied_seq = applied;
    hb.datasets = std::move(datasets);
    auto ack = core_->heartbeat(node, secrets_[node], hb);
    EXPECT_TRUE(ack.ok()) << ack.error().message;
    return ack.ok() ? ack->datasets : std::vector<protocol::DatasetAssignment>{};
  }

  static protocol::DatasetReport shared_attached(const std::string& id, uint64_t epoch) {
    protocol::DatasetReport r = attached(id, epoch);
    r.driver = "shared";
    r.local_copy = false;
    return r;
  }
};

TEST_F(Grants, AReportOlderThanOneAlreadyTakenIsNotTaken) {
  auto created = core_->create_dataset({{"primary", kA}}, "");
  ASSERT_TRUE(created.ok());
  const std::string id = created->dataset_id;
  // Past the heartbeats of SetUp (seq 1 each).
  auto granted = find(beat_as(kA, 10, 1, {}), id);
  ASSERT_TRUE(granted && granted->attach);
  beat_as(kA, 12, 10, {shared_attached(id, granted->epoch)});
  // Heartbeat 11 was sent before the attach and arrives last: A still holds the dataset.
  beat_as(kA, 11, 1, {});
  ASSERT_TRUE(move(id, kB).ok());
  auto waiting = find(beat(kB, {}), id);
  ASSERT_TRUE(waiting.has_value());
  EXPECT_FALSE(waiting->attach) << "a reordered heartbeat must not free a dataset attached on A";
}

TEST_F(Grants, AGrantHoldsUntilTheNodeShowsItLetGoAfterApplyingIt) {
  auto created = core_->create_dataset({{"primary", kA}}, "");
  ASSERT_TRUE(created.ok());
  const std::string id = created->dataset_id;
  auto granted = find(beat_as(kA, 10, 1, {}), id);
  ASSERT_TRUE(granted && granted->attach);
  // Sent before answer 10 was applied: A may be attaching right now.
  beat_as(kA, 11, 1, {});
  ASSERT_TRUE(move(id, kB).ok());
  auto waiting = find(beat(kB, {}), id);
  ASSERT_TRUE(waiting.has_value());
  EXPECT_FALSE(waiting->attach) << "A was granted the dataset and has not shown it let go";
  // A "datasets" command never grants, whatever it lists.
  auto polled = core_->commands(kB, 0, std::chrono::milliseconds(0));
  ASSERT_TRUE(polled.ok());
  for (const auto& c : polled->commands) {
    if (const auto* list = c.as<protocol::DatasetsCommand>()) {
      for (const auto& a : list->datasets) EXPECT_FALSE(a.attach);
    }
  }
  // A has applied the answer that no longer assigns it (seq 11) and has nothing attached.
  EXPECT_EQ(find(beat_as(kA, 12, 11, {}), id), std::nullopt);
  auto now = find(beat(kB, {}), id);
  ASSERT_TRUE(now.has_value());
  EXPECT_TRUE(now->attach);
  EXPECT_EQ(now->epoch, granted->epoch + 1);
}

TEST_F(Grants, ALateCopyOfARegistrationIsRefused) {
  beat_as(kA, 5, 1, {});
  protocol::RegisterRequest late;
  late.token = "t";
  late.agent_id = kA;
  late.hostname = "node-a";
  late.heartbeat_seq = 3;
  auto refused = core_->register_agent(late);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  // The registration in force still works.
  EXPECT_EQ(beat_as(kA, 6, 5, {}).size(), 0u);
  // A new agent process (no heartbeat sent yet) registers as usual.
  late.heartbeat_seq = 0;
  EXPECT_TRUE(core_->register_agent(late).ok());
}

TEST(RestartGrace, NoDatasetIsAttachedAnewUntilEveryFormerHolderHadTimeToComeBack) {
  MemoryStore store;
  ManualClock clock;
  CountingIds ids;
  MasterOptions options;
  options.join_token = "t";
  options.timing.margin = std::chrono::milliseconds(500);  // lost after 3000 ms
  std::map<std::string, std::string> secrets;
  auto join = [&](MasterCore& core, const std::string& id) {
    protocol::RegisterRequest r;
    r.token = "t";
    r.agent_id = id;
    r.hostname = id.substr(0, 1);
    auto registered = core.register_agent(r);
    ASSERT_TRUE(registered.ok());
    secrets[id] = registered->agent_secret;
  };
  std::map<std::string, uint64_t> seqs;
  auto beat = [&](MasterCore& core, const std::string& node,
                  std::vector<protocol::DatasetReport> reports) {
    protocol::Heartbeat hb;
    hb.seq = ++seqs[node];
    hb.applied_seq = hb.seq - 1;
    hb.datasets = std::move(reports);
    auto ack = core.heartbeat(node, secrets[node], hb);
    EXPECT_TRUE(ack.ok()) << ack.error().message;
    std::optional<protocol::DatasetAssignment> out;
    if (ack.ok()) {
      for (const auto& a : ack->datasets) out = a;
    }
    return out;
  };
  std::string id;
  {
    MasterCore before(options, store, clock, ids);
    ASSERT_TRUE(before.load().ok());
    join(before, kA);
    join(before, kB);
    clock.advance(std::chrono::seconds(4));
    auto created = before.create_dataset({{"primary", kA}}, "");
    ASSERT_TRUE(created.ok()) << created.error().message;
    id = created->dataset_id;
    auto assigned = beat(before, kA, {});
    ASSERT_TRUE(assigned && assigned->attach)
        << "a fresh dataset is attached once the grace has passed";
    beat(before, kA, {attached(id, assigned->epoch)});
  }
  // The master restarts. Node B is back at once; node A, which has the dataset attached and
  // whose lease may still run, is not yet.
  MasterCore after(options, store, clock, ids);
  ASSERT_TRUE(after.load().ok());
  join(after, kB);
  ASSERT_TRUE(after.update_dataset(id, {{"primary", kB}}, "").ok());
  auto on_b = beat(after, kB, {});
  ASSERT_TRUE(on_b);
  EXPECT_FALSE(on_b->attach) << "attached on B while A may still write it";
  clock.advance(std::chrono::milliseconds(2900));
  EXPECT_FALSE(beat(after, kB, {})->attach);
  clock.advance(std::chrono::milliseconds(200));  // A's lease has surely run out by now
  EXPECT_TRUE(beat(after, kB, {})->attach);
}

TEST(RestartGrace, WhatANodeReportsAttachedStaysAttachedThroughARestart) {
  MemoryStore store;
  ManualClock clock;
  CountingIds ids;
  MasterOptions options;
  options.join_token = "t";
  options.timing.margin = std::chrono::milliseconds(500);  // lost after 3000 ms
  protocol::RegisterRequest r;
  r.token = "t";
  r.agent_id = kA;
  r.hostname = "a";
  std::string id;
  uint64_t epoch = 0;
  {
    MasterCore before(options, store, clock, ids);
    ASSERT_TRUE(before.load().ok());
    auto registered = before.register_agent(r);
    ASSERT_TRUE(registered.ok());
    clock.advance(std::chrono::seconds(4));
    auto created = before.create_dataset({{"primary", kA}}, "");
    ASSERT_TRUE(created.ok());
    id = created->dataset_id;
    protocol::Heartbeat first;
    first.seq = 1;
    auto ack = before.heartbeat(kA, registered->agent_secret, first);
    ASSERT_TRUE(ack.ok() && ack->datasets.size() == 1 && ack->datasets[0].attach);
    epoch = ack->datasets[0].epoch;
  }
  MasterCore after(options, store, clock, ids);
  ASSERT_TRUE(after.load().ok());
  auto registered = after.register_agent(r);
  ASSERT_TRUE(registered.ok());
  protocol::Heartbeat hb;
  hb.seq = 2;
  hb.applied_seq = 1;
  hb.datasets = {attached(id, epoch)};
  auto ack = after.heartbeat(kA, registered->agent_secret, hb);
  ASSERT_TRUE(ack.ok());
  ASSERT_EQ(ack->datasets.size(), 1u);
  EXPECT_TRUE(ack->datasets[0].attach) << "a restart must not detach what runs";
}

}  // namespace berth::master
