#include "control/app_controller.h"

#include <algorithm>
#include <cmath>

namespace berth::control {
namespace {

bool is_running(const TaskView& t) { return t.running; }

// Scale-down order: staging/starting before running; among running, youngest first unless
// OLDEST_FIRST.
std::vector<const TaskView*> kill_order(std::vector<const TaskView*> tasks, bool oldest_first) {
  std::stable_sort(tasks.begin(), tasks.end(), [&](const TaskView* a, const TaskView* b) {
    bool ra = is_running(*a), rb = is_running(*b);
    if (ra != rb) return !ra;  // not running first
    if (!ra) return a->staged_at_ms > b->staged_at_ms;
    if (!a->healthy != !b->healthy) return !a->healthy;  // unhealthy first
    return oldest_first ? a->started_at_ms < b->started_at_ms : a->started_at_ms > b->started_at_ms;
  });
  return tasks;
}

}  // namespace

AppPlan plan_app(const AppView& app, const std::vector<TaskView>& live) {
  AppPlan plan;
  std::vector<const TaskView*> fresh, old;
  for (const auto& t : live) {
    if (t.kill_requested) continue;
    (t.config_version == app.config_version ? fresh : old).push_back(&t);
  }
  if (app.deleting) {
    for (auto* t : kill_order(fresh, app.oldest_first)) plan.kill.emplace_back(t->task_id);
    for (auto* t : kill_order(old, app.oldest_first)) plan.kill.emplace_back(t->task_id);
    return plan;
  }
  const int64_t n = app.instances;
  if (old.empty()) {
    if (static_cast<int64_t>(fresh.size()) > n) {
      auto order = kill_order(fresh, app.oldest_first);
      for (size_t i = 0; i < fresh.size() - static_cast<size_t>(n); ++i) {
        plan.kill.emplace_back(order[i]->task_id);
      }
    } else {
      plan.launch = static_cast<uint32_t>(n - static_cast<int64_t>(fresh.size()));
    }
    return plan;
  }

  // Rolling replacement of old-config tasks.
  int64_t min_healthy = static_cast<int64_t>(std::ceil(n * app.minimum_health_capacity - 1e-9));
  int64_t max_capacity =
      static_cast<int64_t>(std::floor(n * (1 + app.maximum_over_capacity) + 1e-9));
  int64_t healthy = 0;
  for (auto* t : fresh) healthy += t->healthy ? 1 : 0;
  for (auto* t : old) healthy += t->healthy ? 1 : 0;
  int64_t extra_kill = 0;
  if (min_healthy == max_capacity && max_capacity <= healthy) {
    if (app.exclusive_volumes) {
      extra_kill = 1;
    } else {
      max_capacity += 1;
    }
  }

  // Surplus fresh tasks beyond n are killed like a scale-down.
  if (static_cast<int64_t>(fresh.size()) > n) {
    auto order = kill_order(fresh, app.oldest_first);
    size_t surplus = fresh.size() - static_cast<size_t>(n);
    for (size_t i = 0; i < surplus; ++i) plan.kill.emplace_back(order[i]->task_id);
    fresh.resize(static_cast<size_t>(n));
  }
  // Old tasks that are not healthy do not count towards capacity; kill them first.
  auto order = kill_order(old, app.oldest_first);
  int64_t can_kill_healthy = std::max<int64_t>(0, healthy - min_healthy) + extra_kill;
  int64_t killed = 0;
  for (auto* t : order) {
    if (!t->healthy) {
      plan.kill.emplace_back(t->task_id);
      ++killed;
    } else if (can_kill_healthy > 0) {
      plan.kill.emplace_back(t->task_id);
      --can_kill_healthy;
      ++killed;
    }
  }
  int64_t remaining_old = static_cast<int64_t>(old.size()) - killed;
  int64_t want = n - static_cast<int64_t>(fresh.size());
  int64_t room = max_capacity - remaining_old - static_cast<int64_t>(fresh.size());
  plan.launch = static_cast<uint32_t>(std::max<int64_t>(0, std::min(want, room)));
  return plan;
}

bool app_converged(const AppView& app, const std::vector<TaskView>& live) {
  if (app.deleting) return live.empty();
  if (live.size() != app.instances) return false;
  for (const auto& t : live) {
    if (t.kill_requested || t.config_version != app.config_version || !is_running(t) || !t.healthy)
      return false;
  }
  return true;
}

Backoff backoff_after_failure(const Backoff& current, const BackoffPolicy& policy, int64_t now_ms) {
  Backoff next;
  next.delay_seconds = current.delay_seconds == 0
                           ? policy.backoff_seconds
                           : std::min(current.delay_seconds * policy.backoff_factor,
                                      policy.max_launch_delay_seconds);
  next.delay_seconds = std::min(next.delay_seconds, policy.max_launch_delay_seconds);
  next.next_launch_ms = now_ms + static_cast<int64_t>(next.delay_seconds * 1000);
  return next;
}

bool may_launch(const Backoff& backoff, int64_t now_ms) { return now_ms >= backoff.next_launch_ms; }

}  // namespace berth::control
