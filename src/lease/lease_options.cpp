#include "lease/lease_options.h"

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

}  // namespace berth::lease
