// StallMeter: how late a thread that sleeps on a schedule wakes, and how long a round trip
// takes (docs/fencing.md §9). The lease threads of the agent and the master record every
// wake-up here; a stall that eats into the lease's safety margin is logged by the caller.
// Thread-safe. Reads no clock: the caller passes durations.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace berth {

class StallMeter {
 public:
  // Upper bounds of the histogram's buckets, in milliseconds; the last bucket is unbounded.
  static constexpr std::array<int64_t, 11> kBoundsMs = {1,   2,   5,   10,   20,  50,
                                                        100, 200, 500, 1000, 2000};
  struct Snapshot {
    uint64_t count = 0;
    std::chrono::nanoseconds max{0};
    std::chrono::nanoseconds sum{0};
    std::array<uint64_t, kBoundsMs.size() + 1> buckets{};  // not cumulative
  };

  void record(std::chrono::nanoseconds value);
  Snapshot snapshot() const;
  // "n=… max=…ms p50≤…ms p99≤…ms p99.9≤…ms", the percentiles as bucket bounds.
  static std::string describe(const Snapshot& s);

 private:
  mutable std::mutex mu_;
  Snapshot totals_;
};

}  // namespace berth
