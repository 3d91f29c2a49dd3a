// The metrics registry's two views of the same numbers: Marathon's Dropwizard-style JSON and
// Prometheus' text format.
#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::metrics {
namespace {

using std::chrono::milliseconds;

TEST(MetricsRegistry, JsonHasMarathonsShapeEvenWhenEmpty) {
  Registry registry;
  auto j = nlohmann::json::parse(registry.dropwizard_json(std::chrono::seconds(1)));
  EXPECT_EQ(j["version"], "4.0.0");
  for (const char* section : {"gauges", "counters", "histograms", "meters", "timers"}) {
    ASSERT_TRUE(j.contains(section)) << section;
    EXPECT_TRUE(j[section].is_object()) << section;
  }
}

TEST(MetricsRegistry, GaugesAndCountersShowTheSameNumbersInBothViews) {
  Registry registry;
  registry.set(Metric::kApps, {}, 3);
  registry.set_all(Metric::kTasks, {{{"running"}, 5}, {{"staging"}, 1}});
  registry.increment(Metric::kFailovers);
  registry.increment(Metric::kFailovers);
  registry.increment(Metric::kDatasetMoves, {"shared"});

  auto j = nlohmann::json::parse(registry.dropwizard_json(std::chrono::seconds(1)));
  EXPECT_EQ(j["gauges"]["marathon.apps.active.gauge"]["value"], 3);
  EXPECT_EQ(j["gauges"]["marathon.tasks.running.gauge"]["value"], 5);
  EXPECT_EQ(j["gauges"]["marathon.tasks.staging.gauge"]["value"], 1);
  EXPECT_EQ(j["counters"]["berth.failovers.counter"]["count"], 2);
  EXPECT_EQ(j["counters"]["berth.datasets.moves.shared.counter"]["count"], 1);

  std::string text = registry.prometheus_text();
  EXPECT_NE(text.find("# TYPE berth_apps gauge"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_apps 3"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_tasks{state=\"running\"} 5"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE berth_failovers_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_failovers_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_dataset_moves_total{driver=\"shared\"} 1"), std::string::npos) << text;
}

TEST(MetricsRegistry, SetAllZeroesTheSeriesItLeavesOut) {
  Registry registry;
  registry.set_all(Metric::kAgents, {{{"registered"}, 3}, {{"lost"}, 1}});
  registry.set_all(Metric::kAgents, {{{"registered"}, 4}});
  EXPECT_EQ(registry.value(Metric::kAgents, {"registered"}), 4);
  EXPECT_EQ(registry.value(Metric::kAgents, {"lost"}), 0);
  auto j = nlohmann::json::parse(registry.dropwizard_json(std::chrono::seconds(1)));
  EXPECT_EQ(j["gauges"]["berth.agents.lost.gauge"]["value"], 0);
}

TEST(MetricsRegistry, TimersShowCountExtremesAndQuantiles) {
  Registry registry;
  for (int ms : {1000, 2000, 3000, 4000}) {
    registry.observe(Metric::kFailoverPhase, {"running"}, milliseconds(ms));
  }
  auto j = nlohmann::json::parse(registry.dropwizard_json(std::chrono::seconds(8)));
  const auto& t = j["timers"]["berth.failovers.running.timer.seconds"];
  ASSERT_TRUE(t.is_object()) << j.dump(2);
  EXPECT_EQ(t["count"], 4);
  EXPECT_DOUBLE_EQ(t["min"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(t["max"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(t["mean"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(t["mean_rate"].get<double>(), 0.5);
  EXPECT_EQ(t["duration_units"], "seconds");
  // Quantiles are estimated within the buckets, never outside the observations.
  double previous = 0;
  for (const char* q : {"p50", "p75", "p95", "p98", "p99", "p999"}) {
    double v = t[q].get<double>();
    EXPECT_GE(v, 1.0) << q;
    EXPECT_LE(v, 4.0) << q;
    EXPECT_GE(v, previous) << q;
    previous = v;
  }
  EXPECT_GE(t["p50"].get<double>(), 1.5);
  EXPECT_LE(t["p50"].get<double>(), 2.5);
  EXPECT_NEAR(t["stddev"].get<double>(), 1.2910, 0.001);

  std::string text = registry.prometheus_text();
  EXPECT_NE(text.find("# TYPE berth_failover_phase_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("berth_failover_phase_seconds_count{phase=\"running\"} 4"), std::string::npos)
      << text;
  EXPECT_NE(text.find("berth_failover_phase_seconds_sum{phase=\"running\"} 10"), std::string::npos)
      << text;
  EXPECT_NE(text.find("berth_failover_phase_seconds_bucket{phase=\"running\",le=\"2\"} 2"),
            std::string::npos)
      << text;
}

TEST(MetricsRegistry, RouteLabelsBecomeDottedWordsInJson) {
  Registry registry;
  registry.observe(Metric::kRequestDuration, {"GET", "/v2/apps"}, milliseconds(3));
  auto j = nlohmann::json::parse(registry.dropwizard_json(std::chrono::seconds(1)));
  EXPECT_TRUE(j["timers"].contains("berth.http.requests.get.v2.apps.duration.timer.seconds"))
      << j["timers"].dump();
  EXPECT_NE(registry.prometheus_text().find(
                "berth_http_request_duration_seconds_count{method=\"GET\",route=\"/v2/apps\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::metrics
