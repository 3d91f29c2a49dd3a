// Marathon health checks (docs/compatibility.md §2.3), the pure part: the spec parsed from an app's
// `healthChecks[]` entry, the port it probes, and HealthState, the per-task, per-check state
// machine that turns probe outcomes into Marathon's `healthCheckResults` object and a kill
// decision. No clock, socket or process here: time is a parameter. HealthChecker
// (health/health_checker.h) is the shell on the agent that runs the probes and feeds this.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace berth::health {

// One entry of an app's `healthChecks`, defaults filled in. Durations are milliseconds so that
// the shell (and its tests) can run checks faster than Marathon's whole seconds; parsing from
// JSON always yields whole seconds.
struct HealthCheckSpec {
  // HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS or MESOS_TCP, as given.
  std::string protocol = "HTTP";
  std::string path = "/";  // HTTP*: the request target, may carry a query
  std::optional<uint32_t> port_index;
  std::optional<uint32_t> port;  // takes precedence over port_index
  std::string command;           // COMMAND: run with /bin/sh -c
  std::chrono::milliseconds grace_period{std::chrono::seconds(300)};
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  std::chrono::milliseconds timeout{std::chrono::seconds(20)};
  // Mesos-level checks only (COMMAND, MESOS_*): how long after task start the first check runs.
  std::chrono::milliseconds delay{std::chrono::seconds(15)};
  uint32_t max_consecutive_failures = 3;
  bool ignore_http_1xx = false;
  // HTTP*: the statuses that pass; empty: 200-399. Readiness checks set their
  // httpStatusCodesForReady here.
  std::vector<int> ok_statuses;
};

// What a probe does. MESOS_HTTP and MESOS_TCP are run like HTTP and TCP (berth's agent is the
// executor). HTTPS and MESOS_HTTPS are run as a plain TCP connect to the port: berth's HTTP
// client has no TLS, and a connect is the closest check that does not fail every healthy task.
enum class ProbeKind { kHttp, kTcp, kCommand };
ProbeKind probe_kind(const HealthCheckSpec& spec);

// COMMAND and MESOS_* checks are run by the Mesos executor in Marathon; HTTP, HTTPS and TCP by
// the Marathon leader. The two differ in when the first check runs and in what
// maxConsecutiveFailures = 0 means (see HealthState::should_kill).
bool is_mesos_level(const HealthCheckSpec& spec);

// Parses one Marathon health check object. Missing fields take the defaults of
// docs/compatibility.md §2.3; `command` is {"value": "..."} (a plain string is accepted too).
// kInvalidArgument names the field and the offending value: an unknown protocol, a negative or
// non-integer number, a port above 65535, a path not starting with '/', COMMAND without a command,
// an ipProtocol other than IPv4/IPv6.
Result<HealthCheckSpec> parse_health_check(const nlohmann::json& json);
// Parses an app's whole `healthChecks` array; errors are prefixed with "healthChecks(i): ".
Result<std::vector<HealthCheckSpec>> parse_health_checks(const nlohmann::json& json);

// The port an HTTP/TCP check probes, from the task's host ports in portDefinitions/portMappings
// order: `port` if set, else ports[portIndex]; portIndex defaults to 0 when the task has exactly
// one port. kInvalidArgument when the index is out of range, the task has no port, or it has
// several and no portIndex was given. Not meaningful for COMMAND checks (kInvalidArgument).
Result<uint16_t> resolve_health_check_port(const HealthCheckSpec& spec,
                                           const std::vector<uint32_t>& task_ports);

// The health of one task under one check. Feed it every probe outcome in time order; a 1xx
// answer under ignoreHttp1xx is not an outcome and must not be fed.
//
// Failures before the first success are ignored while `now` is within the grace period
// after the task started (Marathon's HealthCheckActor.ignoreFailures). Ignored failures change
// nothing, so alive() stays unknown.
class HealthState {
 public:
  HealthState(const HealthCheckSpec& spec, WallTime task_started_at);

  // Records one probe outcome observed at `now`; `cause` says why a failure failed
  // ("HTTP status 500", "connection refused", ...) and is ignored for a success.
  void on_result(bool ok, const std::string& cause, WallTime now);

  // nullopt until the first counted outcome; then true after a success, false after a failure.
  std::optional<bool> alive() const { return alive_; }
  uint32_t consecutive_failures() const { return consecutive_failures_; }
  std::optional<WallTime> first_success() const { return first_success_; }
  std::optional<WallTime> last_success() const { return last_success_; }
  std::optional<WallTime> last_failure() const { return last_failure_; }
  const std::optional<std::string>& last_failure_cause() const { return last_failure_cause_; }

  // True while the consecutive counted failures are at or above the kill threshold:
  // maxConsecutiveFailures, where 0 means never kill for HTTP/HTTPS/TCP and kill on the first
  // counted failure for COMMAND and MESOS_* (docs/compatibility.md §2.3). A success clears it.
  bool should_kill() const;

  // Marathon's healthCheckResults entry: {alive, consecutiveFailures, firstSuccess,
  // lastSuccess, lastFailure, lastFailureCause, instanceId}. Timestamps are ISO-8601 or null;
  // an unknown alive is written as false, as Marathon does for a check with no result yet;
  // lastFailureCause is null until a failure is counted.
  nlohmann::json to_json(const std::string& instance_id) const;

 private:
  WallTime grace_ends_;
  uint32_t kill_threshold_;  // 0 = never
  std::optional<bool> alive_;
  uint32_t consecutive_failures_ = 0;
  std::optional<WallTime> first_success_;
  std::optional<WallTime> last_success_;
  std::optional<WallTime> last_failure_;
  std::optional<std::string> last_failure_cause_;
};

}  // namespace berth::health
