// The three probes HealthChecker runs (docs/compatibility.md §2.3): one blocking attempt each,
// bounded by its timeout. Called from HealthChecker's worker threads; each call is independent
// and thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::health {

enum class ProbeOutcome {
  kPass,
  kFail,
  kIgnored,  // an HTTP 1xx under ignoreHttp1xx: leaves the health status unchanged
};

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::kFail;
  std::string cause;  // why it failed, for lastFailureCause; empty on a pass
};

// GET http://host:port<target>. A pass is a status from 200 to 399; 1xx is kIgnored when
// `ignore_http_1xx`, else a failure. The cause of a failure is Marathon's "500 Internal Server
// Error" form, or the connection error. Every step (connect, send, receive) is bounded by
// `timeout`.
// `ok_statuses` empty: 200-399 pass.
ProbeResult probe_http(const std::string& host, uint16_t port, const std::string& target,
                       std::chrono::milliseconds timeout, bool ignore_http_1xx,
                       const std::vector<int>& ok_statuses = {});

// Passes when a TCP connection to host:port is established within `timeout`; the connection
// is closed at once.
ProbeResult probe_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

struct CommandProbe {
  std::string command;                     // run as /bin/sh -c <command>
  std::map<std::string, std::string> env;  // the whole environment of the command
  std::string sandbox_dir;                 // working directory; empty keeps the agent's
  std::chrono::milliseconds timeout{20000};
};

// Runs the command in a new process group with stdin from /dev/null; passes on exit status 0.
// At the timeout, or as soon as `cancelled` becomes true, the whole process group is killed
// with SIGKILL and the probe fails. Anything the command left running in its process group is
// killed when it exits. The first few hundred bytes of its output go into the cause.
ProbeResult probe_command(const CommandProbe& probe, const std::atomic<bool>& cancelled);

}  // namespace berth::health
