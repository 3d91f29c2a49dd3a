// The agent's session with the master (docs/protocol.md): registration, heartbeats that renew
// the lease, the command long poll with at-most-once execution, and status delivery at least
// once. Every call goes through the MasterLink; 404/401 (kRegisterAgain) makes the agent
// register again.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include "agent/agent_internal.h"
#include "agent/busy_ports.h"
#include "agent/dataset_changes.h"
#include "base/thread_priority.h"
#include "json/bounded.h"

namespace berth::agent {

void Agent::Impl::queue_status(const std::string& task_id, const std::string& app_id,
                               protocol::TaskState state, const std::string& message) {
  // Every state this agent reports, with its reason: the agent's half of a failover's story.
  spdlog::info("task {}: {}{}", task_id, protocol::to_string(state),
               message.empty() ? "" : " (" + message + ")");
  protocol::StatusUpdate u;
  u.update_id = ids->uuid();
  u.task_id = task_id;
  u.app_id = app_id;
  u.state = state;
  u.message = message;
  u.timestamp = format_iso8601(clock->wall_now());
  pending.push_back(std::move(u));
  if (pending.size() > 100000) pending.pop_front();  // bound: the oldest is superseded anyway
  wake.notify_all();
}

protocol::RegisterRequest Agent::Impl::registration() {
  protocol::RegisterRequest r;
  r.token = options.join_token;
  r.agent_id = agent_id;
  {
    std::lock_guard<std::mutex> lease_lock(lease_mu);
    r.heartbeat_seq = heartbeat_seq;
  }
  r.hostname = options.hostname;
  r.address = options.address;
  r.resources.cpus = options.cpus;
  r.resources.mem = options.mem;
  r.resources.disk = options.disk;
  r.resources.ports = {{options.port_begin, options.port_end}};
  r.attributes = options.attributes;
  r.http_port = http_server ? http_server->port() : 0;
  r.http_tls = !options.tls_cert.empty();
  for (const auto& [id, t] : tasks) {
    protocol::TaskReport report;
    report.task_id = id;
    report.app_id = t.spec.app_id;
    report.version = t.spec.version;
    report.config_version = t.spec.config_version;
    report.state = t.state;
    report.ports = t.spec.ports;
    report.cpus = t.spec.cpus;
    report.mem = t.spec.mem;
    report.disk = t.spec.disk;
    report.staged_at = t.staged_at;
    report.started_at = t.started_at;
    for (const auto& v : t.spec.volumes) report.datasets.push_back(v.dataset_id);
    r.tasks.push_back(report);
  }
  return r;
}

// Registers (or re-registers) until it succeeds or the agent stops.
bool Agent::Impl::register_with_master() {
  int refusals = 0;
  while (!stopping) {
    protocol::RegisterRequest request;
    {
      std::lock_guard<std::mutex> lock(mu);
      request = registration();
    }
    auto response = master->register_agent(request);
    if (response) {
      on_registered(*response, request.tasks.size());
      return true;
    }
    // A master that does not answer is retried twice a second (it may be restarting, and the
    // node should be back as soon as it is). One that refuses the join token will go on
    // refusing until someone changes a token: said once with what to do, then retried less
    // and less often, up to every 10 s.
    std::chrono::milliseconds delay(500);
    if (response.error().code == ErrorCode::kPermissionDenied) {
      if (refusals++ == 0) {
        spdlog::error(
            "{}: this agent's join token (--join-token or $BERTH_JOIN_TOKEN) is not the "
            "master's; give it the token in the master's <data-dir>/join-token. "
            "Retrying, less often each time, up to every 10 s",
            response.error().message);
      }
      delay = std::min(std::chrono::milliseconds(10000), delay * (1 << std::min(refusals, 5)));
    } else {
      refusals = 0;
      spdlog::warn("{}", response.error().message);
    }
    std::unique_lock<std::mutex> lock(mu);
    wake.wait_for(lock, delay, [&] { return stopping.load(); });
  }
  return false;
}

void Agent::Impl::on_registered(const protocol::RegisterResponse& response, size_t tasks_reported) {
  std::lock_guard<std::mutex> lock(mu);
  agent_id = response.agent_id;
  agent_secret = response.agent_secret;
  if (plugin_backend) plugin_backend->set_credential(agent_secret);
  datasets->set_node_id(agent_id);
  if (plugin_backend) plugin_backend->set_node_id(agent_id);
  last_seq = response.next_command_seq;
  registered = true;
  {
    std::lock_guard<std::mutex> lease_lock(lease_mu);
    heartbeat_ms = response.heartbeat_interval_ms;
    session = AgentCredential{agent_id, agent_secret};
    session_registered = true;
  }
  std::ofstream(id_file()) << agent_id;
  spdlog::info("registered with {} as agent {} ({} tasks reported)", options.master_url, agent_id,
               tasks_reported);
  wake.notify_all();
}

AgentCredential Agent::Impl::credential() {
  std::lock_guard<std::mutex> lock(mu);
  return AgentCredential{agent_id, agent_secret};
}

void Agent::Impl::mark_unregistered(const AgentCredential& used, const char* call) {
  std::lock_guard<std::mutex> lock(mu);
  // A call made with an earlier registration's secret (a poll or status delivery that was on its
  // way while another loop registered again with a new leader) says nothing of the current one.
  if (used.secret != agent_secret || !registered) return;
  registered = false;
  {
    std::lock_guard<std::mutex> lease_lock(lease_mu);
    session_registered = false;
    drop_grants_locked();
  }
  spdlog::info("the master does not know agent {} ({}): registering again", used.agent_id, call);
}

std::vector<protocol::RoutedBackend> Agent::Impl::routed_report() {
  if (router) {
    for (auto& f : router->take_first_forwards()) {
      // Bounded while the master does not answer: the oldest are the least useful.
      if (unreported_forwards.size() >= 1000)
        unreported_forwards.erase(unreported_forwards.begin());
      unreported_forwards.push_back(std::move(f));
    }
  }
  MonoTime now = clock->mono_now();
  std::vector<protocol::RoutedBackend> report;
  for (const auto& f : unreported_forwards) {
    report.push_back({f.backend.host, f.backend.port,
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - f.at).count()});
  }
  return report;
}

// The lease thread (docs/fencing.md §9): at the highest priority the node allows, it takes
// only lease_mu, and never waits for `mu` (a launch may hold it for seconds).
void Agent::Impl::heartbeat_loop() {
  spdlog::info("heartbeat thread priority: {}", raise_thread_priority());
  auto due = std::chrono::steady_clock::now();
  while (!stopping) {
    bool is_registered;
    {
      std::lock_guard<std::mutex> lock(lease_mu);
      is_registered = session_registered;
    }
    if (!is_registered) {
      register_with_master();
      due = std::chrono::steady_clock::now();
      continue;
    }
    if (!heartbeat_once()) continue;
    std::unique_lock<std::mutex> lock(lease_mu);
    due += std::chrono::milliseconds(heartbeat_ms);
    const auto now = std::chrono::steady_clock::now();
    if (due < now) due = now;  // behind schedule: the next one now, not a burst
    lease_wake.wait_until(lock, due, [&] { return stopping || heartbeat_now; });
    const auto woke = std::chrono::steady_clock::now();
    if (heartbeat_now) {
      heartbeat_now = false;
      due = woke;
    } else {
      lock.unlock();
      heartbeat_stalls.record(woke - due);
      note_lease_timing("woke late", woke - due);
    }
  }
  spdlog::info("heartbeat thread: stalls {}; round trips {}",
               StallMeter::describe(heartbeat_stalls.snapshot()),
               StallMeter::describe(heartbeat_round_trips.snapshot()));
}

bool Agent::Impl::heartbeat_once() {
  AgentCredential who;
  int64_t interval;
  protocol::Heartbeat hb;
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    who = session;
    interval = heartbeat_ms;
    hb.seq = ++heartbeat_seq;
    // Taken before the report, so the report reflects at least these answers
    // (docs/fencing.md §4).
    hb.applied_seq = applied_seq;
  }
  hb.datasets = datasets->report();
  hb.routed = routed_report();
  hb.busy_ports = busy_port_report();
  const MonoTime sent = clock->mono_now();
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    lease.on_heartbeat_sent(hb.seq, sent);
  }
  auto ack =
      master->heartbeat(who, hb, std::chrono::milliseconds(std::max<int64_t>(interval * 2, 1000)));
  const auto took = clock->mono_now() - sent;
  heartbeat_round_trips.record(took);
  note_lease_timing("round trip", took);
  if (!ack && ack.error().code == kRegisterAgain) {
    // mark_unregistered takes `mu`: this thread has no lease to keep until it registers.
    mark_unregistered(who, "heartbeat");
    return false;
  }
  if (ack) {
    unreported_forwards.clear();
    on_heartbeat_ack(std::move(*ack));
  } else if (ack.error().code == ErrorCode::kInternal) {
    spdlog::warn("{}", ack.error().message);
  }
  return true;
}

// Read about once a second (the socket table can be long: reading it costs more than the rest
// of a heartbeat). Its own tasks' ports are read from `tasks` when `mu` is free, else as last
// read: the list is advice for placement, and waiting for `mu` could cost the lease.
std::vector<uint32_t> Agent::Impl::busy_port_report() {
  const auto now = std::chrono::steady_clock::now();
  if (now - busy_ports_read_at < std::chrono::seconds(1)) return busy_ports_last;
  busy_ports_read_at = now;
  std::unique_lock<std::mutex> lock(mu, std::try_to_lock);
  if (lock.owns_lock()) {
    own_ports.clear();
    for (const auto& [id, t] : tasks) own_ports.insert(t.spec.ports.begin(), t.spec.ports.end());
    lock.unlock();
  }
  busy_ports_last.clear();
  for (uint32_t port : busy_ports(options.port_begin, options.port_end, own_ports))
    busy_ports_last.push_back(port);
  return busy_ports_last;
}

void Agent::Impl::request_heartbeat() {
  std::lock_guard<std::mutex> lock(lease_mu);
  heartbeat_now = true;
  lease_wake.notify_all();
}

// A lease survives as long as a heartbeat is answered within the lease of the last answered
// one: the slack is the lease less the interval. A wake-up or a round trip that takes a quarter
// of it says the node is too busy for its timing: logged at most every 10 s.
void Agent::Impl::note_lease_timing(const char* what, std::chrono::nanoseconds took) {
  int64_t slack_ms;
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    slack_ms = granted_lease_ms - heartbeat_ms;
  }
  const auto limit = std::chrono::milliseconds(std::max<int64_t>(slack_ms / 4, 20));
  if (slack_ms <= 0 || took < limit) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - lease_timing_said < std::chrono::seconds(10)) return;
  lease_timing_said = now;
  spdlog::warn(
      "heartbeat {} took {} ms, past {} ms (a quarter of the lease's slack): this node "
      "delays its lease renewals (docs/fencing.md §9)",
      what, std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), limit.count());
}

void Agent::Impl::on_heartbeat_ack(protocol::HeartbeatAck ack) {
  lease::LeaseUpdate update;
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    update = lease.on_ack(ack.seq, std::chrono::milliseconds(ack.lease_ms), clock->mono_now());
    granted_lease_ms = ack.lease_ms;
    // The master stretches the interval as its fleet grows (docs/fencing.md §10).
    if (ack.heartbeat_interval_ms > 0 && ack.heartbeat_interval_ms != heartbeat_ms) {
      spdlog::info("the master asks for a heartbeat every {} ms (lease {} ms)",
                   ack.heartbeat_interval_ms, ack.lease_ms);
      heartbeat_ms = ack.heartbeat_interval_ms;
    }
  }
  apply_lease_update(update);
  if (ack.lease_only) return;  // the master had no time for its reports: nothing changes
  std::lock_guard<std::mutex> lock(lease_mu);
  if (ack.seq < desired_seq) return;
  desired_datasets = std::move(ack.datasets);
  desired_seq = ack.seq;
  desired_from_command = false;
  datasets_changed = true;
  lease_wake.notify_all();
}

void Agent::Impl::command_loop() {
  while (!stopping) {
    AgentCredential who;
    uint64_t after;
    {
      std::unique_lock<std::mutex> lock(mu);
      wake.wait_for(lock, std::chrono::milliseconds(200), [&] { return registered || stopping; });
      if (!registered) continue;
      who = AgentCredential{agent_id, agent_secret};
      after = last_seq;
    }
    int64_t wait_ms;
    {
      // Ten heartbeats, from 2 s up to the master's 30 s: a fleet the master stretched polls
      // less often too (docs/fencing.md §10); a command still answers a waiting poll at once.
      std::lock_guard<std::mutex> lease_lock(lease_mu);
      wait_ms = std::clamp<int64_t>(10 * heartbeat_ms, 2000, 30000);
    }
    auto batch = master->poll_commands(who, after, std::chrono::milliseconds(wait_ms));
    if (!batch) {
      if (batch.error().code == kRegisterAgain) mark_unregistered(who, "command poll");
      if (batch.error().code == ErrorCode::kInternal) {
        spdlog::warn("{}", batch.error().message);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      continue;
    }
    for (const auto& command : batch->commands) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (who.agent_id != agent_id || command.seq <= last_seq) continue;
      }
      execute(command);
      std::lock_guard<std::mutex> lock(mu);
      last_seq = std::max(last_seq, command.seq);
    }
  }
}

void Agent::Impl::execute(const protocol::Command& command) {
  std::lock_guard<std::mutex> lock(mu);
  if (recent_command_set.count(command.command_id)) return;
  recent_command_set.insert(command.command_id);
  recent_commands.push_back(command.command_id);
  if (recent_commands.size() > 10000) {
    recent_command_set.erase(recent_commands.front());
    recent_commands.pop_front();
  }
  if (const auto* launch_command = command.as<protocol::LaunchCommand>()) {
    const protocol::LaunchSpec& spec = launch_command->spec;
    spdlog::info("task {}: launching (app {} version {}, {} dataset volume(s))", spec.task_id,
                 spec.app_id, spec.version, spec.volumes.size());
    launch(spec);
  } else if (const auto* routes = command.as<protocol::RoutesCommand>()) {
    apply_routes(routes->table);
  } else if (const auto* datasets = command.as<protocol::DatasetsCommand>()) {
    // It only lets go (docs/fencing.md §4), never of what the answers granted at the same
    // epoch; the dataset loop heartbeats at once when it lists something to attach here.
    std::lock_guard<std::mutex> lease_lock(lease_mu);
    desired_datasets = with_grants_kept(desired_datasets, datasets->datasets);
    desired_from_command = true;
    datasets_changed = true;
    lease_wake.notify_all();
  } else if (const auto* kill = command.as<protocol::KillCommand>()) {
    kill_command(*kill);
  }
}

void Agent::Impl::apply_routes(const std::string& routes) {
  if (!router) return;
  auto table = proxy::routing_table_from_json(json::parse_or_discarded(routes));
  if (!table) {
    spdlog::warn("ignoring a routing table: {}", table.error().message);
    return;
  }
  auto report = router->apply(*table);
  for (const auto& failure : report.listen_failures) {
    spdlog::warn("service port {}: {}", failure.service_port, failure.message);
  }
}

// Called with `mu` held.
void Agent::Impl::kill_command(const protocol::KillCommand& command) {
  spdlog::info("task {}: kill asked (grace {} ms)", command.task_id, command.grace_ms);
  auto it = tasks.find(command.task_id);
  if (it == tasks.end()) {
    queue_status(command.task_id, "", protocol::TaskState::kKilled, "task not known on this agent");
    return;
  }
  if (it->second.starting) {
    it->second.kill_pending = true;
    it->second.kill_grace_ms = command.grace_ms;
    it->second.state = protocol::TaskState::kKilling;
    return;
  }
  Status killed =
      kill_task(it->second, command.task_id, std::chrono::milliseconds(command.grace_ms));
  if (!killed) {
    // Already exited; poll_exits reports it.
    spdlog::debug("kill {}: {}", command.task_id, killed.error().message);
  } else {
    it->second.state = protocol::TaskState::kKilling;
  }
}

void Agent::Impl::status_loop() {
  while (!stopping) {
    reap();
    report_health();
    report_readiness();
    lease::LeaseUpdate tick;
    {
      std::lock_guard<std::mutex> lock(lease_mu);
      tick = lease.tick(clock->mono_now());
    }
    if (tick.fence) fence();
    if (!deliver_status()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Sends the oldest pending updates (waiting up to 50 ms for some) and forgets those the master
// acknowledged. False when the master should be given a moment before the next try.
bool Agent::Impl::deliver_status() {
  protocol::StatusBatch batch;
  AgentCredential who;
  {
    std::unique_lock<std::mutex> lock(mu);
    wake.wait_for(lock, std::chrono::milliseconds(50),
                  [&] { return stopping || (registered && !pending.empty()); });
    if (!registered || pending.empty()) return true;
    who = AgentCredential{agent_id, agent_secret};
    for (const auto& u : pending) {
      batch.updates.push_back(u);
      if (batch.updates.size() >= 500) break;
    }
  }
  auto ack = master->send_status(who, batch);
  if (!ack) {
    if (ack.error().code == kRegisterAgain) mark_unregistered(who, "status update");
    if (ack.error().code != ErrorCode::kInternal) return false;
    spdlog::warn("{}", ack.error().message);
    return true;
  }
  std::set<std::string> acked(ack->acked.begin(), ack->acked.end());
  std::lock_guard<std::mutex> lock(mu);
  std::deque<protocol::StatusUpdate> rest;
  for (auto& u : pending) {
    if (!acked.count(u.update_id)) rest.push_back(std::move(u));
  }
  pending.swap(rest);
  return true;
}

}  // namespace berth::agent
