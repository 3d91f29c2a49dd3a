// Marathon's health checks on this agent (docs/architecture.md §7): each task's checks are
// registered with the HealthChecker, and its verdicts become status updates; a task that fails
// too many is killed.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "health/readiness.h"
#include "json/bounded.h"

namespace berth::agent {

// `container`: a DOCKER task's container id. Its COMMAND checks run inside it, as Mesos's
// Docker executor runs them (docker exec); HTTP and TCP checks reach its host ports.
void Agent::Impl::start_health_checks(const protocol::LaunchSpec& spec, const ProcessSpec& ps,
                                      const std::string& container) {
  auto checks_json = json::parse_or_discarded(spec.health_checks);
  auto specs = health::parse_health_checks(checks_json);
  if (!specs) {
    spdlog::warn("task {}: health checks not run: {}", spec.task_id, specs.error().message);
    return;
  }
  if (!container.empty()) {
    for (auto& check : *specs) {
      if (health::probe_kind(check) != health::ProbeKind::kCommand) continue;
      std::string quoted = "'";
      for (char c : check.command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      quoted += "'";
      check.command = "docker -H unix://" + options.docker_socket + " exec " + container +
                      " /bin/sh -c " + quoted;
    }
  } else {
    // A process task's COMMAND checks run as its user, like the task itself.
    auto user = resolve_task_user(spec.user, task_user_policy(), ::geteuid());
    if (!user) {
      spdlog::warn("task {}: health checks not run: {}", spec.task_id, user.error().message);
      return;
    }
    for (auto& check : *specs) {
      if (health::probe_kind(check) == health::ProbeKind::kCommand)
        check.command = command_as_user(*user, check.command);
    }
  }
  health::HealthTask t;
  t.task_id = spec.task_id;
  t.host = options.address;
  t.ports = spec.ports;
  t.env = ps.env;
  t.sandbox_dir = ps.sandbox_dir;
  t.specs = *specs;
  t.started_at = clock->wall_now();
  Status registered = health->register_task(t);
  if (!registered)
    spdlog::warn("task {}: health checks not run: {}", spec.task_id, registered.error().message);
}

void Agent::Impl::on_health_change(const health::HealthChange& change) {
  std::lock_guard<std::mutex> lock(health_mu);
  health_changes.push_back(change);
}

// Turns health verdicts into status updates; kills tasks that failed too many checks.
void Agent::Impl::report_health() {
  std::vector<health::HealthChange> changes;
  {
    std::lock_guard<std::mutex> lock(health_mu);
    changes.swap(health_changes);
  }
  for (const auto& change : changes) {
    std::string results = health->results_json(change.task_id, change.task_id).dump();
    std::lock_guard<std::mutex> lock(mu);
    auto it = tasks.find(change.task_id);
    if (it == tasks.end()) continue;
    protocol::StatusUpdate u;
    u.update_id = ids->uuid();
    u.task_id = change.task_id;
    u.app_id = it->second.spec.app_id;
    u.state = it->second.state;
    u.message = change.cause;
    u.timestamp = format_iso8601(clock->wall_now());
    u.health = change.healthy ? 1 : 0;
    u.health_results = results;
    pending.push_back(std::move(u));
    if (change.should_kill && it->second.state != protocol::TaskState::kKilling) {
      spdlog::info("task {} failed its health checks ({}): killing it", change.task_id,
                   change.cause);
      if (!it->second.starting &&
          kill_task(it->second, change.task_id,
                    std::chrono::milliseconds(it->second.spec.kill_grace_ms))) {
        it->second.state = protocol::TaskState::kKilling;
        it->second.health_killed = true;
      }
    }
  }
}

void Agent::Impl::start_readiness_checks(const protocol::LaunchSpec& spec) {
  auto specs =
      health::readiness_specs(json::parse_or_discarded(spec.readiness_checks), spec.port_names);
  if (!specs) {
    spdlog::warn("task {}: readiness checks not run: {}", spec.task_id, specs.error().message);
    return;
  }
  health::HealthTask t;
  t.task_id = spec.task_id;
  t.host = options.address;
  t.ports = spec.ports;
  t.specs = *specs;
  t.started_at = clock->wall_now();
  Status registered = readiness->register_task(t);
  if (!registered) {
    spdlog::warn("task {}: readiness checks not run: {}", spec.task_id, registered.error().message);
  }
}

void Agent::Impl::on_readiness_change(const health::HealthChange& change) {
  if (!change.healthy) return;
  std::lock_guard<std::mutex> lock(health_mu);
  ready_tasks.push_back(change.task_id);
}

// Tells the master which tasks passed their readiness checks; they are not checked again.
void Agent::Impl::report_readiness() {
  std::vector<std::string> ready;
  {
    std::lock_guard<std::mutex> lock(health_mu);
    ready.swap(ready_tasks);
  }
  for (const auto& task_id : ready) {
    readiness->unregister_task(task_id);
    std::lock_guard<std::mutex> lock(mu);
    auto it = tasks.find(task_id);
    if (it == tasks.end()) continue;
    spdlog::info("task {} is ready", task_id);
    protocol::StatusUpdate u;
    u.update_id = ids->uuid();
    u.task_id = task_id;
    u.app_id = it->second.spec.app_id;
    u.state = it->second.state;
    u.timestamp = format_iso8601(clock->wall_now());
    u.ready = 1;
    pending.push_back(std::move(u));
  }
}

}  // namespace berth::agent
