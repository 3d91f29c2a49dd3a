// The master's metrics and failover records over HTTP (docs/compatibility.md §2.9,
// docs/architecture.md §4): GET /metrics (Marathon's Dropwizard-style JSON),
// GET /metrics/prometheus (Prometheus' text format) and GET /berth/v1/failovers. Both metrics
// routes show the numbers of one metrics::Registry; the gauges are set from the master's state
// at each scrape.
#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "base/clock.h"
#include "http/http.h"
#include "master/master_core.h"

namespace berth::api {

// What a request's latency is counted under: its method and route class, each from a fixed
// list ("other" for anything else), so a caller cannot grow the metrics with made-up paths.
std::string method_class(const std::string& method);
std::string route_class(const std::string& path);
// Counts `request`, answered in `took`, in `core`'s metrics (nothing when it has none).
void record_request(master::MasterCore& core, const http::Request& request,
                    std::chrono::nanoseconds took);

// Sets every gauge of `registry` from the master's state and leases.
void update_gauges(metrics::Registry& registry, const master::MasterState& state,
                   const lease::MasterLeases& leases);

http::Response handle_metrics(master::MasterCore& core, Clock& clock, const http::Request& request);

// The failover records, newest first, for the web UI's timeline.
nlohmann::json failovers_json(const master::FailoverLog& log);
http::Response handle_failovers(master::MasterCore& core, const http::Request& request);

}  // namespace berth::api
