// The master's in-memory state: desired state loaded from the Store, observed state rebuilt
// from agents (docs/architecture.md §5). Owned by MasterCore and only touched under its lock.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "control/app_controller.h"
#include "master/failovers.h"
#include "model/app.h"
#include "model/dataset.h"
#include "protocol/messages.h"
#include "scheduler/placement.h"

namespace berth::master {

struct TaskRecord {
  std::string id;
  std::string app_id;
  std::string agent_id;
  std::string host;
  std::vector<uint32_t> ports;
  protocol::TaskState state = protocol::TaskState::kStaging;
  std::string version;
  std::string config_version;
  WallTime staged_at{};
  std::optional<WallTime> started_at;
  double cpus = 0, mem = 0, disk = 0;
  bool kill_requested = false;
  std::string message;
  std::vector<std::string> datasets;  // dataset ids the task writes
  // Placed, but its datasets are not attached on its node yet; sent when they are.
  std::optional<protocol::LaunchSpec> pending_launch;
  // When its launch command was queued; cleared once the agent reports anything of it. A
  // launch unconfirmed after MasterOptions::task_launch_timeout fails and is replaced.
  std::optional<MonoTime> launch_sent_at;
  std::optional<bool> healthy;  // the agent's verdict from the app's health checks
  // Launched with readiness checks: false until the agent reports it ready (unset: none, or
  // adopted after a restart, which counts as ready).
  std::optional<bool> ready;
  std::string health_results;  // Marathon's healthCheckResults, JSON text
};

struct AgentRecord {
  std::string id;
  std::string hostname;
  std::string address;
  uint32_t http_port = 0;  // the agent's HTTP port (task logs); 0: none
  bool http_tls = false;   // ... which speaks HTTPS
  // "http://address:port" or "https://...": where the master and other agents reach it.
  std::string http_base() const {
    return std::string(http_tls ? "https://" : "http://") + address + ":" +
           std::to_string(http_port);
  }
  protocol::AgentResources resources;
  std::map<std::string, std::string> attributes;
  WallTime registered_at{};
  MonoTime last_heartbeat{};
  WallTime last_heartbeat_wall{};
  bool lost = false;
  bool draining = false;                 // no new tasks; its tasks are moved elsewhere
  std::deque<protocol::Command> outbox;  // sent until the agent asks for later ones
  // As of its newest heartbeat whose report was taken (lease::MasterLeases::on_report).
  std::vector<protocol::DatasetReport> datasets;
  // Ports of its range that something other than its tasks holds, as of its newest heartbeat.
  std::vector<uint32_t> busy_ports;
  // Tasks given up when the agent was declared lost: if it comes back still running them,
  // they are stopped (their replacements run elsewhere), not adopted.
  std::set<std::string> lost_task_ids;
  uint64_t next_seq = 1;
  // The credential of its current registration (docs/security.md); only the agent knows it.
  std::string secret;
  // The master asked this agent to register again (its outbox overflowed): it refuses the
  // agent's calls with "register again" until it does.
  bool must_register = false;
};

struct TaskFailure {
  std::string task_id, host, message;
  protocol::TaskState state = protocol::TaskState::kFailed;
  std::string timestamp, version, agent_id;
};

// Why an app's instances are waiting, for /v2/queue.
struct QueueInfo {
  uint32_t count = 0;
  WallTime since{};
  std::vector<scheduler::Rejection> rejections;
  std::map<std::string, uint32_t> reason_counts;
  uint32_t nodes_considered = 0;
};

// The failures of one app's tasks on one node, while they keep coming.
struct NodeFailures {
  uint32_t count = 0;
  WallTime last{};
};
// After this many failures of an app's tasks on a node, each within kNodeFailureWindow of the
// one before, the node takes the app's new tasks only when no other node can.
inline constexpr uint32_t kAvoidAfterFailures = 3;
inline constexpr std::chrono::minutes kNodeFailureWindow{5};

struct AppRecord {
  model::App app;
  bool deleting = false;  // removed from the store; tasks still being killed
  control::Backoff backoff;
  std::optional<TaskFailure> last_failure;
  std::map<std::string, NodeFailures> failures_by_node;  // agent id -> its recent failures
  std::optional<QueueInfo> queue;
};

struct DeploymentAction {
  std::string action;  // StartApplication, ScaleApplication, RestartApplication, StopApplication
  std::string app;
  bool operator==(const DeploymentAction&) const = default;
};

// A deployment (docs/compatibility.md §2.3): its steps run one after the other, the actions of a
// step together. The apps of later steps are held: the controller neither launches nor kills
// their tasks until their step comes (master/plan.h held_apps).
struct DeploymentRecord {
  std::string id;
  std::string version;
  std::vector<std::string> affected_apps;
  std::vector<std::vector<DeploymentAction>> steps;
  size_t current_step = 0;  // the index of the step in progress
  // What the deployment changed, as it was before (for DELETE /v2/deployments/{id}): each
  // affected app's stored definition (JSON text; empty when the app did not exist), and each
  // changed group's record (JSON text; empty when the group did not exist).
  std::map<std::string, std::string> original_apps;
  std::map<std::string, std::string> original_groups;
};

// A group of the tree (docs/compatibility.md §2.8) that was created or given dependencies
// through /v2/groups. Groups that only hold apps exist implicitly.
struct GroupRecord {
  std::string id;
  std::vector<std::string> dependencies;  // absolute app or group ids
  std::string version;
  bool operator==(const GroupRecord&) const = default;
};

struct MasterState {
  std::map<std::string, AppRecord> apps;
  std::map<std::string, TaskRecord> tasks;
  std::map<std::string, AgentRecord> agents;
  std::map<std::string, DeploymentRecord> deployments;
  std::map<std::string, GroupRecord> groups;  // by id; never the root
  // Marathon's HTTP callback subscribers (/v2/eventSubscriptions): every event is POSTed to each.
  std::vector<std::string> event_callbacks;
  std::map<std::string, model::Dataset> datasets;  // including deleted ones, as Flocker keeps them
  // Kept in step with `datasets` by put_dataset, so a create does not scan every dataset:
  // the ids of the live (not deleted) datasets by their metadata "name", and the sum of
  // every dataset's configuration digest (the X-Configuration-Tag).
  std::map<std::string, std::set<std::string>> live_datasets_by_name;
  uint64_t datasets_digest = 0;
  // Also kept by put_dataset: dataset ids by their primary agent (empty primary included).
  std::map<std::string, std::set<std::string>> datasets_by_primary;
  // Tasks whose pending_launch may be set: send_ready_launches looks at these only.
  std::set<std::string> tasks_pending_launch;
  // The last failovers (master/failovers.h); memory only.
  FailoverLog failovers;

  // Adds or replaces a dataset: every change to `datasets` goes through here.
  void put_dataset(const model::Dataset& dataset);
};

}  // namespace berth::master
