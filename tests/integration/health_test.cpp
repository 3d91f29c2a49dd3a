// Marathon health checks run by real agents: results in task JSON and app counts; a task that
// fails too many checks is killed and replaced.
#include <gtest/gtest.h>

#include <set>

#include "http/http.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {
using std::chrono::seconds;
}

TEST(HealthChecks, HealthyTasksAreCountedAndShowTheirResults) {
  Cluster cluster(2);
  nlohmann::json app = {
      {"id", "/counter"},
      {"cmd", std::string(BERTH_COUNTER_BINARY) + " --port $PORT0 --data-dir $MESOS_SANDBOX/data"},
      {"cpus", 0.1},
      {"mem", 64},
      {"instances", 2},
      {"healthChecks",
       {{{"protocol", "HTTP"},
         {"path", "/v1/ping"},
         {"portIndex", 0},
         {"gracePeriodSeconds", 10},
         {"intervalSeconds", 1},
         {"timeoutSeconds", 1},
         {"maxConsecutiveFailures", 3}}}}};
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  nlohmann::json info;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        info = cluster.call("GET", "/v2/apps/counter").body["app"];
        return info["tasksHealthy"] == 2;
      },
      seconds(30)))
      << info.dump();
  EXPECT_EQ(info["tasksUnhealthy"], 0);
  for (const auto& t : info["tasks"]) {
    ASSERT_EQ(t["healthCheckResults"].size(), 1u) << t.dump();
    EXPECT_EQ(t["healthCheckResults"][0]["alive"], true);
    EXPECT_EQ(t["healthCheckResults"][0]["consecutiveFailures"], 0);
    EXPECT_FALSE(t["healthCheckResults"][0]["lastSuccess"].is_null());
  }
  // The deployment waited for health, and ends.
  EXPECT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(5)));
}

TEST(HealthChecks, ATaskFailingItsChecksIsKilledAndReplaced) {
  Cluster cluster(1);
  nlohmann::json app = {{"id", "/sick"},
                        {"cmd", "sleep 1000"},
                        {"cpus", 0.1},
                        {"mem", 16},
                        {"backoffSeconds", 0.5},
                        {"healthChecks",
                         {{{"protocol", "COMMAND"},
                           {"command", {{"value", "test -e $MESOS_SANDBOX/never"}}},
                           {"gracePeriodSeconds", 0},
                           {"intervalSeconds", 1},
                           {"timeoutSeconds", 1},
                           {"delaySeconds", 0},
                           {"maxConsecutiveFailures", 2}}}}};
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  std::string first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/sick");
        if (!tasks.empty()) first = tasks[0]["id"].get<std::string>();
        return !first.empty();
      },
      seconds(20)));
  nlohmann::json info;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        info = cluster.call("GET", "/v2/apps/sick").body["app"];
        return info.contains("lastTaskFailure") &&
               info["lastTaskFailure"]["taskId"].get<std::string>() == first;
      },
      seconds(30)))
      << info.dump();
  EXPECT_NE(info["lastTaskFailure"]["message"].get<std::string>().find("health"), std::string::npos)
      << info["lastTaskFailure"].dump();
  // A replacement runs (and will fail in turn).
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/sick");
        return tasks.size() == 1 && tasks[0]["id"].get<std::string>() != first;
      },
      seconds(20)));
}

}  // namespace berth::testing

namespace berth::testing {

TEST(ServiceRouter, ClientsReachHealthyTasksThroughTheServicePortWhereverTheyRun) {
  Cluster cluster(2);
  uint32_t service_port = cluster.service_port_begin() + 7;
  nlohmann::json app = {
      {"id", "/routed"},
      {"cmd", std::string(BERTH_COUNTER_BINARY) + " --port $PORT0 --data-dir $MESOS_SANDBOX/data"},
      {"cpus", 0.1},
      {"mem", 64},
      {"portDefinitions", {{{"port", service_port}, {"name", "http"}}}},
      {"healthChecks",
       {{{"protocol", "HTTP"},
         {"path", "/v1/ping"},
         {"gracePeriodSeconds", 10},
         {"intervalSeconds", 1},
         {"timeoutSeconds", 1}}}}};
  auto created = cluster.call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["portDefinitions"][0]["port"], service_port);
  std::string via = "http://127.0.0.1:" + std::to_string(service_port);
  std::string first_task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto r = http::request(via, "GET", "/v1/ping", "", 1000);
        if (!r || r->status != 200) return false;
        first_task = nlohmann::json::parse(r->body)["task"].get<std::string>();
        return true;
      },
      std::chrono::seconds(30)));
  // The task goes away; the same address reaches its replacement.
  auto killed = cluster.call("DELETE", "/v2/apps/routed/tasks/" + first_task);
  ASSERT_EQ(killed.status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto r = http::request(via, "GET", "/v1/ping", "", 3000);
        return r && r->status == 200 &&
               nlohmann::json::parse(r->body)["task"].get<std::string>() != first_task;
      },
      std::chrono::seconds(30)));
}

}  // namespace berth::testing

namespace berth::testing {

// Marathon's readiness checks (docs/compatibility.md §2.5): a deployment step waits until the
// new task answers its readiness check, and a rolling restart keeps the old task until then.
TEST(ReadinessChecks, ADeploymentWaitsForReadinessAndTheOldTaskStaysUntilTheNewIsReady) {
  Cluster cluster(1);
  nlohmann::json app = {
      {"id", "/ready-late"},
      // Ready three seconds after it starts: /ready is 404 until then.
      {"cmd",
       "mkdir -p www; (sleep 3; touch www/ready) & cd www && exec python3 -m http.server $PORT0"},
      {"cpus", 0.1},
      {"mem", 64},
      {"portDefinitions", {{{"port", 0}, {"name", "http"}}}},
      {"upgradeStrategy", {{"minimumHealthCapacity", 1}, {"maximumOverCapacity", 1}}},
      {"readinessChecks",
       {{{"name", "late"},
         {"protocol", "HTTP"},
         {"path", "/ready"},
         {"portName", "http"},
         {"intervalSeconds", 2},
         {"timeoutSeconds", 1},
         {"httpStatusCodesForReady", {200, 204}}}}}};
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  std::string first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/ready-late");
        if (tasks.empty()) return false;
        first = tasks[0]["id"];
        return true;
      },
      std::chrono::seconds(20)));
  // Running, not ready: the deployment waits and shows why.
  auto waiting = cluster.call("GET", "/v2/deployments");
  ASSERT_EQ(waiting.body.size(), 1u) << waiting.body.dump();
  auto results = waiting.body[0]["currentActions"][0]["readinessCheckResults"];
  ASSERT_EQ(results.size(), 1u) << waiting.body.dump();
  EXPECT_EQ(results[0]["taskId"], first);
  EXPECT_EQ(results[0]["ready"], false);
  ASSERT_TRUE(
      Cluster::eventually([&] { return cluster.call("GET", "/v2/deployments").body.empty(); },
                          std::chrono::seconds(20)));

  // A restart: until the new task is ready, the old one keeps running.
  ASSERT_EQ(cluster.call("POST", "/v2/apps/ready-late/restart").status, 200);
  bool old_kept = true;
  std::string seen;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto deployments = cluster.call("GET", "/v2/deployments").body;
        bool new_ready = false, old_running = false;
        for (const auto& t : cluster.running_tasks("/ready-late")) {
          if (t["id"] == first) old_running = true;
        }
        if (!deployments.empty()) {
          for (const auto& r : deployments[0]["currentActions"][0]["readinessCheckResults"]) {
            if (r["taskId"] != first && r["ready"] == true) new_ready = true;
          }
        }
        if (!old_running && !new_ready && !deployments.empty()) old_kept = false;
        seen += std::string(old_running ? "old " : "") + (new_ready ? "ready " : "") + "| ";
        return deployments.empty();
      },
      std::chrono::seconds(30)))
      << seen;
  EXPECT_TRUE(old_kept) << "the old task went before the new one was ready: " << seen;
  auto tasks = cluster.running_tasks("/ready-late");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_NE(tasks[0]["id"], first);
}

}  // namespace berth::testing
