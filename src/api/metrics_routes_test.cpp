// GET /metrics, /metrics/prometheus, /berth/v1/failovers and /berth/v1/backup through the
// master's API dispatch, with an in-memory store and a hand-advanced clock.
#include "api/metrics_routes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api/marathon_api.h"
#include "master/test_support.h"
#include "metrics/registry.h"
#include "store/memory_store.h"

namespace berth::api {
namespace {

using std::chrono::milliseconds;

using master::testing::CountingIds;

class ApiRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    master::MasterOptions options;
    options.join_token = "t";
    options.metrics = &metrics_;
    core_ = std::make_unique<master::MasterCore>(options, store_, clock_, ids_);
    ASSERT_TRUE(core_->load().ok());
    auth_.add_bootstrap_admin("admin.s3cret");
    info_.http_address = "127.0.0.1:8080";
  }

  http::Response get(const std::string& path, bool with_token = true) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.target = path;
    if (with_token) r.headers["authorization"] = "Bearer admin.s3cret";
    return handle_request(*core_, clock_, info_, auth_, r);
  }

  http::Response post_app(const std::string& body) {
    http::Request r;
    r.method = "POST";
    r.path = "/v2/apps";
    r.target = r.path;
    r.body = body;
    r.headers["authorization"] = "Bearer admin.s3cret";
    return handle_request(*core_, clock_, info_, auth_, r);
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  metrics::Registry metrics_;
  std::unique_ptr<master::MasterCore> core_;
  Authenticator auth_{store_, clock_, ids_};
  ApiInfo info_;
};

TEST_F(ApiRoutes, EveryRouteNeedsACredential) {
  for (const char* path : {"/metrics", "/metrics/prometheus", "/berth/v1/failovers"}) {
    EXPECT_EQ(get(path, false).status, 401) << path;
    EXPECT_EQ(get(path).status, 200) << path;
  }
}

TEST_F(ApiRoutes, BothViewsShowTheAppsAndTheRequestsCounted) {
  ASSERT_EQ(post_app(R"({"id":"/web","cmd":"sleep 100","instances":2})").status, 201);
  get("/v2/apps");
  get("/v2/apps/web");

  http::Response json = get("/metrics");
  ASSERT_EQ(json.status, 200);
  auto j = nlohmann::json::parse(json.body);
  EXPECT_EQ(j["version"], "4.0.0");
  EXPECT_EQ(j["gauges"]["marathon.apps.active.gauge"]["value"], 1);
  EXPECT_EQ(j["gauges"]["marathon.deployments.active.gauge"]["value"], 1);
  EXPECT_EQ(j["gauges"]["marathon.tasks.running.gauge"]["value"], 0);
  EXPECT_EQ(j["gauges"]["marathon.tasks.staged.gauge"]["value"], 0);
  EXPECT_EQ(j["timers"]["berth.http.requests.get.v2.apps.duration.timer.seconds"]["count"], 2);
  EXPECT_EQ(j["timers"]["berth.http.requests.post.v2.apps.duration.timer.seconds"]["count"], 1);

  http::Response text = get("/metrics/prometheus");
  ASSERT_EQ(text.status, 200);
  EXPECT_EQ(text.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(text.body.find("berth_apps 1"), std::string::npos) << text.body;
  EXPECT_NE(text.body.find("berth_deployments 1"), std::string::npos);
  EXPECT_NE(text.body.find(
                "berth_http_request_duration_seconds_count{method=\"GET\",route=\"/v2/apps\"} 2"),
            std::string::npos)
      << text.body;
}

TEST(RouteClasses, AreAFixedListSoPathsCannotGrowTheMetrics) {
  EXPECT_EQ(route_class("/v2/apps"), "/v2/apps");
  EXPECT_EQ(route_class("/v2/apps/prod/web/tasks"), "/v2/apps");
  EXPECT_EQ(route_class("/v2/appsx"), "other");
  EXPECT_EQ(route_class("/v1/configuration/datasets/abc"), "/v1/configuration/datasets");
  EXPECT_EQ(route_class("/berth/v1/agents/x/heartbeat"), "/berth/v1/agents");
  EXPECT_EQ(route_class("/berth/v1/made-up"), "/berth/v1");
  EXPECT_EQ(route_class("/metrics/prometheus"), "/metrics/prometheus");
  EXPECT_EQ(route_class("/etc/passwd"), "other");
  EXPECT_EQ(method_class("GET"), "GET");
  EXPECT_EQ(method_class("BREW"), "other");
}

TEST(Gauges, CountAgentsDatasetsAndLeasesByState) {
  master::MasterState s;
  for (const char* id : {"a", "b", "c"}) s.agents[id].id = id;
  s.agents["b"].draining = true;
  s.agents["c"].lost = true;
  protocol::DatasetReport on_a;
  on_a.dataset_id = "d1";
  on_a.attached = true;
  on_a.epoch = 2;
  s.agents["a"].datasets = {on_a};
  auto dataset = [&](const std::string& id, const std::string& driver, const std::string& primary,
                     uint64_t epoch, bool deleted) {
    model::Dataset d;
    d.dataset_id = id;
    d.driver = driver;
    d.primary = primary;
    d.epoch = epoch;
    d.deleted = deleted;
    s.put_dataset(d);
  };
  dataset("d1", "shared", "a", 2, false);  // attached where it is assigned
  dataset("d2", "shared", "b", 1, false);  // assigned to b, not attached there yet
  dataset("d3", "local", "", 1, false);    // nowhere
  dataset("d4", "shared", "a", 1, true);   // deleted: not counted
  for (auto [id, state] : {std::pair{"t1", protocol::TaskState::kRunning},
                           std::pair{"t2", protocol::TaskState::kRunning},
                           std::pair{"t3", protocol::TaskState::kStaging}}) {
    s.tasks[id].id = id;
    s.tasks[id].state = state;
  }
  s.apps["/x"];
  s.apps["/y"].deleting = true;

  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  MonoTime later = MonoTime{} + std::chrono::seconds(10);
  leases.on_heartbeat_received("a", later);
  leases.on_heartbeat_received("b", later);
  leases.on_heartbeat_received("c", MonoTime{});
  ASSERT_EQ(leases.declare_lost(later), std::vector<std::string>{"c"});
  leases.restore_dataset("d1", {"a", 2});
  leases.restore_dataset("d2", {"b", 7});
  leases.on_granted("d1", "a", 1);
  leases.on_granted("d2", "c", 1);  // held by a lost agent: it blocks nobody

  metrics::Registry r;
  update_gauges(r, s, leases);
  using metrics::Metric;
  EXPECT_EQ(r.value(Metric::kApps), 1);
  EXPECT_EQ(r.value(Metric::kTasks, {"running"}), 2);
  EXPECT_EQ(r.value(Metric::kTasks, {"staged"}), 1);
  EXPECT_EQ(r.value(Metric::kAgents, {"registered"}), 2);
  EXPECT_EQ(r.value(Metric::kAgents, {"draining"}), 1);
  EXPECT_EQ(r.value(Metric::kAgents, {"lost"}), 1);
  EXPECT_EQ(r.value(Metric::kDatasets, {"shared", "attached"}), 1);
  EXPECT_EQ(r.value(Metric::kDatasets, {"shared", "moving"}), 1);
  EXPECT_EQ(r.value(Metric::kDatasets, {"local", "detached"}), 1);
  EXPECT_EQ(r.value(Metric::kLeaseAssignments), 2);
  EXPECT_EQ(r.value(Metric::kLeaseGrants), 1);
  EXPECT_EQ(r.value(Metric::kLeaseEpochMax), 7);

  // A later scrape after the move finished: "moving" reads 0, not its last value.
  on_a.dataset_id = "d2";
  on_a.epoch = 1;
  s.agents["b"].datasets = {on_a};
  update_gauges(r, s, leases);
  EXPECT_EQ(r.value(Metric::kDatasets, {"shared", "attached"}), 2);
  EXPECT_EQ(r.value(Metric::kDatasets, {"shared", "moving"}), 0);
}

TEST(FailoversJson, ShowsEachPhaseAndTheLastTimeEachWasReached) {
  ManualClock clock;
  master::FailoverLog log;
  master::Failover f;
  f.agent_id = "a";
  f.hostname = "node-a";
  f.lost_at = clock.wall_now();
  f.lost_at_mono = clock.mono_now();
  master::FailoverDataset d;
  d.dataset_id = "d-1";
  d.driver = "shared";
  d.epoch_at_loss = 3;
  f.datasets.push_back(d);
  master::FailoverTask t;
  t.task_id = "db.1";
  t.app_id = "/db";
  t.health_checked = true;
  f.tasks.push_back(t);
  log.add(f);
  WallTime lost = clock.wall_now();

  auto first = failovers_json(log)["failovers"][0];
  EXPECT_EQ(first["id"], 1);
  EXPECT_EQ(first["node"]["hostname"], "node-a");
  EXPECT_EQ(first["lostAt"], format_iso8601(lost));
  EXPECT_FALSE(first["complete"].get<bool>());
  EXPECT_TRUE(first["phases"]["attachedAfterMs"].is_null());
  EXPECT_TRUE(first["datasets"][0]["attachedOn"].is_null());

  clock.advance(milliseconds(2000));
  log.dataset_attached("d-1", "b", 4, clock.wall_now(), clock.mono_now());
  clock.advance(milliseconds(150));
  log.task_running("db.2", "/db", "b", lost, clock.wall_now(), clock.mono_now());
  clock.advance(milliseconds(1000));
  log.task_healthy("db.2", clock.wall_now(), clock.mono_now());

  auto done = failovers_json(log)["failovers"][0];
  EXPECT_TRUE(done["complete"].get<bool>());
  EXPECT_EQ(done["phases"]["attachedAfterMs"], 2000);
  EXPECT_EQ(done["phases"]["runningAfterMs"], 2150);
  EXPECT_EQ(done["phases"]["healthyAfterMs"], 3150);
  EXPECT_EQ(done["datasets"][0]["attachedOn"], "b");
  EXPECT_EQ(done["datasets"][0]["attachedEpoch"], 4);
  EXPECT_EQ(done["tasks"][0]["replacementTaskId"], "db.2");
  EXPECT_EQ(done["tasks"][0]["replacementNode"], "b");
  EXPECT_EQ(done["tasks"][0]["healthyAt"], format_iso8601(clock.wall_now()));
}

TEST_F(ApiRoutes, ABackupHoldsTheMastersKeysAndNotTheElectionsLeaderKey) {
  ASSERT_EQ(post_app(R"({"id":"/web","cmd":"sleep 100"})").status, 201);
  // etcd's election key lives beside the master's keys under the cluster's prefix.
  ASSERT_TRUE(store_.put("leader", "master-1").ok());
  EXPECT_EQ(get("/berth/v1/backup", false).status, 401);
  auto answer = get("/berth/v1/backup");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto backup = nlohmann::json::parse(answer.body);
  EXPECT_EQ(backup["format"], "berth-backup-1");
  EXPECT_EQ(backup["joinToken"], "t");
  std::set<std::string> keys;
  for (const auto& e : backup["entries"]) keys.insert(e["key"].get<std::string>());
  EXPECT_FALSE(keys.count("leader"));
  EXPECT_TRUE(keys.count("/apps/web")) << backup.dump();
}

}  // namespace
}  // namespace berth::api
