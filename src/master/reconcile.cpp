// MasterCore::reconcile: the controller pass, the shell of the plan loop (docs/architecture.md
// §4). Each step asks a pure function of master/plan.h what to do and applies its answer:
// store writes first, then memory, agent commands and events.
#include <nlohmann/json.hpp>

#include "master/master_core.h"
#include "master/plan.h"
#include "metrics/registry.h"

namespace berth::master {
namespace {

int64_t to_ms(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

void MasterCore::reconcile() {
  std::lock_guard lock(mu_);
  mu_.unchanged();  // what this pass does is weighed below
  const auto started = std::chrono::steady_clock::now();
  MonoTime now = clock_.mono_now();
  // 0. The fleet's timing follows its size (docs/fencing.md §10).
  adjust_fleet_timing(now);
  // 1. Agents that stopped heartbeating are lost, and their tasks with them; launches the
  // agent never confirmed fail and are replaced.
  // Heartbeats stamped on the desk since the last pass count before anyone is declared lost.
  auto lost = desk_.settle(
      [&](const std::string& agent, MonoTime at) {
        leases_.on_heartbeat_received(agent, at);
        auto found = state_.agents.find(agent);
        if (found != state_.agents.end())
          found->second.last_heartbeat = std::max(found->second.last_heartbeat, at);
      },
      [&] { return leases_.declare_lost(now); });
  bool acted = !lost.empty();
  for (const auto& id : lost) lose_agent(id, now);
  if (now >= next_launch_check_) {
    next_launch_check_ =
        now + std::min<std::chrono::milliseconds>(kPlanInterval, options_.task_launch_timeout);
    for (const auto& tid : unconfirmed_launches(state_, now, options_.task_launch_timeout)) {
      fail_unconfirmed_launch(tid);
      acted = true;
    }
  }
  // 2. After a restart, wait for agents to re-register before changing anything.
  if (leases_.in_restart_grace(now)) return;
  // Steps 3 and 4 cost a pass over every app and task: they run when something changed since
  // they last ran (docs/architecture.md §4, "planning on change").
  if (!acted && mu_.changes() == planned_changes_ && now < next_plan_at_) {
    if (options_.metrics) {
      options_.metrics->observe(metrics::Metric::kReconcilePass, {"leases"},
                                std::chrono::steady_clock::now() - started);
    }
    return;
  }
  next_plan_at_ = now + kPlanInterval;
  // 3. Per app: kills and launches.
  AppDecisions apps = decide_apps(state_, to_ms(now));
  apply_app_decisions(apps);
  acted = acted || !apps.kill.empty() || !apps.erase.empty();
  if (!apps.launch.empty()) {
    PlacementPlan placement = plan_placement(state_, leases_, apps.launch, ids_, clock_.wall_now());
    acted = acted || !placement.tasks.empty();
    apply_placement(placement);
  }
  // An app waiting out a launch backoff is planned again as the backoff ends.
  for (const auto& [app_id, count] : apps.waiting) {
    MonoTime ends{std::chrono::milliseconds(state_.apps[app_id].backoff.next_launch_ms)};
    next_plan_at_ = std::min(next_plan_at_, ends);
  }
  send_ready_launches();
  push_routes_if_changed();
  // 4. Deployments go on to their next step once the apps of the current one have converged,
  // and are done after the last.
  acted = advance_deployments() || acted;
  // A plan that acted changed the state: the next pass plans again, as it would for a change
  // from outside.
  planned_changes_ = mu_.changes() - (acted ? 1 : 0);
  if (options_.metrics) {
    options_.metrics->observe(metrics::Metric::kReconcilePass, {"plan"},
                              std::chrono::steady_clock::now() - started);
  }
}

bool MasterCore::advance_deployments() {
  bool advanced = false;
  for (const auto& progress : deployment_progress(state_)) {
    advanced = true;
    DeploymentRecord& deployment = state_.deployments[progress.id];
    if (progress.finished) {
      if (!store_.erase(deployment_key(progress.id)).ok()) continue;
      publish_deployment("deployment_step_success", deployment);
      publish_deployment("deployment_success", deployment);
      note("deployment " + progress.id + " done");
      state_.deployments.erase(progress.id);
      continue;
    }
    DeploymentRecord next = deployment;
    next.current_step = progress.next_step;
    if (!store_.put(deployment_key(progress.id), deployment_json(next)).ok()) continue;
    publish_deployment("deployment_step_success", deployment);
    deployment = std::move(next);
    note("deployment " + progress.id + ": step " + std::to_string(deployment.current_step + 1) +
         " of " + std::to_string(deployment.steps.size()));
  }
  return advanced;
}

void MasterCore::lose_agent(const std::string& id, MonoTime now) {
  auto found = state_.agents.find(id);
  if (found == state_.agents.end()) return;
  AgentRecord& agent = found->second;
  agent.lost = true;
  fleet_changed_ = true;
  agent.outbox.clear();
  waiters_.wake(id);  // its polls are answered "register again"
  std::vector<std::string> gone;
  for (const auto& [tid, task] : state_.tasks) {
    if (task.agent_id == id) gone.push_back(tid);
  }
  note("agent " + id + " (" + agent.hostname + ") lost: last heartbeat " +
       std::to_string(
           std::chrono::duration_cast<std::chrono::milliseconds>(now - agent.last_heartbeat)
               .count()) +
       " ms ago (lost after " + std::to_string(leases_.options().lost_after().count()) + " ms); " +
       std::to_string(gone.size()) + " task(s) on it are lost");
  record_failover(id, now);
  publish_node_change(agent);
  for (const auto& tid : gone) {
    record_terminal(state_.tasks[tid], protocol::TaskState::kLost, "agent " + id + " lost");
    if (agent.lost_task_ids.size() < 100000) agent.lost_task_ids.insert(tid);
  }
}

void MasterCore::fail_unconfirmed_launch(const std::string& tid) {
  TaskRecord& task = state_.tasks[tid];
  // The agent is told to kill the task in case it does run it.
  auto agent = state_.agents.find(task.agent_id);
  if (agent != state_.agents.end() && !agent->second.lost) {
    protocol::Command kill;
    kill.body = protocol::KillCommand{tid, 0};
    enqueue(agent->second, std::move(kill));
  }
  record_terminal(task, protocol::TaskState::kFailed,
                  "agent " + task.agent_id + " did not confirm the launch within " +
                      std::to_string(options_.task_launch_timeout.count()) + " ms");
}

void MasterCore::apply_app_decisions(const AppDecisions& apps) {
  for (const auto& tid : apps.kill) request_kill(state_.tasks[tid]);
  for (const auto& app_id : apps.satisfied) state_.apps[app_id].queue.reset();
  for (const auto& [app_id, count] : apps.waiting) {
    AppRecord& record = state_.apps[app_id];
    if (!record.queue) record.queue = QueueInfo{count, clock_.wall_now(), {}, {}, 0};
  }
  for (const auto& id : apps.erase) {
    state_.apps.erase(id);
    publish_event("app_terminated_event", {{"appId", id}});
  }
  // A task waiting for its datasets that was killed never started: it is simply gone.
  for (const auto& tid : unlaunched_kills(state_)) state_.tasks.erase(tid);
}

void MasterCore::apply_placement(const PlacementPlan& plan) {
  for (const auto& [app_id, queue] : plan.queue) state_.apps[app_id].queue = queue;
  for (const auto& placed : plan.tasks) {
    if (placed.failure) {
      auto [it, inserted] = state_.tasks.emplace(placed.task.id, placed.task);
      if (inserted) record_terminal(it->second, protocol::TaskState::kFailed, *placed.failure);
      continue;
    }
    bool stored = true;
    for (const auto& moved : placed.moves) {
      if (!persist_dataset(moved)) {
        stored = false;  // tried again next pass
        break;
      }
    }
    if (!stored) continue;
    TaskRecord task = placed.task;
    if (placed.launch) {
      protocol::Command launch;
      launch.body = protocol::LaunchCommand{*placed.launch};
      enqueue(state_.agents.at(task.agent_id), std::move(launch));
      task.launch_sent_at = clock_.mono_now();
    } else {
      state_.tasks_pending_launch.insert(task.id);
    }
    state_.tasks.emplace(task.id, std::move(task));
  }
}

void MasterCore::send_ready_launches() {
  std::erase_if(state_.tasks_pending_launch, [&](const std::string& tid) {
    auto task = state_.tasks.find(tid);
    return task == state_.tasks.end() || !task->second.pending_launch;
  });
  for (auto& [tid, spec] : ready_launches(state_)) {
    TaskRecord& task = state_.tasks.at(tid);
    task.pending_launch.reset();
    state_.tasks_pending_launch.erase(tid);
    task.message.clear();
    task.launch_sent_at = clock_.mono_now();
    protocol::Command launch;
    launch.body = protocol::LaunchCommand{std::move(spec)};
    enqueue(state_.agents.at(task.agent_id), std::move(launch));
  }
}

void MasterCore::push_routes_if_changed() {
  std::string routes = routing_table(state_);
  if (routes == routes_) return;
  routes_ = routes;
  ++routes_version_;
  for (auto& [id, agent] : state_.agents) {
    if (!agent.lost) push_routes(agent);
  }
}

void MasterCore::push_routes(AgentRecord& agent) {
  protocol::Command command;
  command.body = protocol::RoutesCommand{
      nlohmann::json{{"version", routes_version_},
                     {"routes", nlohmann::json::parse(routes_.empty() ? "[]" : routes_)}}
          .dump()};
  enqueue(agent, std::move(command));
}

}  // namespace berth::master
