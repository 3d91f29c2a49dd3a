// The master's metrics and failover records on a real cluster (docs/compatibility.md §2.9,
// docs/architecture.md §4): a node running an app with a dataset and a health check dies; the
// master records the failover phase by phase, and both metrics routes count it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/cluster.h"
#include "tests/integration/writer_log.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

// The writer of writer_log.h, healthy once its log on the dataset has a line.
std::string checked_writer_app(const std::string& id, const std::string& volume) {
  nlohmann::json app = nlohmann::json::parse(writer_app(id, volume));
  app["healthChecks"] = {{{"protocol", "COMMAND"},
                          {"command", {{"value", "test -s $BERTH_VOLUME_DATA/log"}}},
                          {"gracePeriodSeconds", 5},
                          {"intervalSeconds", 1},
                          {"timeoutSeconds", 1},
                          {"delaySeconds", 0},
                          {"maxConsecutiveFailures", 3}}};
  return app.dump();
}

// The app's one running task that passes its health check: {task id, node id}, or empty.
std::pair<std::string, std::string> healthy_task(Cluster& cluster, const std::string& app) {
  for (const auto& t : cluster.running_tasks(app)) {
    for (const auto& r : t.value("healthCheckResults", nlohmann::json::array())) {
      if (r.value("alive", false))
        return {t["id"].get<std::string>(), t["slaveId"].get<std::string>()};
    }
  }
  return {};
}

// What `python3` prints running `script`.
std::string python(const std::string& script) {
  std::string path = "/tmp/berth-metrics-" + std::to_string(::getpid()) + ".py";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return "";
  std::fputs(script.c_str(), f);
  std::fclose(f);
  std::string out;
  FILE* p = ::popen(("/usr/bin/python3 " + path + " 2>&1").c_str(), "r");
  if (p == nullptr) return "";
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  std::remove(path.c_str());
  return out;
}

TEST(Metrics, AKilledNodesFailoverIsRecordedPhaseByPhaseAndCountedInBothViews) {
  Cluster cluster(2);
  std::string volume = "metrics-" + std::to_string(::getpid());
  ASSERT_EQ(cluster.call("POST", "/v2/apps", checked_writer_app("/measured", volume)).status, 201);
  std::pair<std::string, std::string> first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = healthy_task(cluster, "/measured");
        return !first.first.empty();
      },
      seconds(30)));
  int index = cluster.agent_index(first.second);
  ASSERT_GT(index, 0);
  cluster.kill_agent(index);

  nlohmann::json failover;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto answer = cluster.call("GET", "/berth/v1/failovers");
        if (answer.status != 200 || answer.body["failovers"].empty()) return false;
        failover = answer.body["failovers"][0];
        return failover["complete"].get<bool>();
      },
      seconds(60)))
      << failover.dump(2);
  EXPECT_EQ(failover["node"]["id"], first.second);
  EXPECT_EQ(failover["node"]["hostname"], cluster.agent_hostname(index));
  ASSERT_EQ(failover["datasets"].size(), 1u);
  const auto& dataset = failover["datasets"][0];
  EXPECT_NE(dataset["attachedOn"], first.second);
  EXPECT_GT(dataset["attachedEpoch"].get<uint64_t>(), dataset["epochAtLoss"].get<uint64_t>());
  ASSERT_EQ(failover["tasks"].size(), 1u);
  const auto& task = failover["tasks"][0];
  EXPECT_EQ(task["taskId"], first.first);
  EXPECT_TRUE(task["healthChecked"].get<bool>());
  EXPECT_NE(task["replacementTaskId"], first.first);
  EXPECT_EQ(task["replacementNode"], dataset["attachedOn"]);
  // The phases in the order a failover goes through them.
  int64_t attached = failover["phases"]["attachedAfterMs"].get<int64_t>();
  int64_t running = failover["phases"]["runningAfterMs"].get<int64_t>();
  int64_t healthy = failover["phases"]["healthyAfterMs"].get<int64_t>();
  EXPECT_GE(attached, 0);
  EXPECT_LE(attached, running);
  EXPECT_LE(running, healthy);
  EXPECT_EQ(task["healthyAfterMs"], healthy);

  auto json = cluster.call("GET", "/metrics");
  ASSERT_EQ(json.status, 200);
  const auto& m = json.body;
  EXPECT_EQ(m["version"], "4.0.0");
  EXPECT_EQ(m["counters"]["berth.failovers.counter"]["count"], 1);
  EXPECT_EQ(m["gauges"]["marathon.apps.active.gauge"]["value"], 1);
  EXPECT_EQ(m["gauges"]["marathon.tasks.running.gauge"]["value"], 1);
  EXPECT_EQ(m["gauges"]["berth.agents.lost.gauge"]["value"], 1);
  EXPECT_EQ(m["gauges"]["berth.datasets.shared.attached.gauge"]["value"], 1);
  EXPECT_EQ(m["counters"]["berth.datasets.moves.shared.counter"]["count"], 1);
  // The leases: one dataset assigned, granted to its new node only, at the epoch it moved at.
  EXPECT_EQ(m["gauges"]["berth.leases.assignments.gauge"]["value"], 1);
  EXPECT_EQ(m["gauges"]["berth.leases.grants.gauge"]["value"], 1);
  EXPECT_EQ(m["gauges"]["berth.leases.epoch.max.gauge"]["value"].get<uint64_t>(),
            dataset["attachedEpoch"].get<uint64_t>());
  for (const auto& [phase, ms] : {std::pair{"attached", attached}, std::pair{"running", running},
                                  std::pair{"healthy", healthy}}) {
    const auto& timer = m["timers"][std::string("berth.failovers.") + phase + ".timer.seconds"];
    EXPECT_EQ(timer["count"], 1) << phase;
    EXPECT_NEAR(timer["max"].get<double>(), static_cast<double>(ms) / 1000, 0.002) << phase;
  }
  EXPECT_GE(
      m["timers"]["berth.http.requests.get.berth.v1.failovers.duration.timer.seconds"]["count"]
          .get<int>(),
      1);

  auto text = cluster.call("GET", "/metrics/prometheus");
  ASSERT_EQ(text.status, 200);
  // The fixture parses answers as JSON; Prometheus' text is not, so ask the raw way.
  std::string body = python(
      "import urllib.request\n"
      "r = urllib.request.Request('" +
      cluster.url() + "/metrics/prometheus', headers={'Authorization': 'Bearer " +
      cluster.admin_token() +
      "'})\n"
      "print(urllib.request.urlopen(r).read().decode())\n");
  for (const std::string& line :
       {std::string("berth_failovers_total 1"), std::string("berth_apps 1"),
        std::string("berth_tasks{state=\"running\"} 1"),
        std::string("berth_failover_phase_seconds_count{phase=\"attached\"} 1"),
        std::string("berth_failover_phase_seconds_count{phase=\"running\"} 1"),
        std::string("berth_failover_phase_seconds_count{phase=\"healthy\"} 1")}) {
    EXPECT_NE(body.find(line + "\n"), std::string::npos) << line << "\n" << body;
  }

  // Marathon's Python client takes the JSON as it takes Marathon's.
  std::string client = python(
      "from marathon import MarathonClient\n"
      "m = MarathonClient('" +
      cluster.url() + "', username='berth', password='" + cluster.admin_token() +
      "').get_metrics()\n"
      "print(m['version'], m['counters']['berth.failovers.counter']['count'],\n"
      "      sorted(k for k in m if k != 'version'))\n");
  EXPECT_EQ(client, "4.0.0 1 ['counters', 'gauges', 'histograms', 'meters', 'timers']\n");
}

TEST(Metrics, NeedACredentialAndAViewerMaySeeThem) {
  Cluster cluster(1);
  auto viewer = cluster.call("POST", "/berth/v1/tokens", R"({"role":"viewer","name":"grafana"})");
  ASSERT_EQ(viewer.status, 201);
  std::string token = viewer.body["token"];
  for (const char* path : {"/metrics", "/metrics/prometheus", "/berth/v1/failovers"}) {
    std::string anonymous = python(
        "import urllib.request, urllib.error\n"
        "try:\n"
        "    urllib.request.urlopen('" +
        cluster.url() + path +
        "')\n"
        "    print(200)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n");
    EXPECT_EQ(anonymous, "401\n") << path;
    EXPECT_EQ(cluster.call("GET", path, "", {{"Authorization", "Bearer nope"}}).status, 401)
        << path;
    EXPECT_EQ(cluster.call("GET", path, "", {{"Authorization", "Bearer " + token}}).status, 200)
        << path;
  }
}

}  // namespace
}  // namespace berth::testing
