// ServiceRouter: the TCP service router every agent runs (docs/architecture.md §7). It listens on
// each app's service ports and forwards every accepted connection to one of the app's healthy
// tasks, wherever they run, so clients keep one address while tasks move. The agent creates
// one, calls start(), and calls apply() with every routing table the master pushes.
//
// Forwarding: round-robin over the route's backends (BackendPicker, routing_table.h); a
// backend that refuses or does not answer within connect_timeout is skipped for `cooldown`
// and the next one is tried, so a client whose first backend is dead still gets through.
// A connection that finds no reachable backend is held (not refused) for up to
// hold_when_empty, waiting for a routing table with backends; that is what carries clients
// through a failover. Bytes are spliced both ways with half-close passed through.
//
// Boost.Asio stays inside service_router.cpp; this header is plain C++.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "proxy/routing_table.h"

namespace berth::proxy {

struct ServiceRouterOptions {
  std::string listen_host = "0.0.0.0";              // an IP address
  std::chrono::milliseconds connect_timeout{1000};  // per backend attempt
  std::chrono::milliseconds cooldown{2000};         // skip a failed backend this long
  std::chrono::milliseconds hold_when_empty{5000};  // hold a client this long for a backend
  size_t max_connections_per_listener = 4096;       // more are closed as soon as accepted
  size_t max_connect_attempts = 4;                  // backends tried per round for one client
  size_t buffer_bytes = 16 * 1024;                  // per direction per connection
  // SO_REUSEPORT on service ports: routers of several agents on one host share each port.
  bool share_ports = false;
  const Clock* clock = nullptr;  // times backend cool-downs; nullptr = the system clock
};

// A service port that could not be bound (in use, no permission). Not fatal: the port is
// retried on the next apply() and reported in Stats until it succeeds.
struct ListenFailure {
  uint16_t service_port = 0;
  std::string message;
};

// A backend's first connection forwarded since it joined its route: for a task replacing one
// of a lost node, the "routed" phase of the failover (docs/architecture.md §4).
struct FirstForward {
  Backend backend;
  MonoTime at{};
};

struct ApplyReport {
  Status status;  // not ok: the table was invalid (or the router stopped); nothing changed
  std::vector<ListenFailure> listen_failures;
};

class ServiceRouter {
 public:
  using Options = ServiceRouterOptions;

  struct ListenerStats {
    uint16_t service_port = 0;
    std::string app_id;
    bool listening = false;
    std::string error;  // why it is not listening; retried on the next apply()
    size_t backends = 0;
    size_t active_connections = 0;  // held, connecting or forwarding
    size_t held_connections = 0;    // waiting for a backend
  };

  struct Stats {
    uint64_t table_version = 0;  // of the last table applied
    uint64_t accepted = 0;       // connections accepted (including those refused over the limit)
    uint64_t forwarded = 0;      // connections that reached a backend
    uint64_t refused_over_limit = 0;
    uint64_t held_expired = 0;      // closed after hold_when_empty without a reachable backend
    uint64_t connect_failures = 0;  // backend attempts refused or timed out
    uint64_t bytes_to_backends = 0;
    uint64_t bytes_to_clients = 0;
    size_t active_connections = 0;
    std::vector<ListenerStats> listeners;  // every routed port, by port
  };

  explicit ServiceRouter(Options options = {});
  ~ServiceRouter();  // stop()s
  ServiceRouter(const ServiceRouter&) = delete;
  ServiceRouter& operator=(const ServiceRouter&) = delete;

  // Starts the I/O thread. kInvalidArgument if listen_host is not an IP address;
  // kNotAllowed if already started or stopped. Tables applied before start() are served once
  // it returns.
  Status start();

  // Closes every listener and connection and joins the I/O thread. Idempotent.
  void stop();

  // Makes the router serve `table`: opens listeners on new service ports, closes those of
  // removed routes (their established connections keep going; held ones are closed), and
  // swaps changed backend sets at once for new connections. Held clients of a route that
  // gains backends are forwarded right away. Thread-safe; returns once the table is in
  // effect. The report lists ports that could not be bound.
  ApplyReport apply(const RoutingTable& table);

  // A consistent snapshot. Thread-safe.
  Stats stats();

  // The backends that got their first forwarded connection since the last call, each once
  // while it stays in its route (leaving it and coming back makes it new again). Thread-safe.
  std::vector<FirstForward> take_first_forwards();

 private:
  class Core;  // the Asio side, in service_router.cpp
  std::unique_ptr<Core> core_;
};

}  // namespace berth::proxy
