#include "health/readiness.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace berth::health {

Result<std::vector<HealthCheckSpec>> readiness_specs(const nlohmann::json& checks,
                                                     const std::vector<std::string>& port_names) {
  std::vector<HealthCheckSpec> out;
  if (!checks.is_array()) return out;
  for (const auto& check : checks) {
    if (!check.is_object()) continue;
    HealthCheckSpec spec;
    spec.protocol = check.value("protocol", "HTTP");
    spec.path = check.value("path", "/");
    std::string name = check.value("portName", "http-api");
    auto port = std::find(port_names.begin(), port_names.end(), name);
    if (port == port_names.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "readiness check '" + check.value("name", "readinessCheck") +
                            "' names port '" + name + "', which the task does not have");
    }
    spec.port_index = static_cast<uint32_t>(port - port_names.begin());
    spec.interval = std::chrono::milliseconds(
        static_cast<int64_t>(check.value("intervalSeconds", 30.0) * 1000));
    spec.timeout =
        std::chrono::milliseconds(static_cast<int64_t>(check.value("timeoutSeconds", 10.0) * 1000));
    spec.grace_period = std::chrono::milliseconds(0);
    spec.max_consecutive_failures = 0;  // never a kill: a task that is not ready just waits
    spec.ok_statuses = check.value("httpStatusCodesForReady", std::vector<int>{200});
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace berth::health
