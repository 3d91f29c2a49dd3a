#include "base/stall_meter.h"

#include <algorithm>
#include <cstdio>

namespace berth {

void StallMeter::record(std::chrono::nanoseconds value) {
  value = std::max(value, std::chrono::nanoseconds::zero());
  size_t bucket = 0;
  while (bucket < kBoundsMs.size() && value > std::chrono::milliseconds(kBoundsMs[bucket]))
    ++bucket;
  std::lock_guard lock(mu_);
  ++totals_.count;
  totals_.max = std::max(totals_.max, value);
  totals_.sum += value;
  ++totals_.buckets[bucket];
}

StallMeter::Snapshot StallMeter::snapshot() const {
  std::lock_guard lock(mu_);
  return totals_;
}

std::string StallMeter::describe(const Snapshot& s) {
  auto ms = [](std::chrono::nanoseconds d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", std::chrono::duration<double, std::milli>(d).count());
    return std::string(text);
  };
  auto bound = [&](double q) -> std::string {
    if (s.count == 0) return "-";
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(s.count) + 0.999999);
    uint64_t seen = 0;
    for (size_t i = 0; i < s.buckets.size(); ++i) {
      seen += s.buckets[i];
      if (seen >= rank) {
        return i < kBoundsMs.size() ? std::to_string(kBoundsMs[i])
                                    : ">" + std::to_string(kBoundsMs.back());
      }
    }
    return "-";
  };
  return "n=" + std::to_string(s.count) + " max=" + ms(s.max) + "ms p50<=" + bound(0.5) +
         "ms p99<=" + bound(0.99) + "ms p99.9<=" + bound(0.999) + "ms";
}

}  // namespace berth
