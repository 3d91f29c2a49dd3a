// The master's controller decisions as pure functions (docs/architecture.md §4, "the plan
// loop"): each takes the master's state (desired and observed), the leases, the time and an id
// source, and returns what to do as data. MasterCore::reconcile() applies the plans in order:
// store writes first, then memory, agent commands and events. Nothing here reads a clock,
// writes the store, logs or sends anything (checked by tests/structure/check_structure.py).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/result.h"
#include "lease/master_leases.h"
#include "master/master_state.h"
#include "store/store.h"

namespace berth::master {

// --- launches the agent never confirmed ---
// The tasks whose launch command has waited longer than `timeout` for any word from the agent.
std::vector<std::string> unconfirmed_launches(const MasterState& state, MonoTime now,
                                              std::chrono::milliseconds timeout);

// --- apps: kills and launches (the app controller, control/, per app) ---
struct AppDecisions {
  std::vector<std::string> kill;  // tasks to stop: surplus, old versions, orphans, draining
  std::vector<std::pair<std::string, uint32_t>> launch;  // app -> new instances to place
  // Apps with instances to launch (how many) that wait out a launch backoff.
  std::vector<std::pair<std::string, uint32_t>> waiting;
  std::vector<std::string> satisfied;  // apps with nothing to launch: their queue entry goes
  std::vector<std::string> erase;      // deleted apps whose last task is gone
};
// What every app needs at `now_ms` (the master's monotonic time, for backoffs). Tasks of apps
// that no longer exist and tasks on draining nodes are stopped too.
AppDecisions decide_apps(const MasterState& state, int64_t now_ms);

// Tasks killed before their launch was sent: they never started, so they are simply forgotten.
std::vector<std::string> unlaunched_kills(const MasterState& state);

// --- placement ---
struct NewTask {
  TaskRecord task;
  // Datasets that follow this task to its node, each at the next epoch from the leases: stored
  // before the task exists. When any cannot be stored the task is not created this pass.
  std::vector<model::Dataset> moves;
  // Sent now, unless the task waits for its datasets (task.pending_launch is set instead).
  std::optional<protocol::LaunchSpec> launch;
  // Set when no launch can be built (the app's container cannot be read): the task is recorded
  // and fails at once, like a failed launch, so the app backs off.
  std::optional<std::string> failure;
};
struct PlacementPlan {
  std::vector<NewTask> tasks;
  // Apps whose instances could not all be placed, with why; an app placed in full is listed
  // with nullopt (its queue entry goes).
  std::map<std::string, std::optional<QueueInfo>> queue;
};
// Places `wanted` (app -> count) on the live agents. Apps with external volumes are placed
// one instance at a time where their datasets may go (a local dataset only where its data
// is), preferring the node that holds them now. Task ids come from `ids`; `wall` stamps them.
PlacementPlan plan_placement(const MasterState& state, const lease::MasterLeases& leases,
                             const std::vector<std::pair<std::string, uint32_t>>& wanted,
                             IdSource& ids, WallTime wall);

// --- launches waiting for datasets ---
// The tasks waiting for datasets whose node now reports every one attached at the launch's
// epoch, with no other task still using it; each with its launch spec, host paths filled in.
std::vector<std::pair<std::string, protocol::LaunchSpec>> ready_launches(const MasterState& state);

// --- deployments ---
// The deployments whose current step is done: every app of it has converged (running and
// healthy at its version, or gone). `next_step` is where each goes on; finished when none is left.
struct DeploymentProgress {
  std::string id;
  size_t next_step = 0;
  bool finished = false;
};
std::vector<DeploymentProgress> deployment_progress(const MasterState& state);
// The apps of the deployments' later steps: nothing launches or stops their tasks until then.
std::set<std::string> held_apps(const MasterState& state);

// --- routes ---
// The service routing table (docs/architecture.md §7): service ports -> healthy tasks, JSON text.
std::string routing_table(const MasterState& state);

// --- an agent's registration ---
// What the tasks a (re)registering agent reports mean for the master (docs/protocol.md §2).
struct TaskAdoption {
  std::vector<protocol::TaskReport> known;  // tasks the master knows: their state as reported
  std::vector<TaskRecord> adopted;          // tasks it did not know: adopted as they run
  // Tasks to stop: known ones already being killed, adopted ones whose app is gone or being
  // deleted, and tasks given up when the agent was declared lost (their replacements run
  // elsewhere; not in the master's tasks).
  std::vector<std::string> kill;
  std::vector<std::string> vanished;  // placed on this agent, not reported: they are lost
  size_t running = 0;                 // reported and not terminal
};
TaskAdoption plan_task_adoption(const MasterState& state, const AgentRecord& agent,
                                const std::vector<protocol::TaskReport>& tasks);

// --- what each agent is to do with its datasets (docs/protocol.md §6) ---
// The assignments for `agent_id`'s next heartbeat answer or "datasets" command: the datasets
// whose primary it is, each with attach=true only when the leases allow it (docs/fencing.md
// §4), copies of local datasets to fetch from their holder, and copies nothing needs any more to
// destroy.
std::vector<protocol::DatasetAssignment> assignments_for(const MasterState& state,
                                                         const lease::MasterLeases& leases,
                                                         const std::string& agent_id, MonoTime now);

// Whether `local` dataset `d` can move to `target` now, by copying (docs/fencing.md §5): the
// node holding its data, its current primary and `target` all up and the data on the holder;
// kConflict naming the node and the reason otherwise.
Status check_local_move(const MasterState& state, const model::Dataset& d,
                        const std::string& target);

// --- the Flocker API's dataset changes (docs/compatibility.md §3) ---
// Each returns the dataset as it is to be stored, or an error that names the problem.
// A new dataset: its id and name unused, its primary a node of the cluster.
Result<model::Dataset> plan_dataset_create(const MasterState& state, model::Dataset parsed);
// A change of primary is a move at the leases' next epoch, refused while a task or a container
// uses the dataset; a `local` dataset moves by copying, only while the nodes are up.
Result<model::Dataset> plan_dataset_update(const MasterState& state,
                                           const lease::MasterLeases& leases, const std::string& id,
                                           const model::DatasetUpdate& update);
// Marks it deleted (unchanged when it already is); refused while it is in use.
Result<model::Dataset> plan_dataset_delete(const MasterState& state, const std::string& id);

// --- the Marathon API's app changes ---
// Where apps, their versions and deployments live in the Store.
std::string app_key(const std::string& id);
std::string versions_prefix(const std::string& id);
std::string deployment_key(const std::string& id);
std::string deployment_json(const DeploymentRecord& deployment);
// Marathon's `steps`: [{"actions":[{"action","app"}]}].
nlohmann::json deployment_steps_json(const DeploymentRecord& deployment);
// A stored deployment; nullopt when the text is not one.
std::optional<DeploymentRecord> parse_deployment(const std::string& text);
// The deployments that lock app `id`.
std::vector<std::string> deployments_locking(const MasterState& state, const std::string& id);

struct AppChangeSettings {
  size_t max_versions = 50;
  uint32_t service_port_min = 10000;
  uint32_t service_port_max = 20000;  // exclusive
  std::string default_dataset_driver = "shared";
  // Service ports taken by other apps of the same change (a group's), not yet in the state.
  std::set<uint32_t> reserved_service_ports;
};
// One change of an app, to store in one transaction before memory changes.
struct AppChange {
  model::App app;  // as stored: its version and service ports assigned
  DeploymentRecord deployment;
  std::vector<model::Dataset> new_datasets;  // its external volumes' datasets, created now
  std::vector<StoreOp> ops;
  bool config_changed = false;  // a new configuration (not a scale): the launch delay resets
};
// Creates, replaces, scales or restarts (`action` "RestartApplication"; empty: derived) app
// `given` as version `version`. kConflict when a deployment locks it, unless `force` (then
// those deployments are erased with it). `stored_versions`: the Store keys of its versions,
// oldest first; past settings.max_versions the oldest go.
Result<AppChange> plan_app_change(const MasterState& state, const model::App& given,
                                  const std::string& action, bool force,
                                  const std::vector<std::string>& stored_versions,
                                  const std::string& version, IdSource& ids,
                                  const AppChangeSettings& settings);
// Deletes app `id` with every stored version: kNotFound, or kConflict as above.
Result<AppChange> plan_app_delete(const MasterState& state, const std::string& id, bool force,
                                  const std::vector<std::string>& stored_versions,
                                  const std::string& version, IdSource& ids);

// --- the Marathon API's group changes (docs/compatibility.md §2.8) ---
std::string group_key(const std::string& id);
std::string group_versions_prefix(const std::string& id);
std::optional<GroupRecord> parse_group_record(const std::string& text);
// A group's whole subtree, as a change would be given it: every app under it (not being
// deleted) and every group record under it (itself included).
struct GroupTarget {
  std::string group;
  std::map<std::string, model::App> apps;
  std::map<std::string, GroupRecord> groups;
};
GroupTarget current_subtree(const MasterState& state, const std::string& group);
// The root, a group with a record, or a group some app lives in.
bool group_exists(const MasterState& state, const std::string& id);
// The Store keys of the versions a group change replaces (oldest first), read by the caller.
struct GroupChangeStore {
  std::map<std::string, std::vector<std::string>> app_versions;  // per app of the subtree
  std::vector<std::string> group_versions;
};
// One change of a group's subtree, to store in one transaction before memory changes.
struct GroupChange {
  DeploymentRecord deployment;
  std::vector<model::App> apps;  // new or changed, as stored
  std::vector<std::string> deleted_apps;
  std::vector<GroupRecord> groups;  // new or changed records
  std::vector<std::string> deleted_groups;
  std::vector<model::Dataset> new_datasets;
  std::set<std::string> config_changed;  // apps whose launch delay resets
  std::vector<StoreOp> ops;
};
// Turns the subtree `target.group` into `target`: unchanged apps are left alone, others are
// started, scaled or restarted, apps no longer there stopped. The deployment's steps stop
// dependents before what they depend on, then start what others depend on first (one step per
// layer of the dependency graph). kInvalidArgument on a dependency cycle or an id that is both
// an app and a group; kConflict when a deployment locks an app, unless `force`.
Result<GroupChange> plan_group_change(const MasterState& state, const GroupTarget& target,
                                      bool force, const GroupChangeStore& stored,
                                      const std::string& version, IdSource& ids,
                                      const AppChangeSettings& settings);

// --- helpers shared with MasterCore ---
// What placing `count` instances of `app` asks of a node (resources, ports, constraints).
scheduler::PlacementRequest placement_request(const model::App& app, uint32_t count);
// Counts a failure of `record`'s task on node `agent_id` at `now` (a run of failures ends when
// the next comes more than kNodeFailureWindow later).
void record_node_failure(AppRecord& record, const std::string& agent_id, WallTime now);
// The nodes where `record`'s tasks failed kAvoidAfterFailures times in a row, the last within
// kNodeFailureWindow of `now`: placement passes them over while another node fits.
std::vector<std::string> nodes_to_avoid(const AppRecord& record, WallTime now);
// The host ports placement assigned (fixed ones first, then dynamic) in the order of the app's
// ports: portDefinitions, or the portMappings that publish a host port.
std::vector<uint32_t> ports_in_app_order(const model::App& app,
                                         const std::vector<uint32_t>& assigned);
// The launch spec of a new task of `app` with `ports` (no datasets yet).
// kInvalidArgument when the app's container cannot be read (model/container.h).
Result<protocol::LaunchSpec> launch_spec(const model::App& app, const std::string& task_id,
                                         const std::vector<uint32_t>& ports);
bool has_health_checks(const model::App& app);
bool has_readiness_checks(const model::App& app);

}  // namespace berth::master
