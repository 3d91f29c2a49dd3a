// The service routing table (docs/architecture.md §7) and the pure decisions made on it: what
// changes between two tables, and which backend a new connection goes to. The master computes a
// RoutingTable from the apps' service ports and healthy tasks and pushes it to every agent;
// the agent's ServiceRouter (service_router.h) applies it. No sockets or clocks here: time
// is a parameter.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace berth::proxy {

// Where a healthy task of the app accepts connections.
struct Backend {
  std::string host;  // an IP address or a host name
  uint16_t port = 0;

  auto operator<=>(const Backend&) const = default;
  bool operator==(const Backend&) const = default;
};

// One app's service port and the tasks behind it. An empty backend list is valid: the app is
// failing over or scaled to zero, and the router holds new connections for a while.
struct Route {
  uint16_t service_port = 0;
  std::string app_id;
  std::vector<Backend> backends;
};

struct RoutingTable {
  uint64_t version = 0;  // increases with every change the master makes
  std::vector<Route> routes;
};

// Checks what the router relies on: service ports are 1..65535 and unique, app ids and
// backend hosts are non-empty, backend ports are non-zero and no backend is listed twice in
// a route. The error names the offending route and value.
Status validate(const RoutingTable& table);

// JSON: {"version": 3, "routes": [{"service_port": 10000, "app_id": "/web",
//                                  "backends": [{"host": "10.0.0.2", "port": 31001}]}]}
void to_json(nlohmann::json& j, const RoutingTable& table);
// Parses and validates the shape above. Never throws; kInvalidArgument names the bad field.
Result<RoutingTable> routing_table_from_json(const nlohmann::json& j);

// The route for `service_port`, or nullptr.
const Route* find_route(const RoutingTable& table, uint16_t service_port);

// True when both list the same backends, in any order.
bool same_backends(const std::vector<Backend>& a, const std::vector<Backend>& b);

// What it takes to go from `current` (the routes the router serves now) to `desired`. Each
// list is sorted by port. Both tables must be valid.
struct RoutingDiff {
  std::vector<uint16_t> open;     // ports in desired only: start listening
  std::vector<uint16_t> close;    // ports in current only: stop listening
  std::vector<uint16_t> changed;  // ports in both whose app id or backend set differ
  bool empty() const { return open.empty() && close.empty() && changed.empty(); }
};
RoutingDiff diff_routes(const RoutingTable& current, const RoutingTable& desired);

// Chooses backends for one route's new connections: round-robin, skipping backends that
// recently refused a connection (or timed out) until their cool-down ends. One instance per
// route; not thread-safe (the router uses it from its I/O thread only).
class BackendPicker {
 public:
  explicit BackendPicker(std::chrono::milliseconds cooldown);

  // Replaces the backend set. Cool-downs of backends still listed are kept; the round-robin
  // position carries over (modulo the new size).
  void set_backends(std::vector<Backend> backends);
  const std::vector<Backend>& backends() const { return backends_; }

  // The backends to try for one new connection, best first, at most `max_attempts`: those not
  // cooling down in round-robin order, then those cooling down (the soonest to recover first)
  // as a last resort, since trying beats refusing the client. Advances the round-robin
  // position past the first choice. Empty when the route has no backends.
  std::vector<Backend> attempt_order(MonoTime now, size_t max_attempts);

  // A connection to `backend` was refused or timed out: skip it until now + cooldown.
  void mark_failed(const Backend& backend, MonoTime now);
  // A connection to `backend` succeeded: it is healthy again.
  void mark_connected(const Backend& backend);
  bool cooling_down(const Backend& backend, MonoTime now) const;

 private:
  std::chrono::milliseconds cooldown_;
  std::vector<Backend> backends_;
  size_t next_ = 0;                            // round-robin position in backends_
  std::map<Backend, MonoTime> cooling_until_;  // only backends in backends_
};

}  // namespace berth::proxy
