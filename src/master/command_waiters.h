// The parts of the command long poll (docs/protocol.md §5) that MasterCore keeps under its
// lock: the waiting polls of each agent (CommandWaiters), and the lock itself (StateMutex),
// which answers polls only once it is released, so no answer is encoded or sent under it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/result.h"
#include "protocol/messages.h"

namespace berth::master {

// A command poll waiting for its answer (MasterCore::poll_commands).
struct CommandWaiter {
  // Called once, on whichever thread answers and never under the master's lock: with the
  // commands, an empty batch, or kNotFound / kInvalidArgument as MasterCore::commands().
  std::function<void(Result<protocol::CommandBatch>)> answer;
  // True once nobody takes the answer any more (the client left, or its wait ended with an
  // empty answer): the waiter is then dropped unanswered. Null: never. Called under the lock,
  // so it must be cheap and must not call into MasterCore.
  std::function<bool()> abandoned;

  bool gone() const { return abandoned && abandoned(); }
};

// The parked polls, by agent. Not thread-safe: MasterCore's lock guards it.
class CommandWaiters {
 public:
  // An agent polls once at a time; a few more cover a poll its client gave up on just before
  // polling again.
  static constexpr size_t kPerAgent = 4;

  struct Parked {
    std::string agent_id;
    uint64_t after = 0;
    CommandWaiter waiter;
  };

  // Parks `waiter`, dropping the agent's abandoned waiters first. Past kPerAgent the agent's
  // oldest waiter is taken out and returned: it is to be answered with an empty batch.
  std::optional<CommandWaiter> park(const std::string& agent_id, uint64_t after,
                                    CommandWaiter waiter);
  // The agent's waiters are to be looked at again (take_woken). Agents with none are ignored.
  void wake(const std::string& agent_id);
  void wake_all();
  bool any_woken() const { return !woken_.empty(); }
  // Takes out the woken agents' waiters, oldest first per agent, dropping abandoned ones.
  std::vector<Parked> take_woken();
  // Takes out agent `agent_id`'s waiters at once, dropping abandoned ones.
  std::vector<Parked> take(const std::string& agent_id);
  // Parked waiters, abandoned ones included until they are dropped.
  size_t size() const { return size_; }

 private:
  // Moves the live waiters of `it` to `out` and forgets the agent.
  void take_entry(std::unordered_map<std::string, std::vector<Parked>>::iterator it,
                  std::vector<Parked>* out);

  std::unordered_map<std::string, std::vector<Parked>> parked_;  // oldest first
  std::unordered_set<std::string> woken_;
  size_t size_ = 0;
};

// The master's state lock: a timed mutex (a heartbeat gives up waiting for it) that runs work
// for after its release. As it is released it first calls the hook set with on_release(),
// still held, which may queue work with after_release(); that work then runs on the
// releasing thread once the lock is free. MasterCore answers the polls it woke so: it reads
// their batches under the lock and encodes and sends them without it (docs/protocol.md §5).
//
// It also counts the holds that may have changed the state: every hold counts, unless its
// holder says it only read (unchanged()). reconcile() plans again only when the count moved
// since its last plan, or when something it waits for falls due (docs/architecture.md §4):
// a holder that forgets to say so costs a plan, never a missed one.
class StateMutex {
 public:
  void lock() {
    if (!mu_.try_lock()) {
      ++waiting_;
      mu_.lock();
      --waiting_;
    }
    ++changes_;
  }
  bool try_lock() { return counted(mu_.try_lock()); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    if (mu_.try_lock()) return counted(true);
    ++waiting_;
    bool locked = mu_.try_lock_for(timeout);
    --waiting_;
    return counted(locked);
  }
  void unlock();
  // Threads waiting for the lock now. The mutex is not fair: a reader that takes it again and
  // again in batches checks this between them and lets the waiters go first.
  int waiting() const { return waiting_.load(std::memory_order_relaxed); }
  // Only while holding the lock: this hold changed nothing the controller plans from.
  void unchanged() { --changes_; }
  // Only while holding the lock: the holds so far that may have changed the state.
  uint64_t changes() const { return changes_; }

  // Set once, before the lock is first taken.
  void on_release(std::function<void()> hook) { hook_ = std::move(hook); }
  // Only while holding the lock.
  void after_release(std::function<void()> work) { after_.push_back(std::move(work)); }

 private:
  bool counted(bool locked) {
    if (locked) ++changes_;
    return locked;
  }

  std::timed_mutex mu_;
  std::atomic<int> waiting_{0};
  uint64_t changes_ = 0;  // under mu_
  std::function<void()> hook_;
  std::vector<std::function<void()>> after_;
};

}  // namespace berth::master
