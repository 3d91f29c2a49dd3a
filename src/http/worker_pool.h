// Internal to src/http: the threads that run request handlers for the connection engine.
// Threads start on demand up to a small bound and end after idling, so a quiet server holds
// few. A task submitted while every thread is taken waits for the next free one. A task goes to
// the thread that became free last, so under a steady load the threads a burst started go idle
// and end: the pool shrinks back to what the load keeps busy.
//
// A task that waits on the network (an outbound HTTP call: a proxied request, an etcd commit)
// or on a lock held elsewhere says so with an http::WaitingScope (http.h), and for as long as
// it waits it does not count against the bound: a queued task may start, on an idle thread or a
// new one. So slow peers cost threads, bounded by the engine's busy limits, but never keep the
// server's other requests waiting. The bound is on tasks running outside a WaitingScope: threads
// left over from waits take no task past it, and idle out like the others.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::http {
class WaitingScope;
}  // namespace berth::http

namespace berth::http::internal {

class WorkerPool {
 public:
  WorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit);
  ~WorkerPool() { shut_down(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a pool thread. False (and `task` is dropped unrun) after shut_down().
  bool submit(std::function<void()> task);

  // Refuses new tasks, lets queued and running ones finish and joins every thread.
  void shut_down();

  // Threads started and not yet ended.
  size_t threads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }

 private:
  friend class berth::http::WaitingScope;  // counts the waiting threads in blocked_

  // A thread waiting for a task, on its own stack.
  struct Idle {
    std::condition_variable wake;
    std::function<void()> task;
  };

  void run(std::function<void()> task);
  void join_finished_locked(std::vector<std::thread>* out);
  // Hands queued tasks to idle threads, or to new ones, while the bound allows.
  void dispatch_locked();
  bool below_bound_locked() const { return active_ < max_threads_ + blocked_; }

  const size_t max_threads_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mu_;
  std::condition_variable all_done_;
  std::deque<std::function<void()>> tasks_;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;  // exited, not yet joined
  size_t running_ = 0;                     // threads that have not exited
  size_t active_ = 0;                      // threads running a task
  size_t blocked_ = 0;                     // threads inside a WaitingScope
  std::vector<Idle*> idle_;                // waiting for a task; the last one is handed the next
  bool shutting_down_ = false;
};

}  // namespace berth::http::internal
