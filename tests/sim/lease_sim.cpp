#include "tests/sim/lease_sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "base/check.h"
#include "lease/agent_lease.h"
#include "lease/master_leases.h"
#include "tests/sim/sim_support.h"

namespace berth::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr milliseconds kControllerInterval{100};
constexpr double kRebalanceChance = 0.05;  // per dataset and controller pass
constexpr double kShortDelayShare = 0.8;   // most messages arrive within kShortDelay
constexpr milliseconds kShortDelay{50};

// What an answer lets an agent attach: a dataset at an epoch.
struct Grant {
  std::string dataset;
  uint64_t epoch = 0;
};

struct Heartbeat {
  int agent = 0;
  uint64_t seq = 0;
  std::set<std::string> attached;  // datasets with a live writer on the node
  uint64_t applied_seq = 0;        // the newest answer applied before this report
};

struct Ack {
  uint64_t seq = 0;
  nanoseconds lease{0};
  std::vector<Grant> grants;
};

// A task writing one dataset, under its supervisor. It is live while it is in the node's map.
struct Task {
  uint64_t writer = 0;
  uint64_t epoch = 0;
  MonoTime deadline;     // the supervisor's copy of the lease deadline
  uint64_t version = 0;  // bumps with every new deadline, to retire older supervisor wake-ups
};

struct AgentNode {
  std::string name;
  NodeClock clock;
  // What outlives the agent process: its supervised tasks, its heartbeat numbering (a
  // restarted agent continues it, as registration would tell it) and its fence records.
  uint64_t next_seq = 0;
  std::map<std::string, Task> tasks;
  std::map<std::string, uint64_t> min_epoch;  // attach again only at this epoch or later
  SimTime partitioned_until{0};
  // The agent process.
  bool up = false;
  bool paused = false;
  uint64_t incarnation = 0;
  uint64_t timer_token = 0;
  lease::AgentLease lease;
  uint64_t last_applied_ack = 0;
  uint64_t arrival_seq = 0;  // Flaw::kLeaseFromAckArrival only
  std::deque<Ack> inbox;     // answers that arrived while paused
};

struct MasterNode {
  NodeClock clock;
  bool up = true;
  uint64_t incarnation = 0;
  std::optional<lease::MasterLeases> leases;
  std::map<std::string, lease::DatasetHolder> store;  // durable holders across restarts
};

class Simulation {
 public:
  explicit Simulation(const LeaseSimConfig& config) : config_(config), rng_(config.seed) {}

  LeaseSimResult run();

 private:
  // --- scheduling and checking ---
  SimTime now() const { return events_.now(); }
  void at(SimTime when, std::function<void()> run) { events_.at(when, std::move(run)); }
  void trace(const std::string& line) {
    if (config_.trace) config_.trace(seconds_text(now()) + " " + line);
  }
  void violation(const std::string& what) {
    if (result_.violation) return;
    result_.violation =
        "seed " + std::to_string(config_.seed) + " at " + seconds_text(now()) + ": " + what;
    trace("VIOLATION " + what);
  }
  void writer_started(const std::string& dataset, int agent, uint64_t writer, uint64_t epoch);
  void writer_killed(const std::string& dataset, uint64_t writer, const char* by);
  void check_exclusive();

  // --- network ---
  bool partitioned(int agent) const { return now() < agents_[agent].partitioned_until; }
  nanoseconds delay() {
    if (rng_.chance(kShortDelayShare)) return rng_.between(nanoseconds(0), kShortDelay);
    return rng_.between(nanoseconds(0), config_.options.lease);
  }
  void send_to_master(const Heartbeat& heartbeat);
  void send_to_agent(int agent, const Ack& ack);

  // --- agents ---
  MonoTime agent_now(int i) const { return agents_[i].clock.local(now()); }
  void start_agent(int i);
  void heartbeat_timer(int i, uint64_t token);
  void send_heartbeat(int i);
  void agent_tick(int i);
  void schedule_lease_check(int i);
  void ack_arrived(int i, const Ack& ack);
  void handle_ack(int i, const Ack& ack);
  void apply_grants(int i, const std::vector<Grant>& grants);
  void start_task(int i, const std::string& dataset, uint64_t epoch);
  void fence(int i);
  void record_fenced(AgentNode& node, const std::string& dataset, uint64_t epoch);
  void schedule_supervisor(int i, const std::string& dataset);
  void supervisor_wakes(int i, const std::string& dataset, uint64_t writer, uint64_t version);
  void resume_agent(int i, uint64_t incarnation);

  // --- master ---
  MonoTime master_now() const { return master_.clock.local(now()); }
  void start_master();
  void master_receives(const Heartbeat& heartbeat);
  void controller_tick(uint64_t incarnation);

  // --- faults ---
  void inject_fault();

  LeaseSimConfig config_;
  Rng rng_;
  LeaseSimResult result_;
  EventQueue events_;
  std::vector<AgentNode> agents_;
  std::vector<std::string> datasets_;
  MasterNode master_;
  uint64_t next_writer_ = 0;
  // The checker's view: live writers per dataset (writer id -> node), and the epochs the
  // master granted each node per dataset.
  std::map<std::string, std::map<uint64_t, int>> live_;
  std::map<std::string, std::set<std::pair<int, uint64_t>>> granted_;
};

LeaseSimResult Simulation::run() {
  int agents = config_.agents > 0 ? config_.agents : 2 + rng_.index(3);
  int datasets = config_.datasets > 0 ? config_.datasets : 1 + rng_.index(agents);
  BERTH_CHECK(agents >= 2 && datasets >= 1);
  master_.clock = random_clock(rng_, config_.max_drift);
  for (int i = 0; i < agents; ++i) {
    agents_.push_back(AgentNode{});
    agents_[i].name = "agent-" + std::to_string(i);
    agents_[i].clock = random_clock(rng_, config_.max_drift);
    at(rng_.between(nanoseconds(0), config_.options.heartbeat_interval),
       [this, i] { start_agent(i); });
  }
  if (config_.mean_fault_interval <= milliseconds(0)) {
    config_.mean_fault_interval = std::chrono::duration_cast<milliseconds>(
        rng_.between(std::chrono::seconds(1), std::chrono::seconds(10)));
  }
  for (int d = 0; d < datasets; ++d) datasets_.push_back("dataset-" + std::to_string(d));
  start_master();
  at(rng_.between(nanoseconds(0), 2 * config_.mean_fault_interval), [this] { inject_fault(); });

  while (!events_.empty() && !result_.violation && events_.next_time() <= config_.duration) {
    events_.step();
    ++result_.steps;
    check_exclusive();
  }
  return result_;
}

void Simulation::writer_started(const std::string& dataset, int agent, uint64_t writer,
                                uint64_t epoch) {
  ++result_.writer_starts;
  trace(agents_[agent].name + " starts writer " + std::to_string(writer) + " on " + dataset +
        " at epoch " + std::to_string(epoch));
  if (!granted_[dataset].count({agent, epoch})) {
    violation(agents_[agent].name + " started a writer on " + dataset + " at epoch " +
              std::to_string(epoch) + ", which the master never granted it");
  }
  live_[dataset][writer] = agent;
}

void Simulation::writer_killed(const std::string& dataset, uint64_t writer, const char* by) {
  trace("writer " + std::to_string(writer) + " on " + dataset + " killed by " + by);
  live_[dataset].erase(writer);
}

void Simulation::check_exclusive() {
  for (const auto& [dataset, writers] : live_) {
    if (writers.size() < 2) continue;
    int first = writers.begin()->second;
    for (const auto& [writer, agent] : writers) {
      if (agent != first) {
        violation(dataset + " is written from " + agents_[first].name + " (writer " +
                  std::to_string(writers.begin()->first) + ") and " + agents_[agent].name +
                  " (writer " + std::to_string(writer) + ") at once");
        return;
      }
    }
  }
}

void Simulation::send_to_master(const Heartbeat& heartbeat) {
  if (partitioned(heartbeat.agent) || rng_.chance(config_.drop)) return;
  int copies = rng_.chance(config_.duplicate) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    at(now() + delay(), [this, heartbeat] {
      if (!partitioned(heartbeat.agent)) master_receives(heartbeat);
    });
  }
}

void Simulation::send_to_agent(int agent, const Ack& ack) {
  if (partitioned(agent) || rng_.chance(config_.drop)) return;
  int copies = rng_.chance(config_.duplicate) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    at(now() + delay(), [this, agent, ack] {
      if (!partitioned(agent)) ack_arrived(agent, ack);
    });
  }
}

void Simulation::start_agent(int i) {
  AgentNode& node = agents_[i];
  node.up = true;
  node.paused = false;
  ++node.incarnation;
  node.inbox.clear();
  node.last_applied_ack = 0;
  node.arrival_seq = 0;
  // The supervisors of re-adopted tasks all hold the deadline of the last lease.
  node.lease = lease::AgentLease();
  if (!node.tasks.empty()) {
    MonoTime deadline = node.tasks.begin()->second.deadline;
    for (const auto& [dataset, task] : node.tasks) deadline = std::min(deadline, task.deadline);
    node.lease = lease::AgentLease::resumed(deadline, agent_now(i));
  }
  trace(node.name + " process starts, re-adopting " + std::to_string(node.tasks.size()) + " tasks");
  schedule_lease_check(i);
  heartbeat_timer(i, ++node.timer_token);
}

void Simulation::heartbeat_timer(int i, uint64_t token) {
  AgentNode& node = agents_[i];
  if (!node.up || node.paused || token != node.timer_token) return;
  agent_tick(i);
  send_heartbeat(i);
  MonoTime next = agent_now(i) + config_.options.heartbeat_interval;
  at(node.clock.real_at(next), [this, i, token] { heartbeat_timer(i, token); });
}

void Simulation::send_heartbeat(int i) {
  AgentNode& node = agents_[i];
  Heartbeat heartbeat{i, ++node.next_seq, {}, node.last_applied_ack};
  if (config_.flaw != Flaw::kLeaseFromAckArrival) {
    node.lease.on_heartbeat_sent(heartbeat.seq, agent_now(i));
  }
  for (const auto& [dataset, task] : node.tasks) heartbeat.attached.insert(dataset);
  send_to_master(heartbeat);
}

void Simulation::agent_tick(int i) {
  if (agents_[i].lease.tick(agent_now(i)).fence) fence(i);
}

void Simulation::schedule_lease_check(int i) {
  AgentNode& node = agents_[i];
  if (!node.lease.held()) return;
  uint64_t incarnation = node.incarnation;
  at(node.clock.real_at(*node.lease.deadline()), [this, i, incarnation] {
    AgentNode& n = agents_[i];
    if (n.up && !n.paused && n.incarnation == incarnation) agent_tick(i);
  });
}

void Simulation::ack_arrived(int i, const Ack& ack) {
  AgentNode& node = agents_[i];
  if (!node.up) return;  // nobody reads the socket
  if (node.paused) {
    node.inbox.push_back(ack);
    return;
  }
  handle_ack(i, ack);
}

void Simulation::handle_ack(int i, const Ack& ack) {
  AgentNode& node = agents_[i];
  MonoTime now = agent_now(i);
  lease::LeaseUpdate update;
  if (config_.flaw == Flaw::kLeaseFromAckArrival) {
    node.lease.on_heartbeat_sent(++node.arrival_seq, now);
    update = node.lease.on_ack(node.arrival_seq, ack.lease, now);
  } else {
    update = node.lease.on_ack(ack.seq, ack.lease, now);
  }
  if (update.fence) fence(i);
  if (!update.extended) return;
  for (auto& [dataset, task] : node.tasks) {
    task.deadline = *node.lease.deadline();
    schedule_supervisor(i, dataset);
  }
  schedule_lease_check(i);
  if (ack.seq > node.last_applied_ack) {
    node.last_applied_ack = ack.seq;
    apply_grants(i, ack.grants);
  }
}

void Simulation::apply_grants(int i, const std::vector<Grant>& grants) {
  AgentNode& node = agents_[i];
  std::map<std::string, uint64_t> wanted;
  for (const auto& grant : grants) wanted[grant.dataset] = grant.epoch;
  for (auto it = node.tasks.begin(); it != node.tasks.end();) {
    auto want = wanted.find(it->first);
    if (want == wanted.end() || want->second != it->second.epoch) {
      writer_killed(it->first, it->second.writer, "its agent (no longer assigned)");
      it = node.tasks.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [dataset, epoch] : wanted) {
    auto floor = node.min_epoch.find(dataset);
    if (node.tasks.count(dataset) == 0 &&
        (floor == node.min_epoch.end() || epoch >= floor->second)) {
      start_task(i, dataset, epoch);
    }
  }
}

void Simulation::start_task(int i, const std::string& dataset, uint64_t epoch) {
  AgentNode& node = agents_[i];
  Task task{++next_writer_, epoch, *node.lease.deadline(), 0};
  node.tasks[dataset] = task;
  writer_started(dataset, i, task.writer, epoch);
  schedule_supervisor(i, dataset);
}

void Simulation::record_fenced(AgentNode& node, const std::string& dataset, uint64_t epoch) {
  uint64_t& floor = node.min_epoch[dataset];
  floor = std::max(floor, epoch + 1);
}

void Simulation::fence(int i) {
  AgentNode& node = agents_[i];
  ++result_.fences;
  trace(node.name + " fences");
  for (const auto& [dataset, task] : node.tasks) {
    writer_killed(dataset, task.writer, "its agent's fence");
    record_fenced(node, dataset, task.epoch);
  }
  node.tasks.clear();
}

void Simulation::schedule_supervisor(int i, const std::string& dataset) {
  Task& task = agents_[i].tasks.at(dataset);
  uint64_t writer = task.writer;
  uint64_t version = ++task.version;
  at(agents_[i].clock.real_at(task.deadline),
     [this, i, dataset, writer, version] { supervisor_wakes(i, dataset, writer, version); });
}

void Simulation::supervisor_wakes(int i, const std::string& dataset, uint64_t writer,
                                  uint64_t version) {
  AgentNode& node = agents_[i];
  auto it = node.tasks.find(dataset);
  if (it == node.tasks.end() || it->second.writer != writer || it->second.version != version) {
    return;
  }
  BERTH_CHECK(agent_now(i) >= it->second.deadline);
  ++result_.supervisor_kills;
  writer_killed(dataset, writer, "its supervisor");
  record_fenced(node, dataset, it->second.epoch);
  node.tasks.erase(it);
}

void Simulation::resume_agent(int i, uint64_t incarnation) {
  AgentNode& node = agents_[i];
  if (!node.up || node.incarnation != incarnation) return;
  node.paused = false;
  trace(node.name + " resumes with " + std::to_string(node.inbox.size()) + " answers waiting");
  // Whether the overdue timer or the waiting socket runs first is up to the scheduler.
  bool tick_first = rng_.chance(0.5);
  if (tick_first) agent_tick(i);
  while (!node.inbox.empty()) {
    Ack ack = node.inbox.front();
    node.inbox.pop_front();
    handle_ack(i, ack);
  }
  if (!tick_first) agent_tick(i);
  heartbeat_timer(i, ++node.timer_token);
}

void Simulation::start_master() {
  master_.up = true;
  ++master_.incarnation;
  MonoTime started_at = master_now();
  if (config_.flaw == Flaw::kNoRestartGrace) {
    started_at -= config_.options.lost_after() + milliseconds(1);
  }
  lease::LeaseOptions options = config_.options;
  if (config_.flaw == Flaw::kNoMargin) options.margin = milliseconds(0);
  master_.leases.emplace(options, started_at);
  for (const auto& [dataset, holder] : master_.store) {
    master_.leases->restore_dataset(dataset, holder);
  }
  trace("master starts");
  controller_tick(master_.incarnation);
}

void Simulation::master_receives(const Heartbeat& heartbeat) {
  if (!master_.up) return;
  const std::string& name = agents_[heartbeat.agent].name;
  lease::MasterLeases& leases = *master_.leases;
  MonoTime now = master_now();
  if (leases.declared_lost(name) || !leases.last_received(name)) {
    // A lost (or unknown) agent's calls are refused until it registers again, which it does
    // at once; the registration carries its heartbeat count.
    trace("master: " + name + " registers");
    leases.on_registered(name, heartbeat.seq - 1, now);
  }
  leases.on_heartbeat_received(name, now);
  uint64_t applied_seq = heartbeat.applied_seq;
  if (config_.flaw == Flaw::kNoAppliedSeq) applied_seq = UINT64_MAX;
  leases.on_report(name, heartbeat.seq, heartbeat.attached, applied_seq);
  Ack ack{heartbeat.seq, leases.options().lease, {}};
  for (const auto& [dataset, holder] : leases.datasets()) {
    if (!leases.may_attach(dataset, name, now)) continue;
    ack.grants.push_back(Grant{dataset, holder.epoch});
    leases.on_granted(dataset, name, heartbeat.seq);
    granted_[dataset].insert({heartbeat.agent, holder.epoch});
  }
  send_to_agent(heartbeat.agent, ack);
}

void Simulation::controller_tick(uint64_t incarnation) {
  if (!master_.up || master_.incarnation != incarnation) return;
  lease::MasterLeases& leases = *master_.leases;
  MonoTime now = master_now();
  for (const auto& lost : leases.declare_lost(now)) trace("master: " + lost + " is lost");
  for (const auto& dataset : datasets_) {
    std::optional<lease::DatasetHolder> holder = leases.holder(dataset);
    bool unheld = !holder || holder->agent.empty();
    // Besides moving what is unassigned or lost, the controller now and then moves a dataset
    // anyway (a rebalance, or a user's move): the new node must then wait for the old one.
    bool lost = !unheld && leases.declared_lost(holder->agent);
    if (!unheld && !lost && !rng_.chance(kRebalanceChance)) continue;
    std::vector<int> candidates;
    for (int i = 0; i < static_cast<int>(agents_.size()); ++i) {
      const std::string& name = agents_[i].name;
      if (leases.last_received(name) && !leases.declared_lost(name) &&
          (unheld || name != holder->agent)) {
        candidates.push_back(i);
      }
    }
    if (candidates.empty()) continue;
    int to = candidates[rng_.index(static_cast<int>(candidates.size()))];
    lease::DatasetHolder moved = leases.moved(dataset, agents_[to].name);
    master_.store[dataset] = moved;  // durable before anything acts on it
    leases.restore_dataset(dataset, moved);
    if (!unheld) ++result_.moves;
    trace("master assigns " + dataset + " to " + agents_[to].name + " at epoch " +
          std::to_string(moved.epoch) +
          (unheld ? ""
           : lost ? " (holder lost)"
                  : " (a move)"));
  }
  MonoTime next = now + kControllerInterval;
  at(master_.clock.real_at(next), [this, incarnation] { controller_tick(incarnation); });
}

void Simulation::inject_fault() {
  const nanoseconds lease = config_.options.lease;
  int i = rng_.index(static_cast<int>(agents_.size()));
  AgentNode& node = agents_[i];
  double kind = rng_.unit();
  if (kind < 0.3) {
    if (node.up && !node.paused) {
      ++result_.agent_pauses;
      node.paused = true;
      nanoseconds length =
          rng_.chance(0.5) ? rng_.between(nanoseconds(0), lease) : rng_.between(lease, 3 * lease);
      trace(node.name + " pauses for " + seconds_text(length));
      uint64_t incarnation = node.incarnation;
      at(now() + length, [this, i, incarnation] { resume_agent(i, incarnation); });
    }
  } else if (kind < 0.45) {
    if (node.up) {
      ++result_.agent_crashes;
      node.up = false;
      node.paused = false;
      ++node.incarnation;
      node.inbox.clear();
      trace(node.name + " process crashes; " + std::to_string(node.tasks.size()) +
            " tasks stay with their supervisors");
      at(now() + rng_.between(milliseconds(200), 3 * lease), [this, i] { start_agent(i); });
    }
  } else if (kind < 0.8) {
    ++result_.partitions;
    nanoseconds length = rng_.between(milliseconds(200), 3 * lease);
    node.partitioned_until = std::max(node.partitioned_until, now() + length);
    trace(node.name + " partitioned for " + seconds_text(length));
  } else if (master_.up) {
    ++result_.master_restarts;
    master_.up = false;
    ++master_.incarnation;
    master_.leases.reset();
    trace("master crashes");
    at(now() + rng_.between(milliseconds(100), 2 * lease), [this] { start_master(); });
  }
  at(now() + rng_.between(nanoseconds(0), 2 * config_.mean_fault_interval),
     [this] { inject_fault(); });
}

}  // namespace

LeaseSimResult run_lease_sim(const LeaseSimConfig& config) { return Simulation(config).run(); }

}  // namespace berth::sim
