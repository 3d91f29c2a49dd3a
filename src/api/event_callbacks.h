// Marathon's HTTP callback subscribers (POST /v2/eventSubscriptions?callbackUrl=...,
// docs/compatibility.md §2.6): while any is subscribed, a thread takes the master's events from
// the subscription the master keeps for them (MasterCore::callback_events) and POSTs each, as
// JSON, to every subscribed URL. A subscriber that does not answer
// within 2 s misses that event, and nothing waits for it: when the thread falls behind, the
// bus drops its queue and it subscribes again, missing what came in between (as Marathon's
// callbacks did, events are a hint to re-read the state, not a log).
#pragma once

#include <atomic>
#include <thread>

#include "master/master_core.h"

namespace berth::api {

class EventCallbacks {
 public:
  explicit EventCallbacks(master::MasterCore& core);
  ~EventCallbacks();
  EventCallbacks(const EventCallbacks&) = delete;
  EventCallbacks& operator=(const EventCallbacks&) = delete;

 private:
  void run();

  master::MasterCore& core_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace berth::api
