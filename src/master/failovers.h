// Failover records (docs/architecture.md §4, "Failover records"): what happened after the
// master declared a node lost. Each record names the node and when it was declared lost, and
// follows every dataset it held until the dataset is attached elsewhere (where, at which
// epoch) and every task it ran until a replacement runs and, when the app has health checks,
// is healthy. MasterCore opens a record in its lost-agent step and feeds it what agents report;
// each phase reached is timed from the loss and goes to the metrics.
//
// Pure, like master/plan.h: every time comes in as an argument; nothing here reads a clock,
// logs or sends anything. The master keeps the last kKept records in memory only: a master
// that restarts (or a new leader) starts an empty list.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"

namespace berth::master {

struct MasterState;

// A phase of a failover, each timed from the node declared lost.
enum class FailoverPhase {
  kAttached,  // a dataset the node held is attached on another node, at a newer epoch
  kRunning,   // a replacement of a task the node ran is running
  kHealthy,   // ... and passes its health checks
  kRouted,    // ... and a service router forwarded a connection to it (apps with service ports)
};
// "attached", "running", "healthy", "routed": the phase's label in the metrics and its JSON key.
const char* phase_name(FailoverPhase phase);

struct FailoverDataset {
  std::string dataset_id;
  std::string driver;
  uint64_t epoch_at_loss = 0;
  // Set once it is attached elsewhere.
  std::string attached_on;
  uint64_t attached_epoch = 0;
  std::optional<WallTime> attached_at;
  std::optional<std::chrono::milliseconds> attached_after;
};

struct FailoverTask {
  std::string task_id;
  std::string app_id;
  bool health_checked = false;  // its app has health checks: "healthy" is a phase of it
  bool service_routed = false;  // its app has service ports: "routed" is a phase of it
  // The first task of the same app staged after the loss that ran, claimed by the oldest
  // open record first; one replacement stands for one lost task.
  std::string replacement_id;
  std::string replacement_agent;
  std::optional<WallTime> running_at;
  std::optional<std::chrono::milliseconds> running_after;
  std::optional<WallTime> healthy_at;
  std::optional<std::chrono::milliseconds> healthy_after;
  // When an agent's service router first forwarded a client's connection to the replacement.
  std::optional<WallTime> routed_at;
  std::optional<std::chrono::milliseconds> routed_after;
};

struct Failover {
  uint64_t id = 0;  // numbered from 1 by this master
  std::string agent_id;
  std::string hostname;
  WallTime lost_at{};
  MonoTime lost_at_mono{};
  std::vector<FailoverDataset> datasets;
  std::vector<FailoverTask> tasks;

  // Every dataset attached elsewhere, every task replaced and (where checked) healthy.
  bool complete() const;
};

// A phase reached by one dataset or task of record `failover_id`.
struct PhaseReached {
  uint64_t failover_id = 0;
  FailoverPhase phase = FailoverPhase::kAttached;
  std::string subject;  // the dataset id, or the lost task's id
  std::string node;     // where: the node attaching the dataset or running the replacement
  uint64_t epoch = 0;   // kAttached: the epoch it is attached at
  std::chrono::milliseconds after{0};
};

// The last kKept failover records, oldest first.
class FailoverLog {
 public:
  static constexpr size_t kKept = 100;

  // Adds `failover`, numbering it; the oldest record goes past kKept.
  void add(Failover failover);
  // Agent `agent_id` reports dataset `dataset_id` newly attached at `epoch`: records whose
  // node held it at an older epoch and that wait for it have it attached.
  std::vector<PhaseReached> dataset_attached(const std::string& dataset_id,
                                             const std::string& agent_id, uint64_t epoch,
                                             WallTime wall, MonoTime mono);
  // Task `task_id` of `app_id`, staged at `staged_at` on `agent_id`, runs for the first time:
  // the oldest record with a task of that app that has no replacement yet and was lost no
  // later than `staged_at` takes it as the replacement.
  std::vector<PhaseReached> task_running(const std::string& task_id, const std::string& app_id,
                                         const std::string& agent_id, WallTime staged_at,
                                         WallTime wall, MonoTime mono);
  // Task `task_id` passes its health checks for the first time: the record it replaces a task
  // of, if any, has that task healthy.
  std::vector<PhaseReached> task_healthy(const std::string& task_id, WallTime wall, MonoTime mono);
  // A service router forwarded a connection to task `task_id` for the first time (at `wall` /
  // `mono`): the record it replaces a task of, if any, has that task routed.
  std::vector<PhaseReached> task_routed(const std::string& task_id, WallTime wall, MonoTime mono);

  const std::deque<Failover>& entries() const { return entries_; }

 private:
  std::deque<Failover> entries_;
  uint64_t next_id_ = 1;
};

// The record of node `agent_id` declared lost at `wall` / `mono`, from the state before its
// tasks are ended: the tasks placed on it and the datasets it held (its primary datasets and
// those it reported attached), each with its epoch then.
Failover failover_of(const MasterState& state, const std::string& agent_id, WallTime wall,
                     MonoTime mono);

}  // namespace berth::master
