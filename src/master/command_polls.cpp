// MasterCore's command long poll (docs/protocol.md §5). A poll with nothing to take is parked
// in waiters_ and holds no thread; enqueue(), lose_agent() and shutdown() wake the polls of
// an agent, and mu_ (a StateMutex) answers them as it is released: their batches are read
// under the lock, and encoded and sent by the callers' answer functions without it.
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>

#include "master/master_core.h"
#include "master/plan.h"

namespace berth::master {
namespace {

// The most commands one answer carries; the agent asks again for the rest.
constexpr size_t kMaxBatch = 1000;

// An answer function that throws fails its own poll, not the thread that answers it (which
// may be releasing the lock in a destructor).
void deliver(const CommandWaiter& waiter, Result<protocol::CommandBatch> answer) noexcept {
  if (!waiter.answer) return;
  try {
    waiter.answer(std::move(answer));
  } catch (const std::exception&) {
    // Its client's wait ends with the fallback answer.
  }
}

}  // namespace

std::optional<Result<protocol::CommandBatch>> MasterCore::commands_now(const std::string& agent_id,
                                                                       uint64_t after) {
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end() || it->second.lost || it->second.must_register) {
    return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id + ": register again");
  }
  if (after >= it->second.next_seq) {
    return make_error(ErrorCode::kInvalidArgument,
                      "after=" + std::to_string(after) +
                          " is beyond the last command sent to agent " + agent_id + " (" +
                          std::to_string(it->second.next_seq - 1) + ")");
  }
  auto& outbox = it->second.outbox;
  while (!outbox.empty() && outbox.front().seq <= after) outbox.pop_front();
  if (outbox.empty() && !shutting_down_) return std::nullopt;
  protocol::CommandBatch batch;
  for (const auto& c : outbox) {
    batch.commands.push_back(c);
    // A "datasets" command carries the agent's assignments as they are now (it was queued
    // empty: see push_assignments).
    // It grants nothing: attaching is granted only in heartbeat answers, whose application
    // the agent confirms (docs/fencing.md §4); this list makes it let go of datasets at
    // once and heartbeat for the rest.
    if (auto* datasets = batch.commands.back().as<protocol::DatasetsCommand>()) {
      datasets->datasets = assignments_for(state_, leases_, agent_id, clock_.mono_now());
      for (auto& a : datasets->datasets) a.attach = false;
    }
    if (batch.commands.size() >= kMaxBatch) break;
  }
  return batch;
}

Result<protocol::CommandBatch> MasterCore::commands(const std::string& agent_id, uint64_t after,
                                                    std::chrono::milliseconds wait) {
  if (wait.count() <= 0) {
    std::lock_guard lock(mu_);
    mu_.unchanged();
    auto now = commands_now(agent_id, after);
    if (now) return std::move(*now);
    return protocol::CommandBatch{};
  }
  struct Shared {
    std::mutex mu;
    std::condition_variable answered;
    std::optional<Result<protocol::CommandBatch>> answer;
    bool gone = false;
  };
  auto shared = std::make_shared<Shared>();
  CommandWaiter waiter;
  waiter.answer = [shared](Result<protocol::CommandBatch> answer) {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->answer = std::move(answer);
    shared->answered.notify_all();
  };
  waiter.abandoned = [shared] {
    std::lock_guard<std::mutex> lock(shared->mu);
    return shared->gone;
  };
  poll_commands(agent_id, after, std::move(waiter));
  std::unique_lock<std::mutex> lock(shared->mu);
  if (!shared->answered.wait_for(lock, wait, [&] { return shared->answer.has_value(); })) {
    shared->gone = true;  // what comes later stays queued for the next poll
    return protocol::CommandBatch{};
  }
  return std::move(*shared->answer);
}

void MasterCore::poll_commands(const std::string& agent_id, uint64_t after, CommandWaiter waiter) {
  std::optional<Result<protocol::CommandBatch>> now;
  {
    std::lock_guard lock(mu_);
    mu_.unchanged();
    now = commands_now(agent_id, after);
    if (!now) {
      std::optional<CommandWaiter> pushed_out = waiters_.park(agent_id, after, std::move(waiter));
      if (pushed_out) answer_after_release(std::move(*pushed_out), protocol::CommandBatch{});
      return;
    }
  }
  deliver(waiter, std::move(*now));
}

size_t MasterCore::parked_polls() const {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  return waiters_.size();
}

void MasterCore::answer_after_release(CommandWaiter waiter, Result<protocol::CommandBatch> answer) {
  mu_.after_release([waiter = std::move(waiter), answer = std::move(answer)]() mutable {
    deliver(waiter, std::move(answer));
  });
}

void MasterCore::answer_woken_polls() {
  if (!waiters_.any_woken()) return;
  using Answer = std::pair<CommandWaiter, Result<protocol::CommandBatch>>;
  std::vector<Answer> answers;
  for (auto& parked : waiters_.take_woken()) {
    auto now = commands_now(parked.agent_id, parked.after);
    if (!now) {  // nothing after this one's `after` yet: it waits on
      auto pushed_out = waiters_.park(parked.agent_id, parked.after, std::move(parked.waiter));
      if (pushed_out) answers.emplace_back(std::move(*pushed_out), protocol::CommandBatch{});
      continue;
    }
    answers.emplace_back(std::move(parked.waiter), std::move(*now));
  }
  if (answers.empty()) return;
  mu_.after_release([answers = std::move(answers)]() mutable {
    for (auto& [waiter, answer] : answers) deliver(waiter, std::move(answer));
  });
}

}  // namespace berth::master
