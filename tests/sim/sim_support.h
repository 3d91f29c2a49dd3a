// What the simulations share (docs/fencing.md §7): a seeded random source, node clocks with
// their own origin and rate, and a queue of timed events. Virtual time only; nothing here
// reads a real clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "base/clock.h"

namespace berth::sim {

using SimTime = std::chrono::nanoseconds;  // real time since the start of a run; no node sees it

// A seeded source whose results do not depend on the standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  int index(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  uint64_t bits() { return engine_(); }
  std::chrono::nanoseconds between(std::chrono::nanoseconds lo, std::chrono::nanoseconds hi) {
    return lo + std::chrono::nanoseconds(
                    static_cast<int64_t>(unit() * static_cast<double>((hi - lo).count())));
  }

 private:
  std::mt19937_64 engine_;
};

// A node's monotonic clock: its own origin and its own rate against real time.
struct NodeClock {
  double rate = 1.0;
  int64_t origin_ns = 0;

  MonoTime local(SimTime t) const {
    return MonoTime(std::chrono::nanoseconds(
        origin_ns + static_cast<int64_t>(std::floor(static_cast<double>(t.count()) * rate))));
  }
  // The first real time at which this clock shows `at`.
  SimTime real_at(MonoTime at) const {
    double x = static_cast<double>(at.time_since_epoch().count() - origin_ns) / rate;
    SimTime t(static_cast<int64_t>(std::ceil(x)));
    while (t > SimTime(0) && local(t - SimTime(1)) >= at) t -= SimTime(1);
    while (local(t) < at) t += SimTime(1);
    return t;
  }
};

// A clock with a rate within 1 +- max_drift and an origin within the first 1000 s.
inline NodeClock random_clock(Rng& rng, double max_drift) {
  NodeClock clock;
  clock.rate = 1.0 + max_drift * (2.0 * rng.unit() - 1.0);
  clock.origin_ns = rng.between(SimTime(0), std::chrono::seconds(1000)).count();
  return clock;
}

// Events in time order; events at the same time in the order they were scheduled.
class EventQueue {
 public:
  void at(SimTime when, std::function<void()> run) {
    queue_.push(Event{std::max(when, now_), next_order_++, std::move(run)});
  }
  SimTime now() const { return now_; }
  bool empty() const { return queue_.empty(); }
  SimTime next_time() const { return queue_.top().at; }
  // Runs the next event.
  void step() {
    Event event = queue_.top();
    queue_.pop();
    now_ = event.at;
    event.run();
  }

 private:
  struct Event {
    SimTime at;
    uint64_t order;
    std::function<void()> run;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };
  SimTime now_{0};
  uint64_t next_order_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
};

inline std::string seconds_text(SimTime t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6fs", static_cast<double>(t.count()) / 1e9);
  return text;
}

}  // namespace berth::sim
