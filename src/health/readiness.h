// Marathon's readiness checks (docs/compatibility.md §2.5) as the agent runs them: HTTP(S)
// probes of one of the task's ports, repeated until the first success, after which the task is
// ready and is no longer checked. They are run by a HealthChecker of their own, from specs
// made here.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "health/health_check.h"

namespace berth::health {

// The probes of `checks` (the app's normalised readinessChecks) for a task whose ports are
// named `port_names` (in the order of its ports): `portName` picks the port, `path`,
// `intervalSeconds`, `timeoutSeconds` and `httpStatusCodesForReady` carry over; no grace
// period and no kill. kInvalidArgument naming a check whose port name the task does not have.
Result<std::vector<HealthCheckSpec>> readiness_specs(const nlohmann::json& checks,
                                                     const std::vector<std::string>& port_names);

}  // namespace berth::health
