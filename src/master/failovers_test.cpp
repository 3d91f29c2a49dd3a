// Failover records: the pure log (master/failovers.h) with times from a hand-advanced clock,
// and MasterCore recording a whole failover through its agent protocol, with the metrics it
// feeds.
#include "master/failovers.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "master/master_core.h"
#include "master/plan.h"
#include "master/test_support.h"
#include "metrics/registry.h"
#include "store/memory_store.h"

namespace berth::master {
namespace {

using testing::CountingIds;
using testing::parsed_app;

using std::chrono::milliseconds;

// Node "a" ran /db (health-checked, dataset d-1 at epoch 3) and /web (no checks).
MasterState state_before_loss(const ManualClock& clock) {
  MasterState state;
  state.agents["a"].id = "a";
  state.agents["a"].hostname = "node-a";
  state.apps["/db"].app =
      parsed_app(R"({"id":"/db","cmd":"x","healthChecks":[{"protocol":"TCP"}]})");
  state.apps["/web"].app = parsed_app(R"({"id":"/web","cmd":"x"})");
  for (const auto& [id, app] :
       {std::pair{"db.1", "/db"}, std::pair{"web.1", "/web"}, std::pair{"web.2", "/web"}}) {
    TaskRecord t;
    t.id = id;
    t.app_id = app;
    t.agent_id = "a";
    t.staged_at = clock.wall_now() - std::chrono::hours(1);
    state.tasks[id] = t;
  }
  model::Dataset d;
  d.dataset_id = "d-1";
  d.driver = "shared";
  d.primary = "a";
  d.epoch = 3;
  state.put_dataset(d);
  return state;
}

TEST(FailoverLog, RecordsWhatTheLostNodeRanAndHeld) {
  ManualClock clock;
  Failover f = failover_of(state_before_loss(clock), "a", clock.wall_now(), clock.mono_now());
  EXPECT_EQ(f.hostname, "node-a");
  ASSERT_EQ(f.datasets.size(), 1u);
  EXPECT_EQ(f.datasets[0].dataset_id, "d-1");
  EXPECT_EQ(f.datasets[0].epoch_at_loss, 3u);
  ASSERT_EQ(f.tasks.size(), 3u);
  EXPECT_TRUE(f.tasks[0].health_checked);  // db.1
  EXPECT_FALSE(f.tasks[1].health_checked);
  EXPECT_FALSE(f.complete());
}

TEST(FailoverLog, TimesEachPhaseFromTheLoss) {
  ManualClock clock;
  FailoverLog log;
  log.add(failover_of(state_before_loss(clock), "a", clock.wall_now(), clock.mono_now()));
  WallTime lost = clock.wall_now();

  clock.advance(milliseconds(40));
  // The old node's epoch is no failover attach; the next one is.
  EXPECT_TRUE(log.dataset_attached("d-1", "a", 3, clock.wall_now(), clock.mono_now()).empty());
  auto attached = log.dataset_attached("d-1", "b", 4, clock.wall_now(), clock.mono_now());
  ASSERT_EQ(attached.size(), 1u);
  EXPECT_EQ(attached[0].phase, FailoverPhase::kAttached);
  EXPECT_EQ(attached[0].after, milliseconds(40));
  EXPECT_EQ(attached[0].epoch, 4u);

  clock.advance(milliseconds(100));
  // A task of the app staged before the loss is no replacement.
  EXPECT_TRUE(log.task_running("db.0", "/db", "b", lost - milliseconds(1), clock.wall_now(),
                               clock.mono_now())
                  .empty());
  auto running = log.task_running("db.2", "/db", "b", lost, clock.wall_now(), clock.mono_now());
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].subject, "db.1");
  EXPECT_EQ(running[0].after, milliseconds(140));
  clock.advance(milliseconds(1000));
  auto healthy = log.task_healthy("db.2", clock.wall_now(), clock.mono_now());
  ASSERT_EQ(healthy.size(), 1u);
  EXPECT_EQ(healthy[0].after, milliseconds(1140));
  EXPECT_TRUE(log.task_healthy("db.2", clock.wall_now(), clock.mono_now()).empty());  // once
  // /db has no service port: a router never forwards to it, "routed" is no phase of it.
  EXPECT_FALSE(log.entries().back().tasks[0].service_routed);
  EXPECT_TRUE(log.task_routed("db.2", clock.wall_now(), clock.mono_now()).empty());

  // Each replacement stands for one lost task; apps without checks need no "healthy".
  EXPECT_EQ(log.task_running("web.3", "/web", "b", lost, clock.wall_now(), clock.mono_now()).size(),
            1u);
  EXPECT_FALSE(log.entries().back().complete());
  EXPECT_EQ(log.task_running("web.4", "/web", "b", lost, clock.wall_now(), clock.mono_now()).size(),
            1u);
  EXPECT_TRUE(log.entries().back().complete());
  EXPECT_TRUE(
      log.task_running("web.5", "/web", "b", lost, clock.wall_now(), clock.mono_now()).empty());
}

TEST(FailoverLog, TimesTheFirstRoutedConnectionOfAServiceApp) {
  ManualClock clock;
  MasterState state = state_before_loss(clock);
  state.apps["/web"].app =
      parsed_app(R"({"id":"/web","cmd":"x","portDefinitions":[{"port":10005}]})");
  FailoverLog log;
  log.add(failover_of(state, "a", clock.wall_now(), clock.mono_now()));
  WallTime lost = clock.wall_now();
  ASSERT_TRUE(log.entries().back().tasks[1].service_routed);  // web.1
  clock.advance(milliseconds(300));
  ASSERT_EQ(log.task_running("web.3", "/web", "b", lost, clock.wall_now(), clock.mono_now()).size(),
            1u);
  // Only a replacement's first forward counts, and only once.
  EXPECT_TRUE(log.task_routed("web.9", clock.wall_now(), clock.mono_now()).empty());
  clock.advance(milliseconds(50));
  auto routed = log.task_routed("web.3", clock.wall_now(), clock.mono_now());
  ASSERT_EQ(routed.size(), 1u);
  EXPECT_EQ(routed[0].phase, FailoverPhase::kRouted);
  EXPECT_EQ(routed[0].subject, "web.1");
  EXPECT_EQ(routed[0].after, milliseconds(350));
  EXPECT_TRUE(log.task_routed("web.3", clock.wall_now(), clock.mono_now()).empty());
  EXPECT_EQ(std::string(phase_name(FailoverPhase::kRouted)), "routed");
}

TEST(FailoverLog, KeepsTheLastHundredNumberedInOrder) {
  ManualClock clock;
  FailoverLog log;
  for (int i = 0; i < 130; ++i) {
    Failover f;
    f.agent_id = "n" + std::to_string(i);
    log.add(f);
  }
  ASSERT_EQ(log.entries().size(), FailoverLog::kKept);
  EXPECT_EQ(log.entries().front().id, 31u);
  EXPECT_EQ(log.entries().back().id, 130u);
}

// MasterCore through its agent protocol: an app with a dataset and a health check on node A;
// A dies; the master records the failover until the replacement on B is healthy.
class MasterFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterOptions options;
    options.join_token = "t";
    options.timing.margin = milliseconds(500);  // lost after 3000 ms
    options.metrics = &metrics_;
    core_ = std::make_unique<MasterCore>(options, store_, clock_, ids_);
    ASSERT_TRUE(core_->load().ok());
    for (const auto& n : {"a", "b"}) join(n);
    clock_.advance(std::chrono::seconds(4));  // past the start-up grace
    for (const auto& n : {"a", "b"}) beat(n);
  }

  void join(const std::string& id) {
    protocol::RegisterRequest r = testing::registration(id, "t");
    r.address = "10.0.0.1";
    auto registered = core_->register_agent(r);
    ASSERT_TRUE(registered.ok());
    secrets_[id] = registered->agent_secret;
  }

  void beat(const std::string& node, std::vector<protocol::DatasetReport> datasets = {}) {
    protocol::Heartbeat hb;
    hb.seq = ++seqs_[node];
    hb.applied_seq = hb.seq - 1;
    hb.datasets = std::move(datasets);
    ASSERT_TRUE(core_->heartbeat(node, secrets_[node], hb).ok());
  }

  void report(const std::string& node, const std::string& task, protocol::TaskState state,
              int health = -1) {
    protocol::StatusBatch batch;
    protocol::StatusUpdate u;
    u.update_id = ids_.uuid();
    u.task_id = task;
    u.state = state;
    u.health = health;
    batch.updates.push_back(u);
    ASSERT_TRUE(core_->status(node, batch).ok());
  }

  // The app's one live task: its id and node.
  std::pair<std::string, std::string> task() {
    std::pair<std::string, std::string> out;
    core_->read([&](const MasterState& s) {
      for (const auto& [id, t] : s.tasks) out = {id, t.agent_id};
    });
    return out;
  }

  // Why the app waits, if it does.
  std::string queue() {
    std::string why;
    core_->read([&](const MasterState& s) {
      for (const auto& [id, app] : s.apps) {
        if (!app.queue) continue;
        for (const auto& [reason, n] : app.queue->reason_counts) why += reason + " ";
      }
    });
    return why;
  }

  model::Dataset dataset() {
    model::Dataset out;
    core_->read([&](const MasterState& s) { out = s.datasets.begin()->second; });
    return out;
  }

  static protocol::DatasetReport attached(const model::Dataset& d) {
    protocol::DatasetReport r;
    r.dataset_id = d.dataset_id;
    r.driver = d.driver;
    r.attached = true;
    r.epoch = d.epoch;
    return r;
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  metrics::Registry metrics_;
  std::unique_ptr<MasterCore> core_;
  std::map<std::string, uint64_t> seqs_;
  std::map<std::string, std::string> secrets_;  // agent id -> its registration's credential
};

TEST_F(MasterFailover, RecordsEveryPhaseAndFeedsTheMetrics) {
  model::App app = parsed_app(R"({"id":"/db","cmd":"sleep 100","instances":1,
      "healthChecks":[{"protocol":"TCP","portIndex":0}],"portDefinitions":[{"port":0}],
      "container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW",
      "external":{"name":"orders","provider":"dvdi","options":{"dvdi/driver":"berth"}}}]}})");
  ASSERT_TRUE(core_->create_app(app, false).ok());
  core_->reconcile();
  auto [first, node] = task();
  ASSERT_FALSE(first.empty()) << queue();
  std::string other = node == "a" ? "b" : "a";
  beat(node, {attached(dataset())});
  report(node, first, protocol::TaskState::kRunning, 1);

  // The node stops heartbeating; the other does not.
  clock_.advance(milliseconds(3500));
  beat(other);
  core_->reconcile();
  EXPECT_EQ(metrics_.value(metrics::Metric::kFailovers), 1);
  model::Dataset moved = dataset();
  EXPECT_EQ(moved.primary, other);
  EXPECT_EQ(metrics_.value(metrics::Metric::kDatasetMoves, {moved.driver}), 1);

  clock_.advance(milliseconds(200));
  beat(other, {attached(moved)});
  auto [replacement, where] = task();
  ASSERT_NE(replacement, first);
  EXPECT_EQ(where, other);
  clock_.advance(milliseconds(300));
  report(other, replacement, protocol::TaskState::kRunning);
  clock_.advance(milliseconds(1000));
  report(other, replacement, protocol::TaskState::kRunning, 1);

  Failover f;
  core_->read([&](const MasterState& s) { f = s.failovers.entries().back(); });
  EXPECT_EQ(f.agent_id, node);
  ASSERT_EQ(f.datasets.size(), 1u);
  EXPECT_EQ(f.datasets[0].attached_on, other);
  EXPECT_EQ(f.datasets[0].attached_epoch, moved.epoch);
  ASSERT_EQ(f.tasks.size(), 1u);
  EXPECT_EQ(f.tasks[0].task_id, first);
  EXPECT_EQ(f.tasks[0].replacement_id, replacement);
  EXPECT_EQ(f.datasets[0].attached_after, milliseconds(200));
  EXPECT_EQ(f.tasks[0].running_after, milliseconds(500));
  EXPECT_EQ(f.tasks[0].healthy_after, milliseconds(1500));
  EXPECT_TRUE(f.complete());
  for (const char* phase : {"attached", "running", "healthy"}) {
    EXPECT_EQ(metrics_.value(metrics::Metric::kFailoverPhase, {phase}), 1) << phase;
  }
}

}  // namespace
}  // namespace berth::master
