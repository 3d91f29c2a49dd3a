// Marathon's groups on a real cluster (docs/compatibility.md §2.8): dependencies order the
// deployment's steps (what others depend on runs and is healthy first; stops go the other way),
// groups scale and roll back, and a deployment can be rolled back or canceled.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A store that takes two seconds to come up and answers its health check once it has.
nlohmann::json slow_store(const std::string& id) {
  return {{"id", id},
          {"cmd", "sleep 2; exec " + std::string(BERTH_COUNTER_BINARY) +
                      " --port $PORT0 --data-dir $MESOS_SANDBOX/data"},
          {"cpus", 0.1},
          {"mem", 32},
          {"healthChecks",
           {{{"protocol", "HTTP"},
             {"path", "/v1/ping"},
             {"portIndex", 0},
             {"gracePeriodSeconds", 10},
             {"intervalSeconds", 1},
             {"timeoutSeconds", 1},
             {"maxConsecutiveFailures", 5}}}}};
}

nlohmann::json sleeper(const std::string& id, const std::string& cmd = "sleep 1000") {
  return {{"id", id}, {"cmd", cmd}, {"cpus", 0.1}, {"mem", 16}};
}

nlohmann::json stack() {
  return {{"id", "/stack"},
          {"groups",
           {{{"id", "db"}, {"apps", {slow_store("pg"), slow_store("redis")}}},
            {{"id", "web"},
             {"dependencies", {"/stack/db"}},
             {"apps",
              {[] {
                 auto front = sleeper("front");
                 front["dependencies"] = {"api"};
                 return front;
               }(),
               sleeper("api")}}}}}};
}

struct Counts {
  int pg = 0, redis = 0, api = 0, front = 0;
  int healthy_db = 0;
};

Counts counts(Cluster& cluster) {
  Counts c;
  auto tasks = cluster.call("GET", "/v2/tasks").body["tasks"];
  for (const auto& t : tasks) {
    std::string app = t.value("appId", "");
    bool healthy = false;
    for (const auto& r : t["healthCheckResults"]) healthy = healthy || r.value("alive", false);
    if (app == "/stack/db/pg") ++c.pg;
    if (app == "/stack/db/redis") ++c.redis;
    if (app == "/stack/web/api") ++c.api;
    if (app == "/stack/web/front") ++c.front;
    if (app.rfind("/stack/db/", 0) == 0 && healthy) ++c.healthy_db;
  }
  return c;
}

bool deployments_done(Cluster& cluster) {
  auto d = cluster.call("GET", "/v2/deployments");
  return d.status == 200 && d.body.empty();
}

TEST(Groups, NestedGroupsDeployInDependencyOrderScaleAndStopInReverse) {
  Cluster cluster(2);
  auto created = cluster.call("POST", "/v2/groups", stack().dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  ASSERT_TRUE(created.body.contains("deploymentId"));
  // The plan: databases, then the api, then the front.
  auto plan = cluster.call("GET", "/v2/deployments");
  ASSERT_EQ(plan.body.size(), 1u) << plan.body.dump();
  EXPECT_EQ(plan.body[0]["totalSteps"], 3);
  EXPECT_EQ(plan.body[0]["steps"][0]["actions"].size(), 2u);
  EXPECT_EQ(plan.body[0]["steps"][1]["actions"][0]["app"], "/stack/web/api");
  EXPECT_EQ(plan.body[0]["steps"][2]["actions"][0]["app"], "/stack/web/front");

  // Until both databases are healthy, nothing of /stack/web runs; until the api runs, no front.
  bool ordered = true;
  std::string seen;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        Counts c = counts(cluster);
        if ((c.api > 0 || c.front > 0) && c.healthy_db < 2) ordered = false;
        if (c.front > 0 && c.api == 0) ordered = false;
        seen += std::to_string(c.healthy_db) + "/" + std::to_string(c.api) + "/" +
                std::to_string(c.front) + " ";
        return c.front == 1 && deployments_done(cluster);
      },
      seconds(60)))
      << seen;
  EXPECT_TRUE(ordered) << "healthy db / api / front over time: " << seen;

  // The tree as Marathon shows it.
  auto tree = cluster.call("GET", "/v2/groups/stack");
  ASSERT_EQ(tree.status, 200) << tree.body.dump();
  EXPECT_EQ(tree.body["id"], "/stack");
  ASSERT_EQ(tree.body["groups"].size(), 2u) << tree.body.dump();
  EXPECT_EQ(tree.body["groups"][1]["id"], "/stack/web");
  EXPECT_EQ(tree.body["groups"][1]["dependencies"], nlohmann::json({"/stack/db"}));
  EXPECT_EQ(tree.body["groups"][0]["apps"].size(), 2u);
  EXPECT_EQ(cluster.call("GET", "/v2/groups").body["groups"][0]["id"], "/stack");

  // Scale: every app of the subtree doubles.
  auto scaled = cluster.call("PUT", "/v2/groups/stack/web", R"({"scaleBy":2})");
  ASSERT_EQ(scaled.status, 200) << scaled.body.dump();
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        Counts c = counts(cluster);
        return c.api == 2 && c.front == 2 && deployments_done(cluster);
      },
      seconds(30)));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/stack/web/api").body["app"]["instances"], 2);
  EXPECT_EQ(cluster.call("GET", "/v2/apps/stack/db/pg").body["app"]["instances"], 1);

  // Delete: the front goes first, the databases last.
  auto deleted = cluster.call("DELETE", "/v2/groups/stack");
  ASSERT_EQ(deleted.status, 200) << deleted.body.dump();
  bool reverse = true;
  seen.clear();
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        Counts c = counts(cluster);
        if (c.api < 2 && c.front > 0) reverse = false;
        if (c.pg + c.redis < 2 && c.api + c.front > 0) reverse = false;
        seen += std::to_string(c.pg + c.redis) + "/" + std::to_string(c.api) + "/" +
                std::to_string(c.front) + " ";
        return c.pg + c.redis + c.api + c.front == 0 && deployments_done(cluster);
      },
      seconds(60)))
      << seen;
  EXPECT_TRUE(reverse) << "db / api / front over time: " << seen;
  EXPECT_EQ(cluster.call("GET", "/v2/groups/stack").status, 404);
}

TEST(Groups, AGroupVersionRollsBack) {
  Cluster cluster(1);
  nlohmann::json v1 = {{"id", "/g"}, {"apps", {sleeper("a", "sleep 1001")}}};
  ASSERT_EQ(cluster.call("POST", "/v2/groups", v1.dump()).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return deployments_done(cluster); }, seconds(20)));
  auto versions = cluster.call("GET", "/v2/groups/g/versions");
  ASSERT_EQ(versions.body.size(), 1u) << versions.body.dump();
  std::string first = versions.body[0];

  nlohmann::json v2 = {{"apps", {sleeper("a", "sleep 1002"), sleeper("b")}}};
  ASSERT_EQ(cluster.call("PUT", "/v2/groups/g", v2.dump()).status, 200);
  ASSERT_TRUE(Cluster::eventually([&] { return deployments_done(cluster); }, seconds(20)));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/g/a").body["app"]["cmd"], "sleep 1002");
  EXPECT_EQ(cluster.call("GET", "/v2/groups/g/versions").body.size(), 2u);
  EXPECT_EQ(cluster.call("GET", "/v2/groups/g/versions/" + first).body["apps"].size(), 1u);

  // The dry run shows the plan and changes nothing.
  auto dry =
      cluster.call("PUT", "/v2/groups/g?dryRun=true", nlohmann::json{{"version", first}}.dump());
  ASSERT_EQ(dry.status, 200) << dry.body.dump();
  ASSERT_EQ(dry.body["steps"].size(), 2u) << dry.body.dump();
  EXPECT_EQ(dry.body["steps"][0]["actions"][0],
            nlohmann::json({{"action", "StopApplication"}, {"app", "/g/b"}}));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/g/b").status, 200);

  auto rolled = cluster.call("PUT", "/v2/groups/g", nlohmann::json{{"version", first}}.dump());
  ASSERT_EQ(rolled.status, 200) << rolled.body.dump();
  ASSERT_TRUE(Cluster::eventually([&] { return deployments_done(cluster); }, seconds(20)));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/g/a").body["app"]["cmd"], "sleep 1001");
  EXPECT_EQ(cluster.call("GET", "/v2/apps/g/b").status, 404);
  auto running = cluster.running_tasks("/g/a");
  ASSERT_EQ(running.size(), 1u);
}

TEST(Groups, BadGroupsAreRefusedWithTheReason) {
  Cluster cluster(1);
  auto cycle = cluster.call("POST", "/v2/groups",
                            R"({"id":"/c","apps":[{"id":"a","cmd":"sleep 1","dependencies":["b"]},
                            {"id":"b","cmd":"sleep 1","dependencies":["a"]}]})");
  EXPECT_EQ(cycle.status, 422) << cycle.body.dump();
  EXPECT_NE(cycle.body.dump().find("cyclic"), std::string::npos) << cycle.body.dump();
  auto outside =
      cluster.call("POST", "/v2/groups", R"({"id":"/c","apps":[{"id":"/d/a","cmd":"sleep 1"}]})");
  EXPECT_EQ(outside.status, 422) << outside.body.dump();
  EXPECT_EQ(outside.body["details"][0]["path"], "/apps(0)/id");
  ASSERT_EQ(cluster.call("POST", "/v2/groups", R"({"id":"/c"})").status, 201);
  auto again = cluster.call("POST", "/v2/groups", R"({"id":"/c"})");
  EXPECT_EQ(again.status, 409) << again.body.dump();
  // Nothing of the refused changes was kept.
  EXPECT_EQ(cluster.call("GET", "/v2/apps").body["apps"].size(), 0u);
}

TEST(Deployments, AStuckDeploymentIsRolledBackOrCanceled) {
  Cluster cluster(1);
  // More than any node offers: the deployment cannot finish.
  nlohmann::json huge = sleeper("/huge");
  huge["cpus"] = 1000;
  auto created = cluster.call("POST", "/v2/apps", huge.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  auto deployments = cluster.call("GET", "/v2/deployments").body;
  ASSERT_EQ(deployments.size(), 1u);
  std::string stuck = deployments[0]["id"];

  // Rolled back: the app it created goes, by a new deployment.
  auto rolled = cluster.call("DELETE", "/v2/deployments/" + stuck);
  ASSERT_EQ(rolled.status, 200) << rolled.body.dump();
  EXPECT_NE(rolled.body["deploymentId"], stuck);
  ASSERT_TRUE(Cluster::eventually([&] { return deployments_done(cluster); }, seconds(20)));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/huge").status, 404);
  EXPECT_EQ(cluster.call("DELETE", "/v2/deployments/" + stuck).status, 404);

  // Canceled: the deployment ends, the app stays as it is.
  ASSERT_EQ(cluster.call("POST", "/v2/apps", huge.dump()).status, 201);
  std::string second = cluster.call("GET", "/v2/deployments").body[0]["id"];
  auto canceled = cluster.call("DELETE", "/v2/deployments/" + second + "?force=true");
  EXPECT_EQ(canceled.status, 202) << canceled.body.dump();
  EXPECT_TRUE(deployments_done(cluster));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/huge").status, 200);

  // An update rolled back puts the previous definition back.
  nlohmann::json small = sleeper("/small", "sleep 1001");
  ASSERT_EQ(cluster.call("POST", "/v2/apps", small.dump()).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/small").size() == 1; },
                                  seconds(20)));
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.size() <= 0; }, seconds(20)));
  auto updated = cluster.call("PUT", "/v2/apps/small", R"({"cpus":1000})");
  ASSERT_EQ(updated.status, 200) << updated.body.dump();
  auto back =
      cluster.call("DELETE", "/v2/deployments/" + updated.body["deploymentId"].get<std::string>());
  ASSERT_EQ(back.status, 200) << back.body.dump();
  EXPECT_EQ(cluster.call("GET", "/v2/apps/small").body["app"]["cpus"], 0.1);
}

}  // namespace
}  // namespace berth::testing
