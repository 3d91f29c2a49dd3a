// The app controller's decisions (docs/architecture.md §4): given one app's desired state and its
// live tasks, which tasks to kill and how many new instances to launch. Pure: called by the
// master's reconcile loop with time passed in; unit-tested without sockets or sleeps.
// Rolling restarts follow Marathon's TaskReplaceActor (docs/compatibility.md §2.5); scale-down
// order follows its ScalingProposition (same section).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::control {

struct TaskView {
  // Views into the caller's task record, which outlives the plan: the master builds a view of
  // every task on every plan, and copying 10,000 ids each time showed in its profile.
  std::string_view task_id;
  std::string_view config_version;  // the app's lastConfigChangeAt when the task was launched
  bool running = false;             // TASK_RUNNING (not staging, starting or killing)
  bool healthy = false;             // running and passing its health checks, if any
  bool kill_requested = false;
  int64_t staged_at_ms = 0;
  int64_t started_at_ms = 0;
};

struct AppView {
  uint32_t instances = 1;
  std::string config_version;
  double minimum_health_capacity = 1.0;
  double maximum_over_capacity = 1.0;
  bool oldest_first = false;  // killSelection OLDEST_FIRST
  bool deleting = false;
  // The app writes datasets that only one task may use at a time: a replacement starts only
  // after the task it replaces is gone (Marathon's rule for resident apps).
  bool exclusive_volumes = false;
};

struct AppPlan {
  std::vector<std::string> kill;  // task ids, in the order to kill them
  uint32_t launch = 0;            // new instances of the current config to place
};

// `live` holds the app's non-terminal tasks.
AppPlan plan_app(const AppView& app, const std::vector<TaskView>& live);

// True when the app is where its deployment wants it: exactly `instances` tasks, all of the
// current config, running and healthy, none being killed (none at all when deleting).
bool app_converged(const AppView& app, const std::vector<TaskView>& live);

// Marathon's launch backoff (backoffSeconds, backoffFactor, maxLaunchDelaySeconds).
struct Backoff {
  double delay_seconds = 0;  // 0 = no failure since the last reset
  int64_t next_launch_ms = 0;
};

struct BackoffPolicy {
  double backoff_seconds = 1;
  double backoff_factor = 1.15;
  double max_launch_delay_seconds = 300;
};

// After a TASK_FAILED or TASK_FINISHED: the next launch waits the (grown) delay.
Backoff backoff_after_failure(const Backoff& current, const BackoffPolicy& policy, int64_t now_ms);
bool may_launch(const Backoff& backoff, int64_t now_ms);

}  // namespace berth::control
