#include "lease/lease_options.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace berth::lease {

Status check_timing(const LeaseOptions& options) {
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  const std::string flags = " (--heartbeat-interval-ms " + ms(options.heartbeat_interval) +
                            ", --lease-ms " + ms(options.lease) + ", --lost-timeout-ms " +
                            ms(options.lost_after()) + "; the defaults are 200, 1000 and 1200)";
  if (options.heartbeat_interval.count() <= 0 || options.heartbeat_interval >= options.lease) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "unsafe timing: the heartbeat interval must be above 0 and below the lease" + flags);
  }
  const auto least_margin = std::max(options.lease / 10, std::chrono::milliseconds(100));
  if (options.margin < least_margin) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "unsafe timing: the lost timeout must exceed the lease by at least " + ms(least_margin) +
            " ms (a tenth of the lease, at least 100 ms) to cover clock drift, or a dataset could "
            "be handed over while its node may still write it" +
            flags);
  }
  return {};
}

LeaseOptions fleet_timing(const LeaseOptions& base, size_t agents,
                          int64_t max_heartbeats_per_second) {
  if (max_heartbeats_per_second <= 0 || base.heartbeat_interval.count() <= 0) return base;
  // agents * 1000 / (k * interval_ms) <= max  <=>  k >= agents * 1000 / (interval_ms * max)
  const uint64_t wanted = static_cast<uint64_t>(agents) * 1000;
  const uint64_t per_k = static_cast<uint64_t>(base.heartbeat_interval.count()) *
                         static_cast<uint64_t>(max_heartbeats_per_second);
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>((wanted + per_k - 1) / per_k));
  return LeaseOptions{base.heartbeat_interval * k, base.lease * k, base.margin * k};
}

}  // namespace berth::lease
