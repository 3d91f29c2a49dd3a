#include "master/event_bus.h"

#include <algorithm>

namespace berth::master {

std::vector<std::shared_ptr<const Event>> EventSubscription::take(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (queue_.empty() && !closed_ && wait.count() > 0) {
    ready_.wait_for(lock, wait, [this] { return !queue_.empty() || closed_; });
  }
  std::vector<std::shared_ptr<const Event>> out(queue_.begin(), queue_.end());
  queue_.clear();
  return out;
}

void EventSubscription::on_ready(std::function<void()> ready) {
  std::lock_guard<std::mutex> lock(mu_);
  on_ready_ = std::move(ready);
}

bool EventSubscription::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

bool EventSubscription::overflowed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overflowed_;
}

bool EventSubscription::offer(const std::shared_ptr<const Event>& event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return false;
  if (queue_.size() >= max_queued_) {
    // What is queued is dropped too: a stream with a hole in it would mislead the client.
    overflowed_ = true;
    closed_ = true;
    queue_.clear();
    ready_.notify_all();
    if (on_ready_) on_ready_();
    return false;
  }
  queue_.push_back(event);
  ready_.notify_all();
  if (on_ready_) on_ready_();
  return true;
}

void EventSubscription::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  ready_.notify_all();
  if (on_ready_) on_ready_();
}

std::shared_ptr<EventSubscription> EventBus::subscribe(std::set<std::string> types) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || subscribers_.size() >= max_subscribers_) return nullptr;
  auto subscription = std::make_shared<EventSubscription>(std::move(types), max_queued_);
  subscribers_.push_back(subscription);
  subscriber_count_ = subscribers_.size();
  return subscription;
}

void EventBus::unsubscribe(const std::shared_ptr<EventSubscription>& subscription) {
  if (!subscription) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(subscribers_, subscription);
    subscriber_count_ = subscribers_.size();
  }
  subscription->close();
}

void EventBus::publish(const std::string& type, std::string data) {
  if (!has_subscribers()) return;
  auto event = std::make_shared<const Event>(Event{type, std::move(data)});
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(subscribers_, [&](const std::shared_ptr<EventSubscription>& s) {
    return s->wants(type) && !s->offer(event);
  });
  subscriber_count_ = subscribers_.size();
}

void EventBus::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (const auto& s : subscribers_) s->close();
  subscribers_.clear();
  subscriber_count_ = 0;
}

}  // namespace berth::master
