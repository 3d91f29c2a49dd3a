#include "cmd/lease_clock.h"

#include <spdlog/spdlog.h>

#include "base/thread_priority.h"
#include "metrics/registry.h"

namespace berth::cmd {

LeaseClock::LeaseClock(metrics::Registry& metrics, std::chrono::milliseconds tick,
                       std::chrono::milliseconds warn_over)
    : metrics_(metrics), tick_(tick), warn_over_(warn_over), thread_([this] { run(); }) {}

LeaseClock::~LeaseClock() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_.notify_all();
  thread_.join();
}

void LeaseClock::run() {
  spdlog::info("lease clock thread priority: {}", raise_thread_priority());
  using clock = std::chrono::steady_clock;
  auto last_warned = clock::now() - std::chrono::seconds(10);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto due = clock::now() + tick_;
    if (stop_.wait_until(lock, due, [&] { return stopping_; })) return;
    const auto late = clock::now() - due;
    metrics_.observe(metrics::Metric::kSchedulingStall, {}, late);
    if (late > warn_over_ && clock::now() - last_warned >= std::chrono::seconds(10)) {
      last_warned = clock::now();
      spdlog::warn(
          "the master's lease clock woke {} ms late (over {} ms): heartbeats are "
          "answered late by as much (docs/fencing.md §9)",
          std::chrono::duration_cast<std::chrono::milliseconds>(late).count(), warn_over_.count());
    }
  }
}

}  // namespace berth::cmd
