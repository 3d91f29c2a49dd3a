#include "http/worker_pool.h"

#include <algorithm>
#include <memory>
#include <system_error>

#include "http/http.h"

namespace berth::http::internal {

namespace {
thread_local WorkerPool* current_pool = nullptr;  // the pool whose thread this is
thread_local bool blocking = false;               // inside a WaitingScope
}  // namespace

WorkerPool::WorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit)
    : max_threads_(max_threads == 0 ? 1 : max_threads), idle_exit_(idle_exit) {}

bool WorkerPool::submit(std::function<void()> task) {
  std::vector<std::thread> exited;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return false;
    join_finished_locked(&exited);
    tasks_.push_back(std::move(task));
    dispatch_locked();
  }
  for (auto& thread : exited) thread.join();
  return true;
}

void WorkerPool::dispatch_locked() {
  while (!tasks_.empty() && below_bound_locked()) {
    if (!idle_.empty()) {
      Idle* idle = idle_.back();
      idle_.pop_back();
      idle->task = std::move(tasks_.front());
      tasks_.pop_front();
      ++active_;
      idle->wake.notify_one();
      continue;
    }
    auto task = std::make_shared<std::function<void()>>(std::move(tasks_.front()));
    tasks_.pop_front();
    try {
      std::thread thread([this, task] { run(std::move(*task)); });
      auto id = thread.get_id();
      threads_.emplace(id, std::move(thread));
    } catch (const std::system_error&) {  // no thread to be had now: a running one takes it
      tasks_.push_front(std::move(*task));
      return;
    }
    ++running_;
    ++active_;
  }
}

void WorkerPool::shut_down() {
  std::vector<std::thread> all;
  {
    std::unique_lock<std::mutex> lock(mu_);
    shutting_down_ = true;
    for (Idle* idle : idle_) idle->wake.notify_one();
    all_done_.wait(lock, [this] { return running_ == 0; });
    for (auto& [id, thread] : threads_) all.push_back(std::move(thread));
    threads_.clear();
    finished_.clear();
  }
  for (auto& thread : all) thread.join();
}

// Starts with the task it was created for. A finished task's place goes to the next queued one
// while the bound allows; else the thread waits to be handed one, and ends after idle_exit_.
void WorkerPool::run(std::function<void()> task) {
  current_pool = this;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    lock.unlock();
    task();
    task = nullptr;  // what the task captured is released before the thread looks for more
    lock.lock();
    --active_;
    if (!tasks_.empty() && below_bound_locked()) {
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++active_;
      continue;
    }
    if (shutting_down_ && tasks_.empty()) break;
    Idle me;
    idle_.push_back(&me);
    me.wake.wait_for(lock, idle_exit_, [&] { return me.task || shutting_down_; });
    if (!me.task) {
      // Idled out, or shutting down. A task still queued waits for a running one's place
      // (it is queued only while the bound is taken), and that thread takes it.
      idle_.erase(std::find(idle_.begin(), idle_.end(), &me));
      break;
    }
    task = std::move(me.task);
  }
  --running_;
  finished_.push_back(std::this_thread::get_id());
  all_done_.notify_all();
}

void WorkerPool::join_finished_locked(std::vector<std::thread>* out) {
  for (auto id : finished_) {
    auto it = threads_.find(id);
    if (it == threads_.end()) continue;
    out->push_back(std::move(it->second));
    threads_.erase(it);
  }
  finished_.clear();
}

}  // namespace berth::http::internal

namespace berth::http {

WaitingScope::WaitingScope() : pool_(internal::blocking ? nullptr : internal::current_pool) {
  if (pool_ == nullptr) return;
  internal::blocking = true;
  std::lock_guard<std::mutex> lock(pool_->mu_);
  ++pool_->blocked_;
  pool_->dispatch_locked();
}

WaitingScope::~WaitingScope() {
  if (pool_ == nullptr) return;
  internal::blocking = false;
  std::lock_guard<std::mutex> lock(pool_->mu_);
  --pool_->blocked_;
}

}  // namespace berth::http
