#include "http/worker_pool.h"

#include <algorithm>

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
    if (!idle_.empty()) {
      Idle* idle = idle_.back();
      idle_.pop_back();
      idle->task = std::move(task);
      idle->wake.notify_one();
    } else {
      tasks_.push_back(std::move(task));
      start_thread_locked();
    }
  }
  for (auto& thread : exited) thread.join();
  return true;
}

void WorkerPool::start_thread_locked() {
  if (tasks_.empty() || !idle_.empty() || running_ >= bound_locked()) return;
  ++running_;
  std::thread thread([this] { run(); });
  auto id = thread.get_id();
  threads_.emplace(id, std::move(thread));
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

void WorkerPool::run() {
  current_pool = this;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    std::function<void()> task;
    if (running_ > bound_locked() && !shutting_down_) break;  // started for a wait now over
    if (!tasks_.empty()) {
      task = std::move(tasks_.front());
      tasks_.pop_front();
    } else {
      if (shutting_down_) break;
      Idle me;
      idle_.push_back(&me);
      me.wake.wait_for(lock, idle_exit_, [&] { return me.task || shutting_down_; });
      if (!me.task) {  // idled out, or shutting down: no longer one to hand a task to
        idle_.erase(std::find(idle_.begin(), idle_.end(), &me));
        break;
      }
      task = std::move(me.task);
    }
    lock.unlock();
    task();
    task = nullptr;  // what the task captured is released before the thread looks for more
    lock.lock();
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
  if (!pool_->shutting_down_) pool_->start_thread_locked();
}

WaitingScope::~WaitingScope() {
  if (pool_ == nullptr) return;
  internal::blocking = false;
  std::lock_guard<std::mutex> lock(pool_->mu_);
  --pool_->blocked_;
}

}  // namespace berth::http
