#include "store/watch_hub.h"

#include <utility>

#include "base/check.h"

namespace berth {

uint64_t WatchHub::add(std::string_view prefix, Store::WatchCallback callback) {
  BERTH_CHECK(callback != nullptr);
  std::lock_guard lock(mutex_);
  const uint64_t id = next_id_++;
  watches_.emplace(id, Watch{std::string(prefix), std::move(callback)});
  return id;
}

void WatchHub::remove(uint64_t watch_id) {
  std::lock_guard lock(mutex_);
  watches_.erase(watch_id);
}

void WatchHub::deliver(const std::vector<WatchEvent>& changes,
                       std::unique_lock<std::mutex>& data_lock) {
  BERTH_CHECK(data_lock.owns_lock());
  std::lock_guard lock(mutex_);
  data_lock.unlock();
  for (const WatchEvent& event : changes) {
    for (const auto& [id, watch] : watches_) {
      if (event.kv.key.starts_with(watch.prefix)) watch.callback(event);
    }
  }
}

}  // namespace berth
