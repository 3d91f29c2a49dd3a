// Internal to src/http: the bounded set of open connections of a thread-per-connection server
// (server.cpp, unix_server.cpp). A connection past the limit is refused; stopping shuts every
// open connection down and waits until their threads have let go.
#pragma once

#include <sys/socket.h>

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <set>

namespace berth::http::internal {

class ConnectionSlots {
 public:
  explicit ConnectionSlots(size_t max_connections) : max_(max_connections) {}

  // Takes a slot for `fd`; false when every slot is taken (the caller closes the connection).
  bool admit(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fds_.size() >= max_) return false;
    fds_.insert(fd);
    return true;
  }

  void release(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.erase(fd);
    drained_.notify_all();
  }

  void shut_down_all_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    drained_.wait(lock, [this] { return fds_.empty(); });
  }

 private:
  const size_t max_;
  std::mutex mu_;
  std::condition_variable drained_;
  std::set<int> fds_;
};

}  // namespace berth::http::internal
