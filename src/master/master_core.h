// MasterCore: the master's state machine and its durable half. The HTTP handlers (api/ and
// agent_handlers) call it; a background loop calls reconcile(). Every desired-state change is
// committed to the Store before the method returns, so an API answer means "durable".
// Thread-safe: one mutex guards the state; a command long poll waits holding no thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/result.h"
#include "lease/lease_desk.h"
#include "lease/master_leases.h"
#include "master/command_waiters.h"
#include "master/event_bus.h"
#include "master/master_state.h"
#include "model/group.h"
#include "store/store.h"

namespace berth::metrics {
class Registry;
}

namespace berth::master {

struct MasterOptions {
  std::string join_token;
  // Heartbeat interval, lease and the margin after it: checked by lease::check_timing.
  lease::LeaseOptions timing;
  size_t max_versions = 50;
  uint32_t service_port_min = 10000;
  uint32_t service_port_max = 20000;  // exclusive
  std::string leader;                 // host:port advertised by /v2/leader
  std::string default_dataset_driver = "shared";
  // A launch the agent has not confirmed by then fails and is replaced (Marathon's
  // task_launch_timeout, shown in /v2/info).
  std::chrono::milliseconds task_launch_timeout{300000};
  // Commands queued for one agent; past it the agent must register again (docs/security.md).
  size_t max_outbox = 10000;
  // How long a heartbeat waits for the state lock before it answers with the lease alone
  // (docs/fencing.md §9).
  std::chrono::milliseconds heartbeat_lock_budget{50};
  // The most heartbeats a second the master asks of its fleet: past it, the timing above is
  // stretched by a whole factor for every agent (lease::fleet_timing, docs/fencing.md §10).
  // 0: never stretched.
  int64_t max_heartbeats_per_second = 0;
  // Receives one line per decision the master applies, with ids: an agent registered or
  // lost, a dataset created, moved (with its epoch), attached or released, a task launched,
  // killed or changing state with its reason. The master process writes them to its log, so
  // a failover can be explained from the log alone (docs/architecture.md). Empty = silent.
  std::function<void(const std::string&)> log;
  // Counts failovers, their phases and dataset moves (docs/compatibility.md §2.9); shared by
  // every core of the process. Null: not measured.
  metrics::Registry* metrics = nullptr;
};

struct DeploymentRef {
  std::string deployment_id;
  std::string version;
};

struct AppDecisions;
struct PlacementPlan;
struct GroupTarget;

class MasterCore {
 public:
  MasterCore(MasterOptions options, Store& store, Clock& clock, IdSource& ids);

  // Loads apps and deployments from the store. Until lost_timeout has passed, reconcile()
  // launches and kills nothing, so agents can re-register and report their tasks first.
  Status load();

  const MasterOptions& options() const { return options_; }

  // --- apps (Marathon v2) ---
  // kConflict: exists (message as Marathon's) or locked by a deployment (unless force).
  Result<DeploymentRef> create_app(model::App app, bool force);
  // Replaces (or creates) the app. `created` tells which.
  Result<DeploymentRef> update_app(model::App app, bool force, bool* created);
  Result<DeploymentRef> delete_app(const std::string& id, bool force);
  Result<DeploymentRef> restart_app(const std::string& id, bool force);
  // Kills tasks; with scale the app's instances shrink by the number killed (a deployment).
  Result<std::optional<DeploymentRef>> kill_tasks(const std::vector<std::string>& task_ids,
                                                  bool scale, bool force,
                                                  std::vector<TaskRecord>* killed);
  Result<std::vector<std::string>> app_versions(const std::string& id);
  Result<model::App> app_version(const std::string& id, const std::string& version);
  // Ends app `id`'s launch backoff (DELETE /v2/queue/{id}/delay); kNotFound for an unknown app.
  Status reset_delay(const std::string& id);

  // --- groups (Marathon v2, docs/compatibility.md §2.9) ---
  // Applies `update` to its group's subtree, creating the group when missing (kConflict when
  // `create` and it exists). A `version` in it rolls the subtree back to that stored version; a
  // `scaleBy` scales every app in it. With `dry_run` set, nothing changes: it receives the
  // deployment's steps.
  Result<DeploymentRef> change_group(const model::GroupUpdate& update, bool create, bool force,
                                     nlohmann::json* dry_run = nullptr);
  // Stops every app of the subtree (dependents first) and forgets its groups; "/" clears all.
  Result<DeploymentRef> delete_group(const std::string& id, bool force);
  Result<std::vector<std::string>> group_versions(const std::string& id);
  // The subtree as stored at `version`: {id, apps: [definitions], groups: [{id, dependencies}]}.
  Result<nlohmann::json> group_version(const std::string& id, const std::string& version);
  // DELETE /v2/deployments/{id}: without `force`, a new forced deployment that puts back what
  // this one changed (its reference is returned); with it, the deployment just ends (nullopt).
  Result<std::optional<DeploymentRef>> cancel_deployment(const std::string& id, bool force);

  // --- callback subscribers (Marathon's /v2/eventSubscriptions, docs/compatibility.md §2.6) ---
  // Stored, so they outlive a restart. Adding a URL twice or removing an unknown one changes
  // nothing. kInvalidArgument for a URL that is not http:// or https://, or past
  // kMaxEventCallbacks.
  static constexpr size_t kMaxEventCallbacks = 32;
  Status add_event_callback(const std::string& url);
  Status remove_event_callback(const std::string& url);
  std::vector<std::string> event_callbacks() const;

  // Everything the master keeps in its store (apps, versions, groups, deployments, datasets,
  // tokens, subscriptions), read in one list under the master's lock, so no write of this
  // master falls inside it: what `berth backup` saves (docs/architecture.md §5).
  Result<std::vector<KeyValue>> stored_state();
  // The bus subscription the callbacks are delivered from: taken when the first subscriber is
  // added (so nothing after the answer is missed) and given up with the last; nullptr without
  // subscribers. A subscription the bus dropped (it fell behind) is replaced by a new one.
  std::shared_ptr<EventSubscription> callback_events();

  // Read access for the API's JSON views, under the lock.
  void read(const std::function<void(const MasterState&)>& reader) const;
  // Between two reads of a long answer given in batches (GET /v2/apps): returns once no thread
  // waits for the state lock, or after `limit`, so that heartbeats, the controller and writes
  // are not held up behind the whole answer (docs/architecture.md §4).
  void let_waiters_go(std::chrono::milliseconds limit = std::chrono::milliseconds(20)) const;
  // The same, with the leases (for the metrics' lease gauges).
  void read_with_leases(
      const std::function<void(const MasterState&, const lease::MasterLeases&)>& reader) const;
  // The deployment ids that lock app `id`.
  std::vector<std::string> deployments_of(const MasterState& state, const std::string& id) const;

  // --- datasets (docs/compatibility.md §3, docs/fencing.md §4); `if_tag` empty = unconditional ---
  Result<model::Dataset> create_dataset(const nlohmann::json& body, const std::string& if_tag);
  Result<model::Dataset> update_dataset(const std::string& id, const nlohmann::json& body,
                                        const std::string& if_tag);
  Result<model::Dataset> delete_dataset(const std::string& id, const std::string& if_tag);
  // X-Configuration-Tag: a digest of every dataset's configuration.
  std::string configuration_tag(const MasterState& state) const;

  // Marks a node draining: nothing new is placed there and its tasks move elsewhere (with
  // their datasets). kNotFound for an unknown node.
  Status drain_node(const std::string& agent_id, bool drain);
  // The names of external volumes of `app` that another app already uses, for a 422.
  std::vector<std::string> volume_conflicts(const model::App& app) const;

  // --- agents (docs/protocol.md) ---
  Result<protocol::RegisterResponse> register_agent(const protocol::RegisterRequest& request);
  // Renews the agent's lease on the lease desk at once (docs/fencing.md §9), then takes its
  // reports and answers with its dataset assignments if the state lock comes free within
  // heartbeat_lock_budget less `waited` (how long the request waited for a thread); else the
  // answer renews the lease alone (HeartbeatAck::lease_only).
  // kNotFound for an agent that must register (again), kPermissionDenied for a wrong `secret`.
  Result<protocol::HeartbeatAck> heartbeat(
      const std::string& agent_id, const std::string& secret, const protocol::Heartbeat& hb,
      std::chrono::milliseconds waited = std::chrono::milliseconds(0));
  Result<protocol::StatusAck> status(const std::string& agent_id,
                                     const protocol::StatusBatch& batch);
  // The commands with seq > after (at most 1000), waiting up to `wait` for some, on this
  // thread; an empty batch when none came. kNotFound for an agent that must register (again);
  // kInvalidArgument when `after` is beyond the last command sent: reading never consumes
  // commands the agent has not executed.
  Result<protocol::CommandBatch> commands(const std::string& agent_id, uint64_t after,
                                          std::chrono::milliseconds wait);
  // The same long poll holding no thread (docs/protocol.md §5). Answers `waiter` before it
  // returns when there are commands with seq > after, on an error, or after shutdown();
  // otherwise parks it until a command is queued for the agent, the agent is lost or must
  // register again (kNotFound), it registers again (an empty batch: the poll was of its
  // previous registration), shutdown() (what is queued), or kMaxPollsPerAgent later polls of
  // the agent push it out (an empty batch). The caller ends the wait: a waiter is dropped
  // unanswered once it is abandoned. Answers are given on the thread that caused them, after
  // it released the master's lock.
  static constexpr size_t kMaxPollsPerAgent = CommandWaiters::kPerAgent;
  void poll_commands(const std::string& agent_id, uint64_t after, CommandWaiter waiter);
  // Polls parked by poll_commands(), abandoned ones included until they are dropped.
  size_t parked_polls() const;
  // Whether `secret` is the credential of agent `agent_id`'s current registration (compared in
  // constant time). kPermissionDenied when it is not; kNotFound for an unknown or lost agent.
  Status authenticate_agent(const std::string& agent_id, const std::string& secret) const;
  // The id of the registered agent whose credential is `secret`, or "" (agents call the
  // dataset API with it: the Docker volume plugin).
  std::string agent_with_secret(const std::string& secret) const;

  // One controller pass, called every 50 ms: lost agents and unconfirmed launches every time;
  // app plans, placement, routes and deployments when the state changed since they last ran,
  // when the last plan acted, when a backoff it waits out ends, and at least every
  // kPlanInterval (docs/architecture.md §4).
  void reconcile();
  static constexpr std::chrono::milliseconds kPlanInterval{1000};
  // Answers every command long poll and closes every event stream (used at shutdown).
  void shutdown();

  // --- events (GET /v2/events, docs/compatibility.md §2.6) ---
  // The bus SSE connections subscribe to. MasterCore publishes status updates, deployment
  // and health changes and app terminations on it itself.
  EventBus& events() { return events_; }
  // Publishes `event` (a JSON object with the event's own fields) as `type`, adding
  // Marathon's `eventType` and `timestamp`. For events the API layer knows best
  // (api_post_event, event_stream_attached/detached). Does nothing without subscribers.
  void publish_event(const std::string& type, const nlohmann::json& event);

 private:
  void note(const std::string& line) const {
    if (options_.log) options_.log(line);
  }
  // "hostname (agent id)" for log lines; the id alone for an unknown agent.
  std::string node_name(const std::string& agent_id) const;
  // The Store keys of app `id`'s versions, oldest first.
  std::vector<std::string> stored_versions(const std::string& id);
  // Commits `app` as the new current version (plus a version record and a deployment) and
  // only then updates memory. `action` empty: derived (start, scale or restart).
  Result<DeploymentRef> persist_app_change(const model::App& app, const std::string& action,
                                           bool force);
  // Plans, commits and applies the change of subtree `target.group` to `target`
  // (master/groups.cpp).
  Result<DeploymentRef> persist_group_change(const GroupTarget& target, bool force,
                                             nlohmann::json* dry_run);
  // Takes a heartbeat's dataset reports: attaches and releases, ended grants, local moves
  // finished, launches that were waiting for them. Whether they differ from the last ones.
  bool take_dataset_reports(AgentRecord& agent, const protocol::Heartbeat& hb);
  // A heartbeat's first forwards of its service router: the "routed" phase of failovers.
  void take_routed_reports(const std::vector<protocol::RoutedBackend>& routed);
  // A registering agent's report of its tasks: adopts what desired state still wants, stops
  // the rest, and ends the tasks placed there that it no longer has. Returns how many it runs.
  size_t adopt_reported_tasks(AgentRecord& agent, const std::vector<protocol::TaskReport>& tasks);
  void enqueue(AgentRecord& agent, protocol::Command command);
  // The answer to a poll of `agent_id` for the commands after `after` if it has one now:
  // commands, an error, or an empty batch at shutdown; nullopt while it should wait. Drops
  // the commands up to `after` from the outbox (the agent ran them).
  std::optional<Result<protocol::CommandBatch>> commands_now(const std::string& agent_id,
                                                             uint64_t after);
  // Called as mu_ is released (StateMutex): answers the polls that enqueue(), lose_agent() or
  // shutdown() woke, once mu_ is free (master/command_polls.cpp).
  void answer_woken_polls();
  // Gives `waiter` its `answer` once mu_ is released; under mu_.
  void answer_after_release(CommandWaiter waiter, Result<protocol::CommandBatch> answer);
  void request_kill(TaskRecord& task);
  void record_terminal(TaskRecord& task, protocol::TaskState state, const std::string& message);
  std::string new_version();
  Status check_tag(const std::string& if_tag) const;
  // Adds or replaces a dataset in memory and its assignment in the leases.
  void keep_dataset(const model::Dataset& dataset);
  Result<model::Dataset> persist_dataset(model::Dataset dataset);
  // Ends the copies of local datasets that `agent_id` now reports attached at their epoch:
  // the source's copy is no longer needed and is destroyed.
  void finish_local_moves(const std::string& agent_id);
  // Sends an agent its assignments now (a "datasets" command) instead of with the next
  // heartbeat answer.
  void push_assignments(const std::string& agent_id);
  // Sends the launches whose datasets are now attached (master/plan.h ready_launches).
  void send_ready_launches();
  // The shell of reconcile(): applies what master/plan.h decided.
  void lose_agent(const std::string& id, MonoTime now);
  // Stretches or shrinks the timing with the fleet (docs/fencing.md §10): a longer lease is
  // stored as the ceiling before any answer grants it; the ceiling comes down, and the leases
  // are judged by the shorter timing, once every longer lease granted has run out.
  void adjust_fleet_timing(MonoTime now);
  // Stores the longest timing whose leases may run ("/leaseCeiling").
  Status store_lease_ceiling(const lease::LeaseOptions& timing);
  Result<lease::LeaseOptions> load_lease_ceiling(const lease::LeaseOptions& base);
  void fail_unconfirmed_launch(const std::string& task_id);
  // Failover records (master/failovers.h, master_failovers.cpp): opens the record of agent
  // `id` declared lost at `now` (before its tasks end), and logs and measures phases reached.
  void record_failover(const std::string& id, MonoTime now);
  void failover_phases(const std::vector<PhaseReached>& reached);
  void apply_app_decisions(const AppDecisions& apps);
  // Moves the deployments whose current step converged on to their next step, or ends them;
  // whether any moved.
  bool advance_deployments();
  void apply_placement(const PlacementPlan& plan);
  // Service routing (docs/architecture.md §7): the table of service ports -> healthy tasks
  // (master/plan.h), pushed to every agent whenever it changes (and to one that registers).
  void push_routes_if_changed();
  void push_routes(AgentRecord& agent);
  // Event publishing (master_events.cpp); each is a no-op without subscribers.
  void publish_status_update(const TaskRecord& task, protocol::TaskState state,
                             const std::string& message);
  void publish_health_change(const TaskRecord& task, bool alive);
  // berth_node_changed: `agent` registered, was declared lost, drained or undrained.
  void publish_node_change(const AgentRecord& agent);
  // deployment_info (started), deployment_success or deployment_failed (`reason` set).
  void publish_deployment(const std::string& type, const DeploymentRecord& deployment,
                          const std::string& reason = "");
  // Publishes deployment_failed for each deployment erased by a forced change in `ops`, and
  // forgets it.
  void drop_overridden_deployments(const std::vector<StoreOp>& ops);

  MasterOptions options_;
  Store& store_;
  Clock& clock_;
  IdSource& ids_;
  // Timed, so that a heartbeat can give up waiting for it (heartbeat()); answers woken polls
  // as it is released.
  mutable StateMutex mu_;
  CommandWaiters waiters_;  // under mu_
  MasterState state_;
  // The only authority on lost agents, epochs and who may attach a dataset: the lease
  // protocol's master half (docs/fencing.md §3, §4), started again by load().
  lease::MasterLeases leases_;
  // Heartbeats renew leases here without the state lock; reconcile() settles it (lease_desk.h).
  lease::LeaseDesk desk_;
  // The timing the answers grant now (read by heartbeats before they take the lock), the
  // stored ceiling that leases_ judges by, and when the granted timing last came down.
  std::atomic<int64_t> granted_interval_ms_{0};
  std::atomic<int64_t> granted_lease_ms_{0};
  lease::LeaseOptions ceiling_;  // under mu_
  MonoTime lowered_at_{};        // under mu_
  size_t fleet_ = 0;             // agents registered and not lost, as last counted; under mu_
  bool fleet_changed_ = true;    // an agent registered or was lost since; under mu_
  bool shutting_down_ = false;
  WallTime last_version_{};
  // The state lock's change count when the controller last planned, and when it plans again
  // without one (reconcile()).
  uint64_t planned_changes_ = 0;
  MonoTime next_plan_at_{};
  // When reconcile() next looks for unconfirmed launches: their timeout is minutes by default,
  // so at most every kPlanInterval (or the timeout, if shorter), not on every pass.
  MonoTime next_launch_check_{};
  std::string routes_;  // the last routing table pushed, JSON text
  uint64_t routes_version_ = 0;
  EventBus events_;
  std::shared_ptr<EventSubscription> callback_events_;  // under mu_
};

}  // namespace berth::master
