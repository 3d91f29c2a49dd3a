// The agent side of MasterCore: registration with reconciliation, heartbeats, status
// updates and the command outbox (docs/protocol.md).
#include <algorithm>
#include <set>

#include "base/secret.h"
#include "json/bounded.h"
#include "master/master_core.h"
#include "master/plan.h"
#include "metrics/registry.h"

namespace berth::master {

void MasterCore::enqueue(AgentRecord& agent, protocol::Command command) {
  if (agent.must_register) return;  // its registration will be its truth
  // "datasets" and "routes" carry the whole desired state: a newer one replaces any the agent
  // has not fetched yet, so the outbox grows with the cluster, not with its history.
  if (command.as<protocol::DatasetsCommand>() || command.as<protocol::RoutesCommand>()) {
    std::erase_if(agent.outbox, [&](const protocol::Command& queued) {
      return queued.body.index() == command.body.index();
    });
  }
  if (agent.outbox.size() >= options_.max_outbox) {
    // An agent this far behind is not polling: forget the backlog and have it register again
    // (registration reconciles every task and dataset), rather than grow without bound.
    agent.outbox.clear();
    agent.must_register = true;
    desk_.close(agent.id);
    waiters_.wake(agent.id);  // they learn that it must register
    return;
  }
  command.seq = agent.next_seq++;
  command.command_id = ids_.uuid();
  if (const auto* launch = command.as<protocol::LaunchCommand>()) {
    note("task " + launch->spec.task_id + ": launch sent to " + node_name(agent.id));
  } else if (const auto* kill = command.as<protocol::KillCommand>()) {
    note("task " + kill->task_id + ": kill sent to " + node_name(agent.id));
  }
  agent.outbox.push_back(std::move(command));
  waiters_.wake(agent.id);  // answered as mu_ is released
}

std::string MasterCore::node_name(const std::string& agent_id) const {
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end() || it->second.hostname.empty()) return agent_id;
  return it->second.hostname + " (" + agent_id + ")";
}

namespace {

// What the lease desk's verdict on an agent's credential means to the caller.
Status desk_verdict(lease::LeaseDesk::Renewal verdict, const std::string& agent_id) {
  switch (verdict) {
    case lease::LeaseDesk::Renewal::kUnknown:
      return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id + ": register again");
    case lease::LeaseDesk::Renewal::kDenied:
      return make_error(ErrorCode::kPermissionDenied, "this call for agent " + agent_id +
                                                          " does not carry the agent's credential");
    case lease::LeaseDesk::Renewal::kRenewed:
      break;
  }
  return {};
}

}  // namespace

Status MasterCore::authenticate_agent(const std::string& agent_id,
                                      const std::string& secret) const {
  // The desk holds each registration's credential and whether it is in force (lost agents
  // and those that must register again are closed there), so no call waits for the state lock.
  return desk_verdict(desk_.check(agent_id, secret), agent_id);
}

std::string MasterCore::agent_with_secret(const std::string& secret) const {
  if (secret.empty()) return "";
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    mu_.unchanged();
    for (const auto& [id, agent] : state_.agents) {
      if (!agent.lost && agent.secret.size() == secret.size()) ids.push_back(id);
    }
  }
  for (const auto& id : ids) {
    if (authenticate_agent(id, secret)) return id;
  }
  return "";
}

void MasterCore::request_kill(TaskRecord& task) {
  auto agent = state_.agents.find(task.agent_id);
  task.kill_requested = true;
  if (agent == state_.agents.end() || agent->second.lost) return;
  int64_t grace_ms = 3000;
  auto app = state_.apps.find(task.app_id);
  if (app != state_.apps.end() && app->second.app.task_kill_grace_period_seconds) {
    grace_ms = static_cast<int64_t>(*app->second.app.task_kill_grace_period_seconds * 1000);
  }
  protocol::Command kill;
  kill.body = protocol::KillCommand{task.id, grace_ms};
  enqueue(agent->second, std::move(kill));
}

void MasterCore::record_terminal(TaskRecord& task, protocol::TaskState state,
                                 const std::string& message) {
  auto app = state_.apps.find(task.app_id);
  bool failure = state == protocol::TaskState::kFailed || state == protocol::TaskState::kFinished;
  if (app != state_.apps.end() && failure && !task.kill_requested) {
    AppRecord& record = app->second;
    control::BackoffPolicy policy{record.app.backoff_seconds, record.app.backoff_factor,
                                  record.app.max_launch_delay_seconds};
    int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.mono_now().time_since_epoch())
            .count();
    record.backoff = control::backoff_after_failure(record.backoff, policy, now_ms);
    record_node_failure(record, task.agent_id, clock_.wall_now());
    auto agent = state_.agents.find(task.agent_id);
    record.last_failure = TaskFailure{task.id,
                                      task.host,
                                      message,
                                      state,
                                      format_iso8601(clock_.wall_now()),
                                      task.version,
                                      agent == state_.agents.end() ? task.agent_id : agent->first};
  }
  publish_status_update(task, state, message);
  state_.tasks.erase(task.id);
}

size_t MasterCore::adopt_reported_tasks(AgentRecord& agent,
                                        const std::vector<protocol::TaskReport>& tasks) {
  TaskAdoption plan = plan_task_adoption(state_, agent, tasks);
  for (const auto& report : plan.known) {
    TaskRecord& task = state_.tasks.at(report.task_id);
    task.state = report.state;
    task.launch_sent_at.reset();
    task.agent_id = agent.id;
  }
  for (auto& task : plan.adopted) state_.tasks.emplace(task.id, std::move(task));
  for (const auto& tid : plan.kill) {
    auto task = state_.tasks.find(tid);
    if (task != state_.tasks.end()) {
      request_kill(task->second);
    } else {
      protocol::Command kill;  // a task given up when the agent was lost: not ours any more
      kill.body = protocol::KillCommand{tid, 0};
      enqueue(agent, std::move(kill));
    }
  }
  for (const auto& tid : plan.vanished) {
    record_terminal(state_.tasks.at(tid), protocol::TaskState::kLost,
                    "not reported by its agent on re-registration");
  }
  return plan.running;
}

Result<protocol::RegisterResponse> MasterCore::register_agent(
    const protocol::RegisterRequest& request) {
  std::lock_guard lock(mu_);
  if (request.token != options_.join_token) {
    return make_error(ErrorCode::kPermissionDenied, "invalid join token");
  }
  std::string id = request.agent_id.empty() ? ids_.uuid() : request.agent_id;
  auto before = state_.agents.find(id);
  // A registration older than a heartbeat already taken from the same agent process is a late
  // copy of an earlier attempt: it must not replace the registration in force.
  if (before != state_.agents.end() && !before->second.lost && !before->second.must_register &&
      !request.agent_id.empty() && request.heartbeat_seq > 0 &&
      request.heartbeat_seq < leases_.report_seq(id)) {
    return make_error(ErrorCode::kConflict, "registration of agent " + id +
                                                " predates its heartbeat " +
                                                std::to_string(leases_.report_seq(id)) +
                                                ": a newer registration is in force");
  }
  const char* again = before == state_.agents.end() ? ""
                      : before->second.lost         ? " again after being lost"
                                                    : " again";
  AgentRecord& agent = state_.agents[id];
  agent.id = id;
  agent.hostname = request.hostname;
  agent.address = request.address.empty() ? request.hostname : request.address;
  agent.http_port = request.http_port;
  agent.http_tls = request.http_tls;
  agent.resources = request.resources;
  agent.attributes = request.attributes;
  agent.registered_at = clock_.wall_now();
  agent.last_heartbeat = clock_.mono_now();
  agent.last_heartbeat_wall = clock_.wall_now();
  agent.lost = false;
  fleet_changed_ = true;
  agent.must_register = false;
  agent.secret = ids_.secret();
  agent.outbox.clear();  // the agent's report below is the truth from here on
  // Polls of the previous registration learn nothing of this one's commands.
  for (auto& parked : waiters_.take(id)) {
    answer_after_release(std::move(parked.waiter), protocol::CommandBatch{});
  }
  // Heartbeats are numbered per agent process: this registration starts from its count. Grants
  // from answers the process never sent for belong to a process that is gone.
  leases_.on_registered(id, request.heartbeat_seq, agent.last_heartbeat);
  desk_.admit(id, agent.secret, agent.last_heartbeat);
  // Commands queued from here on (kills of tasks nobody wants, the routing table) are new to
  // the agent: it asks for those after this sequence number.
  const uint64_t seen_up_to = agent.next_seq - 1;

  size_t reported = adopt_reported_tasks(agent, request.tasks);
  agent.lost_task_ids.clear();
  note("agent " + id + " registered" + again + ": " + agent.hostname + " at " + agent.address +
       ", reporting " + std::to_string(reported) + " task(s)");
  publish_node_change(agent);
  if (!routes_.empty()) push_routes(agent);
  protocol::RegisterResponse response;
  response.agent_id = id;
  response.heartbeat_interval_ms = granted_interval_ms_.load();
  response.lease_ms = granted_lease_ms_.load();
  response.next_command_seq = seen_up_to;
  response.agent_secret = agent.secret;
  return response;
}

Result<protocol::HeartbeatAck> MasterCore::heartbeat(const std::string& agent_id,
                                                     const std::string& secret,
                                                     const protocol::Heartbeat& hb,
                                                     std::chrono::milliseconds waited) {
  // The lease first, on the desk: nothing the state lock waits for delays it.
  const MonoTime arrived = clock_.mono_now();
  if (Status renewed = desk_verdict(desk_.renew(agent_id, secret, arrived), agent_id); !renewed)
    return renewed.error();
  protocol::HeartbeatAck ack{hb.seq, granted_lease_ms_.load(), {}};
  ack.heartbeat_interval_ms = granted_interval_ms_.load();
  std::unique_lock lock(mu_, std::defer_lock);
  // The budget counts from the request's arrival: a heartbeat that waited for a thread behind
  // others' waits is answered no later than they are (docs/protocol.md §5).
  const bool full = lock.try_lock_for(
      std::max(options_.heartbeat_lock_budget - waited, std::chrono::milliseconds(0)));
  if (options_.metrics) {
    options_.metrics->observe(metrics::Metric::kHeartbeatLockWait, {full ? "full" : "lease_only"},
                              clock_.mono_now() - arrived);
  }
  if (!full) {
    // Its reports wait for the next heartbeat; its assignments stand as last answered.
    ack.lease_only = true;
    return ack;
  }
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end() || it->second.lost || it->second.must_register) {
    return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id + ": register again");
  }
  it->second.last_heartbeat = std::max(it->second.last_heartbeat, arrived);
  leases_.on_heartbeat_received(agent_id, arrived);
  it->second.last_heartbeat_wall = clock_.wall_now();
  publish_event("berth_node_heartbeat", {{"nodeId", agent_id}});
  // One older than a heartbeat already taken (reordered or retried) proves the agent alive,
  // but its reports may predate an attach, so they are not taken (docs/fencing.md §4).
  bool changed = take_dataset_reports(it->second, hb);
  take_routed_reports(hb.routed);
  if (it->second.busy_ports != hb.busy_ports) {
    note("agent " + agent_id + " (" + it->second.hostname +
         "): " + std::to_string(hb.busy_ports.size()) +
         " port(s) of its range held by something other than its tasks; none is given out there");
    it->second.busy_ports = hb.busy_ports;
    changed = true;
  }
  // Most heartbeats report what the last one did: the controller has nothing new to plan.
  if (!changed) mu_.unchanged();
  ack.datasets = assignments_for(state_, leases_, agent_id, clock_.mono_now());
  for (const auto& a : ack.datasets) {
    if (a.attach) leases_.on_granted(a.dataset_id, agent_id, hb.seq);
  }
  return ack;
}

// The most first-forwards one heartbeat is taken for (an agent sends at most 1,000).
constexpr size_t kMaxRoutedReports = 1000;

void MasterCore::take_routed_reports(const std::vector<protocol::RoutedBackend>& routed) {
  if (routed.empty()) return;  // the usual case: nothing new was forwarded to
  WallTime wall = clock_.wall_now();
  MonoTime mono = clock_.mono_now();
  // An agent reports at most 1,000 (docs/protocol.md §3); more is not an agent of ours, and
  // each costs a scan of the tasks under the master's lock.
  size_t taken = 0;
  for (const auto& r : routed) {
    if (++taken > kMaxRoutedReports) break;
    auto ago = std::chrono::milliseconds(std::clamp<int64_t>(r.ago_ms, 0, 60000));
    for (const auto& [tid, task] : state_.tasks) {
      if (task.host != r.host ||
          std::find(task.ports.begin(), task.ports.end(), r.port) == task.ports.end())
        continue;
      auto reached = state_.failovers.task_routed(tid, wall - ago, mono - ago);
      if (!reached.empty()) failover_phases(reached);
      break;
    }
  }
}

namespace {

// What the controller plans from in a dataset report.
bool same_reports(const std::vector<protocol::DatasetReport>& a,
                  const std::vector<protocol::DatasetReport>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.dataset_id == y.dataset_id && x.attached == y.attached && x.epoch == y.epoch &&
           x.in_use == y.in_use && x.local_copy == y.local_copy && x.error == y.error &&
           x.path == y.path && x.driver == y.driver;
  });
}

}  // namespace

bool MasterCore::take_dataset_reports(AgentRecord& agent, const protocol::Heartbeat& hb) {
  const std::string& agent_id = agent.id;
  // A dataset this agent just released may be waiting for its new primary: tell it now.
  // Sets, not nested scans: an agent may report thousands of datasets twice a second.
  std::set<std::string> attached_now;
  for (const auto& now : hb.datasets) {
    if (now.attached) attached_now.insert(now.dataset_id);
  }
  if (!leases_.on_report(agent_id, hb.seq, attached_now, hb.applied_seq)) return false;
  const bool changed = !same_reports(agent.datasets, hb.datasets);
  std::set<std::string> released, attached_before;
  for (const auto& before : agent.datasets) {
    if (!before.attached) continue;
    attached_before.insert(before.dataset_id);
    if (!attached_now.count(before.dataset_id)) released.insert(before.dataset_id);
  }
  for (const auto& now : hb.datasets) {
    if (now.attached && !attached_before.count(now.dataset_id)) {
      note("dataset " + now.dataset_id + " attached on " + node_name(agent_id) + " at epoch " +
           std::to_string(now.epoch));
      failover_phases(state_.failovers.dataset_attached(now.dataset_id, agent_id, now.epoch,
                                                        clock_.wall_now(), clock_.mono_now()));
      publish_event("berth_dataset_changed", {{"datasetId", now.dataset_id}});
    }
  }
  for (const auto& id : released) {
    note("dataset " + id + " released by " + node_name(agent_id));
    publish_event("berth_dataset_changed", {{"datasetId", id}});
  }
  agent.datasets = hb.datasets;
  finish_local_moves(agent_id);
  for (const auto& id : released) {
    auto d = state_.datasets.find(id);
    if (d != state_.datasets.end() && !d->second.primary.empty() && d->second.primary != agent_id) {
      push_assignments(d->second.primary);
    }
  }
  // A task waiting for a dataset this report shows attached starts now, not at the next pass.
  send_ready_launches();
  return changed;
}

Result<protocol::StatusAck> MasterCore::status(const std::string& agent_id,
                                               const protocol::StatusBatch& batch) {
  std::lock_guard lock(mu_);
  auto agent = state_.agents.find(agent_id);
  if (agent == state_.agents.end() || agent->second.lost || agent->second.must_register) {
    return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id + ": register again");
  }
  protocol::StatusAck ack;
  for (const auto& update : batch.updates) {
    ack.acked.push_back(update.update_id);
    auto it = state_.tasks.find(update.task_id);
    if (it == state_.tasks.end()) {
      // Not ours (any more): make sure it does not keep running.
      if (!protocol::is_terminal(update.state)) {
        protocol::Command kill;
        kill.body = protocol::KillCommand{update.task_id, 0};
        enqueue(agent->second, std::move(kill));
      }
      continue;
    }
    TaskRecord& task = it->second;
    if (task.agent_id != agent_id) continue;
    task.launch_sent_at.reset();
    if (protocol::is_terminal(update.state)) {
      record_terminal(task, update.state, update.message);
      continue;
    }
    if (task.state != update.state) publish_status_update(task, update.state, update.message);
    task.state = update.state;
    if (update.ready != 1) task.message = update.message;  // a readiness report says nothing
    if (update.ready == 1) task.ready = true;
    if (update.state == protocol::TaskState::kRunning && !task.started_at) {
      failover_phases(state_.failovers.task_running(task.id, task.app_id, agent_id, task.staged_at,
                                                    clock_.wall_now(), clock_.mono_now()));
    }
    if (update.health >= 0) {
      bool alive = update.health == 1;
      if (alive && task.healthy != true) {
        failover_phases(
            state_.failovers.task_healthy(task.id, clock_.wall_now(), clock_.mono_now()));
      }
      if (task.healthy != alive) publish_health_change(task, alive);
      task.healthy = alive;
    }
    if (!update.health_results.empty()) {
      // Kept as text and shown in /v2 answers: only a shallow, bounded array is taken.
      auto results = json::parse(update.health_results, json::Limits{8, 64 << 10});
      if (results && results->is_array()) task.health_results = update.health_results;
    }
    if (update.state == protocol::TaskState::kRunning && !task.started_at) {
      WallTime at;
      task.started_at = parse_iso8601(update.timestamp, &at) ? at : clock_.wall_now();
    }
  }
  return ack;
}

}  // namespace berth::master
