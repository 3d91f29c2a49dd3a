// WorkerPool (internal to src/http): threads start on demand up to the bound, a task goes to
// the thread that became free last, and threads a burst started end once the load no longer
// needs them. Real threads and short real waits.
#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/http.h"

namespace berth::http::internal {
namespace {

using namespace std::chrono_literals;

// Holds the tasks it is given until released.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    arrived_.notify_all();
    open_cv_.wait(lock, [&] { return open_; });
  }
  void wait_for_arrivals(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(arrived_.wait_for(lock, 10s, [&] { return waiting_ >= n; })) << waiting_;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    open_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable arrived_, open_cv_;
  int waiting_ = 0;
  bool open_ = false;
};

TEST(WorkerPool, StartsAThreadPerConcurrentTaskUpToItsBound) {
  WorkerPool pool(4, 10s);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(pool.submit([&] {
      gate.wait();
      ++done;
    }));
  }
  gate.wait_for_arrivals(4);
  EXPECT_EQ(pool.threads(), 4u);  // the other two wait for a free thread
  gate.open();
  pool.shut_down();
  EXPECT_EQ(done.load(), 6);
  EXPECT_FALSE(pool.submit([] {}));
}

TEST(WorkerPool, ThreadsABurstStartedEndUnderASteadyLoadThatNeedsFewer) {
  WorkerPool pool(64, 300ms);
  Gate gate;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.submit([&] { gate.wait(); }));
  gate.wait_for_arrivals(20);
  EXPECT_EQ(pool.threads(), 20u);
  gate.open();
  // One short task at a time for 1.5 s: the thread freed last takes each, the rest idle out.
  std::atomic<int> done{0};
  const auto end = std::chrono::steady_clock::now() + 1500ms;
  int submitted = 0;
  while (std::chrono::steady_clock::now() < end) {
    ASSERT_TRUE(pool.submit([&] { ++done; }));
    ++submitted;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_LE(pool.threads(), 3u);
  pool.shut_down();
  EXPECT_EQ(done.load(), submitted);
}

TEST(WorkerPool, ShutDownRunsTheTasksStillQueued) {
  WorkerPool pool(1, 10s);
  Gate gate;
  std::atomic<int> done{0};
  ASSERT_TRUE(pool.submit([&] { gate.wait(); }));
  gate.wait_for_arrivals(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.submit([&] { ++done; }));
  std::thread opener([&] {
    std::this_thread::sleep_for(50ms);
    gate.open();
  });
  pool.shut_down();
  opener.join();
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(pool.threads(), 0u);
}

TEST(WorkerPool, ATaskWaitingOutsideLetsAQueuedOneRun) {
  WorkerPool pool(1, 10s);
  Gate outside;  // what the blocked task waits for, as on a slow peer
  std::mutex mu;
  std::condition_variable changed;
  bool queued_ran = false;
  ASSERT_TRUE(pool.submit([&] {
    WaitingScope waiting;
    outside.wait();
  }));
  outside.wait_for_arrivals(1);
  ASSERT_TRUE(pool.submit([&] {
    std::lock_guard<std::mutex> lock(mu);
    queued_ran = true;
    changed.notify_all();
  }));
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, 5s, [&] { return queued_ran; }))
        << "the queued task waited for the blocked one's thread";
  }
  EXPECT_EQ(pool.threads(), 2u);
  outside.open();
  pool.shut_down();
}

TEST(WorkerPool, ATaskThatWaitsWithoutSayingSoHoldsItsThread) {
  WorkerPool pool(1, 10s);
  Gate gate;
  std::atomic<bool> queued_ran{false};
  ASSERT_TRUE(pool.submit([&] { gate.wait(); }));
  gate.wait_for_arrivals(1);
  ASSERT_TRUE(pool.submit([&] { queued_ran = true; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(queued_ran);
  EXPECT_EQ(pool.threads(), 1u);
  // Off the pool's threads a WaitingScope does nothing.
  { WaitingScope elsewhere; }
  EXPECT_EQ(pool.threads(), 1u);
  gate.open();
  pool.shut_down();
  EXPECT_TRUE(queued_ran);
}

TEST(WorkerPool, AThreadLeftFromAWaitTakesNoTaskPastTheBound) {
  WorkerPool pool(1, 10s);
  Gate outside, then;
  ASSERT_TRUE(pool.submit([&] {
    {
      WaitingScope waiting;
      outside.wait();
    }
    then.wait();  // running again, inside the bound of one
  }));
  outside.wait_for_arrivals(1);
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.submit([&] { ++ran; }));  // on a second thread, while the first waits
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ran == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(ran.load(), 1);
  outside.open();
  then.wait_for_arrivals(1);
  // The second thread is idle, but one task already runs: the next one waits for it.
  ASSERT_TRUE(pool.submit([&] { ++ran; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ran.load(), 1) << "two tasks ran at once in a pool of one";
  then.open();
  pool.shut_down();
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace berth::http::internal
