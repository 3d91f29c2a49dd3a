// WatchHub: the watch registry and in-order event delivery shared by the Store
// implementations. A store applies a change under its own data lock, then hands the lock to
// deliver(), which takes the hub's lock before releasing the data lock. Commits therefore
// deliver in the order they applied, while readers and the next writer need not wait for
// callbacks to return.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace berth {

class WatchHub {
 public:
  // Registers callback for changes to keys under prefix; returns its id (never 0). The store
  // calls this while holding its data lock, so the watch sees exactly the later commits.
  uint64_t add(std::string_view prefix, Store::WatchCallback callback);
  // Unregisters a watch; waits for a delivery in progress. An unknown id is ignored.
  void remove(uint64_t watch_id);
  // Calls every matching callback for each change, in order. data_lock must be held and is
  // released once this delivery is next in line; it stays unlocked on return.
  void deliver(const std::vector<WatchEvent>& changes, std::unique_lock<std::mutex>& data_lock);

 private:
  struct Watch {
    std::string prefix;
    Store::WatchCallback callback;
  };

  std::mutex mutex_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Watch> watches_;
};

}  // namespace berth
