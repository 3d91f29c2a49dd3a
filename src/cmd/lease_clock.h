// LeaseClock: the master's measure of its own scheduling stalls (docs/fencing.md §9). A thread
// at the priority the lease threads get wakes every `tick` and records how late it woke in the
// metrics (berth_scheduling_stall_seconds); a stall past `warn_over` is logged (at most every
// 10 s), since the master then answers heartbeats late by as much.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace berth::metrics {
class Registry;
}

namespace berth::cmd {

class LeaseClock {
 public:
  LeaseClock(metrics::Registry& metrics, std::chrono::milliseconds tick,
             std::chrono::milliseconds warn_over);
  ~LeaseClock();
  LeaseClock(const LeaseClock&) = delete;
  LeaseClock& operator=(const LeaseClock&) = delete;

 private:
  void run();

  metrics::Registry& metrics_;
  const std::chrono::milliseconds tick_;
  const std::chrono::milliseconds warn_over_;
  std::mutex mu_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::cmd
