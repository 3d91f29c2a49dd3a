// The one file that speaks prometheus-cpp (docs/compatibility.md §2.9). Every number either
// view shows is read from the prometheus-cpp objects; the JSON view adds what a Prometheus
// histogram does not keep (a timer's min, max and spread) from a side record updated under
// the same lock.
#include "metrics/registry.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/check.h"

namespace berth::metrics {
namespace {

enum class Type { kGauge, kCounter, kTimer };

struct Definition {
  Metric metric;
  Type type;
  const char* prometheus;  // the family's name in the text format
  const char* help;
  std::vector<std::string> labels;
  // Its name in the JSON view, Marathon's way: dotted words, then the type and the unit.
  // "{label}" stands for that label's value.
  const char* json;
  std::vector<double> buckets;  // timers: upper bounds in seconds
};

const std::vector<double> kRequestBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,   0.5,   1,      2.5,   5,    10,    30};
// A failover's phases take from about the lost timeout (3 s by default) to minutes.
const std::vector<double> kFailoverBuckets = {0.25, 0.5, 1, 1.5, 2,  2.5, 3,  3.5, 4,   4.5, 5,
                                              6,    7,   8, 10,  15, 20,  30, 60,  120, 300, 600};

const std::vector<Definition> kDefinitions = {
    {Metric::kApps,
     Type::kGauge,
     "berth_apps",
     "Apps defined",
     {},
     "marathon.apps.active.gauge",
     {}},
    {Metric::kTasks,
     Type::kGauge,
     "berth_tasks",
     "Tasks by state",
     {"state"},
     "marathon.tasks.{state}.gauge",
     {}},
    {Metric::kDeployments,
     Type::kGauge,
     "berth_deployments",
     "Deployments in progress",
     {},
     "marathon.deployments.active.gauge",
     {}},
    {Metric::kAgents,
     Type::kGauge,
     "berth_agents",
     "Agents: registered (draining ones included), draining, lost",
     {"state"},
     "berth.agents.{state}.gauge",
     {}},
    {Metric::kLeaseAssignments,
     Type::kGauge,
     "berth_lease_assignments",
     "Datasets the leases assign to an agent",
     {},
     "berth.leases.assignments.gauge",
     {}},
    {Metric::kLeaseGrants,
     Type::kGauge,
     "berth_lease_grants",
     "Grants to attach a dataset that agents hold",
     {},
     "berth.leases.grants.gauge",
     {}},
    {Metric::kLeaseEpochMax,
     Type::kGauge,
     "berth_lease_epoch_max",
     "The largest epoch given to a dataset",
     {},
     "berth.leases.epoch.max.gauge",
     {}},
    {Metric::kDatasets,
     Type::kGauge,
     "berth_datasets",
     "Live datasets by driver and state: attached, moving, detached",
     {"driver", "state"},
     "berth.datasets.{driver}.{state}.gauge",
     {}},
    {Metric::kFailoversRecorded,
     Type::kGauge,
     "berth_failover_records",
     "Failover records the master keeps",
     {},
     "berth.failovers.recorded.gauge",
     {}},
    {Metric::kFailovers,
     Type::kCounter,
     "berth_failovers_total",
     "Nodes declared lost",
     {},
     "berth.failovers.counter",
     {}},
    {Metric::kDatasetMoves,
     Type::kCounter,
     "berth_dataset_moves_total",
     "Datasets moved to another node",
     {"driver"},
     "berth.datasets.moves.{driver}.counter",
     {}},
    {Metric::kFailoverPhase,
     Type::kTimer,
     "berth_failover_phase_seconds",
     "Time from a node declared lost to each of its datasets attached elsewhere, each "
     "replacement task running, each replacement healthy, and routed its first connection",
     {"phase"},
     "berth.failovers.{phase}.timer.seconds",
     kFailoverBuckets},
    {Metric::kRequestDuration,
     Type::kTimer,
     "berth_http_request_duration_seconds",
     "API request latency by method and route",
     {"method", "route"},
     "berth.http.requests.{method}.{route}.duration.timer.seconds",
     kRequestBuckets},
    {Metric::kHeartbeatLockWait,
     Type::kTimer,
     "berth_heartbeat_lock_wait_seconds",
     "How long agents' heartbeats waited for the master's state lock, by answer: full, or "
     "lease_only when the wait ran past its budget and the answer renewed the lease alone",
     {"answer"},
     "berth.heartbeats.{answer}.lock.wait.timer.seconds",
     kRequestBuckets},
    {Metric::kSchedulingStall,
     Type::kTimer,
     "berth_scheduling_stall_seconds",
     "How much later than asked the master's lease clock thread woke, each tick",
     {},
     "berth.lease.clock.stall.timer.seconds",
     kRequestBuckets},
    {Metric::kReconcilePass,
     Type::kTimer,
     "berth_reconcile_pass_seconds",
     "How long each controller pass held the master's state lock, by pass: plan (apps, "
     "placement, routes and deployments planned) or leases (nothing changed since the last plan)",
     {"pass"},
     "berth.reconcile.{pass}.timer.seconds",
     kRequestBuckets},
};

// A label value as a word of a dotted JSON name: lower case, "/" as ".", no leading ".".
std::string json_word(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '/') {
      if (!out.empty()) out += '.';
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out.empty() ? "none" : out;
}

std::string json_name(const Definition& d, const Labels& values) {
  std::string name = d.json;
  for (size_t i = 0; i < d.labels.size(); ++i) {
    std::string placeholder = "{" + d.labels[i] + "}";
    size_t at = name.find(placeholder);
    if (at != std::string::npos) name.replace(at, placeholder.size(), json_word(values[i]));
  }
  return name;
}

// The q-quantile of a histogram's buckets, interpolated within the bucket it falls in (as
// Prometheus' histogram_quantile does) and kept within the smallest and largest observation.
double quantile(const prometheus::ClientMetric::Histogram& h, double q, double min, double max) {
  if (h.sample_count == 0) return 0;
  double rank = q * static_cast<double>(h.sample_count);
  double lower = min;
  uint64_t below = 0;
  for (const auto& bucket : h.bucket) {
    if (bucket.cumulative_count > below && static_cast<double>(bucket.cumulative_count) >= rank) {
      double upper = std::isinf(bucket.upper_bound) ? max : std::min(bucket.upper_bound, max);
      lower = std::max(lower, min);
      if (upper <= lower) return upper;
      double fraction = (rank - static_cast<double>(below)) /
                        static_cast<double>(bucket.cumulative_count - below);
      return std::clamp(lower + (upper - lower) * fraction, min, max);
    }
    below = bucket.cumulative_count;
    lower = bucket.upper_bound;
  }
  return max;
}

}  // namespace

struct Registry::State {
  struct Series {
    prometheus::Gauge* gauge = nullptr;
    prometheus::Counter* counter = nullptr;
    prometheus::Histogram* histogram = nullptr;
    // Timers: what the histogram does not keep.
    double min = 0, max = 0, sum_of_squares = 0;
  };
  struct Family {
    const Definition* definition = nullptr;
    prometheus::Family<prometheus::Gauge>* gauges = nullptr;
    prometheus::Family<prometheus::Counter>* counters = nullptr;
    prometheus::Family<prometheus::Histogram>* histograms = nullptr;
    std::map<Labels, Series> series;
  };

  State() {
    for (const auto& d : kDefinitions) {
      Family& f = families[d.metric];
      f.definition = &d;
      switch (d.type) {
        case Type::kGauge:
          f.gauges = &prometheus::BuildGauge().Name(d.prometheus).Help(d.help).Register(registry);
          break;
        case Type::kCounter:
          f.counters =
              &prometheus::BuildCounter().Name(d.prometheus).Help(d.help).Register(registry);
          break;
        case Type::kTimer:
          f.histograms =
              &prometheus::BuildHistogram().Name(d.prometheus).Help(d.help).Register(registry);
          break;
      }
    }
  }

  // The series of `metric` with label values `values`, made on first use. Under mu.
  Series& series(Metric metric, Type type, const Labels& values) {
    Family& f = families.at(metric);
    BERTH_CHECK(f.definition->type == type);
    BERTH_CHECK(values.size() == f.definition->labels.size());
    auto it = f.series.find(values);
    if (it != f.series.end()) return it->second;
    std::map<std::string, std::string> labels;
    for (size_t i = 0; i < values.size(); ++i) labels[f.definition->labels[i]] = values[i];
    Series s;
    if (f.gauges) s.gauge = &f.gauges->Add(labels);
    if (f.counters) s.counter = &f.counters->Add(labels);
    if (f.histograms) s.histogram = &f.histograms->Add(labels, f.definition->buckets);
    return f.series.emplace(values, s).first->second;
  }

  nlohmann::json timer_json(const Series& s, double uptime_seconds) const {
    prometheus::ClientMetric m = s.histogram->Collect();
    const auto& h = m.histogram;
    double n = static_cast<double>(h.sample_count);
    double mean = n > 0 ? h.sample_sum / n : 0;
    double variance = n > 1 ? std::max(0.0, (s.sum_of_squares - n * mean * mean) / (n - 1)) : 0;
    return {{"count", h.sample_count},
            {"min", s.min},
            {"max", s.max},
            {"mean", mean},
            {"p50", quantile(h, 0.50, s.min, s.max)},
            {"p75", quantile(h, 0.75, s.min, s.max)},
            {"p95", quantile(h, 0.95, s.min, s.max)},
            {"p98", quantile(h, 0.98, s.min, s.max)},
            {"p99", quantile(h, 0.99, s.min, s.max)},
            {"p999", quantile(h, 0.999, s.min, s.max)},
            {"stddev", std::sqrt(variance)},
            {"mean_rate", uptime_seconds > 0 ? n / uptime_seconds : 0},
            {"duration_units", "seconds"},
            {"rate_units", "calls/second"}};
  }

  prometheus::Registry registry;
  mutable std::mutex mu;
  std::map<Metric, Family> families;
};

Registry::Registry(MonoTime created_at)
    : state_(std::make_unique<State>()), created_at_(created_at) {}
Registry::~Registry() = default;

void Registry::set(Metric gauge, const Labels& labels, double value) {
  std::lock_guard lock(state_->mu);
  state_->series(gauge, Type::kGauge, labels).gauge->Set(value);
}

void Registry::set_all(Metric gauge, const std::map<Labels, double>& values) {
  std::lock_guard lock(state_->mu);
  for (auto& [labels, series] : state_->families.at(gauge).series) {
    if (!values.count(labels)) series.gauge->Set(0);
  }
  for (const auto& [labels, value] : values) {
    state_->series(gauge, Type::kGauge, labels).gauge->Set(value);
  }
}

void Registry::increment(Metric counter, const Labels& labels) {
  std::lock_guard lock(state_->mu);
  state_->series(counter, Type::kCounter, labels).counter->Increment();
}

void Registry::observe(Metric timer, const Labels& labels, std::chrono::nanoseconds took) {
  double seconds = std::chrono::duration<double>(took).count();
  std::lock_guard lock(state_->mu);
  State::Series& s = state_->series(timer, Type::kTimer, labels);
  bool first = s.histogram->Collect().histogram.sample_count == 0;
  s.min = first ? seconds : std::min(s.min, seconds);
  s.max = first ? seconds : std::max(s.max, seconds);
  s.sum_of_squares += seconds * seconds;
  s.histogram->Observe(seconds);
}

double Registry::value(Metric metric, const Labels& labels) const {
  std::lock_guard lock(state_->mu);
  const State::Family& f = state_->families.at(metric);
  auto it = f.series.find(labels);
  if (it == f.series.end()) return 0;
  if (it->second.gauge) return it->second.gauge->Value();
  if (it->second.counter) return it->second.counter->Value();
  return static_cast<double>(it->second.histogram->Collect().histogram.sample_count);
}

std::string Registry::prometheus_text() const {
  std::lock_guard lock(state_->mu);
  return prometheus::TextSerializer().Serialize(state_->registry.Collect());
}

std::string Registry::dropwizard_json(std::chrono::nanoseconds uptime) const {
  double uptime_seconds = std::chrono::duration<double>(uptime).count();
  nlohmann::json gauges = nlohmann::json::object();
  nlohmann::json counters = nlohmann::json::object();
  nlohmann::json timers = nlohmann::json::object();
  std::lock_guard lock(state_->mu);
  for (const auto& [metric, family] : state_->families) {
    for (const auto& [labels, s] : family.series) {
      std::string name = json_name(*family.definition, labels);
      if (s.gauge) gauges[name] = {{"value", s.gauge->Value()}};
      if (s.counter) counters[name] = {{"count", static_cast<uint64_t>(s.counter->Value())}};
      if (s.histogram) timers[name] = state_->timer_json(s, uptime_seconds);
    }
  }
  nlohmann::json out = {{"version", "4.0.0"},
                        {"gauges", gauges},
                        {"counters", counters},
                        {"histograms", nlohmann::json::object()},
                        {"meters", nlohmann::json::object()},
                        {"timers", timers}};
  return out.dump();
}

}  // namespace berth::metrics
