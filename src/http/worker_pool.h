// Internal to src/http: the threads that run request handlers for the connection engine.
// Threads start on demand up to a bound and end after idling, so a quiet server holds few.
// The engine never has more tasks running than its busy limit, which is also this bound;
// a task submitted while every thread is taken waits for the next free one.
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

 private:
  void run();
  void join_finished_locked(std::vector<std::thread>* out);

  const size_t max_threads_;
  const std::chrono::milliseconds idle_exit_;
  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable all_done_;
  std::deque<std::function<void()>> tasks_;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;  // exited, not yet joined
  size_t running_ = 0;                     // threads that have not exited
  size_t waiting_ = 0;                     // threads waiting for a task
  bool shutting_down_ = false;
};

}  // namespace berth::http::internal
