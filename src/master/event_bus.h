// EventBus: Marathon's event stream (GET /v2/events, docs/compatibility.md §2.6) inside the master.
// MasterCore publishes an event where its state changes; each SSE connection of the API
// subscribes, is told when its queue has events (on_ready) and drains it.
//
// Publishing never waits on a subscriber: it only appends to bounded queues under short
// locks. A subscriber whose queue is full is dropped (closed and removed), so a slow client
// loses its stream rather than slowing the master or growing memory without bound.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::master {

struct Event {
  std::string type;  // Marathon's eventType, e.g. "status_update_event"
  std::string data;  // the event's JSON text, one line
};

// One subscriber's queue. The bus appends; the subscriber takes.
class EventSubscription {
 public:
  EventSubscription(std::set<std::string> types, size_t max_queued)
      : types_(std::move(types)), max_queued_(max_queued) {}

  // Whether this subscriber asked for events of `type` (an empty filter takes every type but
  // berth's own, "berth_*", which go only to streams that name them: Marathon's clients know
  // Marathon's event types only; docs/compatibility.md §2.6).
  bool wants(const std::string& type) const {
    if (type.rfind(kBerthEventPrefix, 0) == 0) return types_.count(type) > 0;
    return types_.empty() || types_.count(type) > 0;
  }
  static constexpr const char* kBerthEventPrefix = "berth_";

  // Waits up to `wait` for events and takes every queued one (oldest first). An empty answer
  // means none arrived in time, or the subscription is closed (see closed()).
  std::vector<std::shared_ptr<const Event>> take(std::chrono::milliseconds wait);

  // `ready` is called (by the publishing thread, under the bus's locks: it must only signal)
  // each time an event is queued and when the subscription closes.
  void on_ready(std::function<void()> ready);

  // True once the bus dropped this subscriber (its queue overflowed, or the bus closed).
  bool closed() const;
  bool overflowed() const;

 private:
  friend class EventBus;
  // Appends `event`; false (and the subscription closes) when the queue is already full.
  bool offer(const std::shared_ptr<const Event>& event);
  void close();

  const std::set<std::string> types_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<const Event>> queue_;
  std::function<void()> on_ready_;
  bool closed_ = false;
  bool overflowed_ = false;
};

class EventBus {
 public:
  static constexpr size_t kDefaultMaxQueued = 10000;
  static constexpr size_t kDefaultMaxSubscribers = 256;

  explicit EventBus(size_t max_queued = kDefaultMaxQueued,
                    size_t max_subscribers = kDefaultMaxSubscribers)
      : max_queued_(max_queued), max_subscribers_(max_subscribers) {}

  // A new subscriber to events of `types` (empty: all). nullptr when max_subscribers are
  // already attached or the bus is closed; the caller answers that with an error.
  std::shared_ptr<EventSubscription> subscribe(std::set<std::string> types);
  // Removes `subscription` (idempotent) and closes it.
  void unsubscribe(const std::shared_ptr<EventSubscription>& subscription);

  // Hands `data` (JSON text) to every subscriber that wants `type`. Never blocks on a
  // subscriber; subscribers whose queue is full are dropped.
  void publish(const std::string& type, std::string data);

  // Cheap check so publishers can skip building an event nobody will read.
  bool has_subscribers() const { return subscriber_count_.load(std::memory_order_relaxed) > 0; }
  size_t subscriber_count() const { return subscriber_count_.load(); }

  // Closes every subscription and refuses new ones (master shutdown).
  void close();

 private:
  const size_t max_queued_;
  const size_t max_subscribers_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<EventSubscription>> subscribers_;
  std::atomic<size_t> subscriber_count_{0};
  bool closed_ = false;
};

}  // namespace berth::master
