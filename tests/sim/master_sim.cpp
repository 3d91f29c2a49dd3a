#include "tests/sim/master_sim.h"

#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/dataset_changes.h"
#include "base/check.h"
#include "lease/agent_lease.h"
#include "master/master_core.h"
#include "model/app.h"
#include "store/memory_store.h"
#include "tests/sim/sim_support.h"
#include "volume/epoch_rules.h"

namespace berth::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr milliseconds kControllerInterval{100};
constexpr milliseconds kCommandPollInterval{250};
constexpr milliseconds kRegisterRetry{1000};
constexpr milliseconds kShortDelay{50};
constexpr double kShortDelayShare = 0.8;    // most messages arrive within kShortDelay
constexpr double kWriterStartChance = 0.2;  // per attached, unused dataset and heartbeat
constexpr const char* kJoinToken = "simulated-join-token";
// The app the user runs: one instance writing one dataset, created by the master on first use.
constexpr const char* kAppId = "/db";
constexpr const char* kAppDefinition = R"({"id":"/db","cmd":"serve","instances":1,"cpus":0.1,
    "mem":16,"container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW",
    "external":{"name":"app-data","provider":"dvdi","options":{"dvdi/driver":"berth"}}}]}})";

// What the master's API answers a call without the agent's current credential (401), which
// the agent takes as "register again".
Error register_again() { return Error{ErrorCode::kNotFound, "register again", {}}; }

// The master's clock, set to the master node's time before every call into the core.
class SimClock final : public Clock {
 public:
  WallTime wall_now() const override { return wall_; }
  MonoTime mono_now() const override { return mono_; }
  void set(MonoTime mono, WallTime wall) {
    mono_ = mono;
    wall_ = wall;
  }

 private:
  MonoTime mono_{};
  WallTime wall_{};
};

// What the checker learns from the masters' handles on the store.
struct StoreWrites {
  int64_t leader_revision = 0;    // the store's revision after the leader's last write
  uint64_t deposed_attempts = 0;  // writes a deposed master tried ...
  uint64_t deposed_refused = 0;   // ... and of those, refused
};

// One master process's handle on the shared store. Until the process is deposed it forwards
// everything; from then on it refuses every write as an `EtcdStore` fenced on the old
// leadership does (docs/architecture.md §5, "Leader election"): kPreconditionFailed "not the
// leader", nothing changed. Reads go through: they are not fenced.
class LeaderStore final : public Store {
 public:
  LeaderStore(Store& shared, StoreWrites& writes, bool fenced)
      : shared_(shared), writes_(writes), fenced_(fenced) {}
  void depose() { deposed_ = true; }

  Result<std::optional<KeyValue>> get(std::string_view key) override { return shared_.get(key); }
  Result<int64_t> put(std::string_view key, std::string_view value) override {
    return write([&] { return shared_.put(key, value); });
  }
  Result<bool> erase(std::string_view key) override {
    return write([&] { return shared_.erase(key); });
  }
  Result<int64_t> compare_and_swap(std::string_view key, std::string_view value,
                                   int64_t expected_mod_revision) override {
    return write([&] { return shared_.compare_and_swap(key, value, expected_mod_revision); });
  }
  Result<std::vector<KeyValue>> list(std::string_view prefix) override {
    return shared_.list(prefix);
  }
  Result<int64_t> commit(const std::vector<StoreOp>& ops) override {
    return write([&] { return shared_.commit(ops); });
  }
  Result<int64_t> revision() override { return shared_.revision(); }
  uint64_t watch(std::string_view prefix, WatchCallback callback) override {
    return shared_.watch(prefix, std::move(callback));
  }
  void unwatch(uint64_t watch_id) override { shared_.unwatch(watch_id); }

 private:
  template <typename Write>
  auto write(Write&& write) -> decltype(write()) {
    if (deposed_) {
      ++writes_.deposed_attempts;
      if (fenced_) {
        ++writes_.deposed_refused;
        return make_error(ErrorCode::kPreconditionFailed,
                          "not the leader: the write was fenced on an earlier leadership");
      }
      return write();  // MasterSimFlaw::kUnfencedDeposedLeader
    }
    auto written = write();
    if (written) {
      auto revision = shared_.revision();
      if (revision) writes_.leader_revision = *revision;
    }
    return written;
  }

  Store& shared_;
  StoreWrites& writes_;
  const bool fenced_;
  bool deposed_ = false;
};

// Ids from the run's seed, so a seed replays exactly.
class SimIds final : public IdSource {
 public:
  explicit SimIds(Rng& rng) : rng_(rng) {}
  std::string uuid() override {
    std::string hex = this->hex(32);
    hex[12] = '4';
    hex[16] = "89ab"[rng_.index(4)];
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
  }
  std::string secret() override { return hex(64); }

 private:
  std::string hex(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += "0123456789abcdef"[rng_.index(16)];
    return out;
  }
  Rng& rng_;
};

// A task or container writing one dataset, under its supervisor. Live while in its node's map.
struct Writer {
  uint64_t id = 0;
  uint64_t epoch = 0;
  MonoTime deadline;     // the supervisor's copy of the lease deadline
  uint64_t version = 0;  // bumps with every new deadline, to retire older supervisor wake-ups
  // A task of the app (launched by the master) rather than a container's mount.
  std::string task_id;
  std::string app_version, config_version;
};

struct AgentNode {
  std::string host;
  NodeClock clock;
  // What outlives the agent process: its id, its mounts and its supervised writers.
  std::string agent_id;
  std::map<std::string, agent::LocalDataset> local;
  std::map<std::string, Writer> writers;  // by dataset
  // What the master last asked this node to attach (dataset -> epoch): a task is launched, or
  // a container's mount granted, only for those.
  std::map<std::string, uint64_t> assigned;
  SimTime partitioned_until{0};
  // The agent process.
  bool up = false;
  bool paused = false;
  uint64_t incarnation = 0;
  uint64_t timer_token = 0;
  bool registered = false;
  std::string secret;             // this registration's credential
  uint64_t register_attempt = 0;  // only the newest attempt's answer is read
  uint64_t registration = 0;  // counts registrations: answers to calls of an older one are stale
  bool fenced = false;
  uint64_t next_seq = 0;  // heartbeats sent by this process
  lease::AgentLease lease;
  uint64_t last_applied_ack = 0;
  // The assignments the dataset loop last applied: a "datasets" command is laid over them.
  std::vector<protocol::DatasetAssignment> in_force;
  uint64_t arrival_seq = 0;  // MasterSimFlaw::kLeaseFromAckArrival only
  uint64_t commands_after = 0;
  std::deque<std::function<void()>> inbox;  // answers that arrived while paused
  // Task status updates sent with every heartbeat until the master acknowledges them.
  std::map<std::string, protocol::StatusUpdate> unacked;
  uint64_t next_update = 0;
};

// One master process: the leader, or a deposed leader that has not noticed it yet.
struct MasterProcess {
  uint64_t incarnation = 0;
  uint64_t address = 0;  // where agents reach it
  NodeClock clock;
  SimClock view;
  std::unique_ptr<LeaderStore> store;
  std::unique_ptr<master::MasterCore> core;
};

struct Masters {
  MemoryStore store;  // durable across restarts and failovers, shared by every master
  StoreWrites writes;
  NodeClock clock;       // the leader's node's
  uint64_t address = 0;  // the leader's: a restart keeps it, a failover moves to another node
  uint64_t incarnation = 0;
  std::unique_ptr<MasterProcess> leader;   // none while it is down
  std::unique_ptr<MasterProcess> deposed;  // the last leader deposed, until it notices
};

class Simulation {
 public:
  explicit Simulation(const MasterSimConfig& config)
      : config_(config),
        rng_(config.seed),
        ids_rng_(config.seed ^ 0x5eed5eed5eedULL),
        ids_(ids_rng_) {}

  MasterSimResult run();

 private:
  SimTime now() const { return events_.now(); }
  void at(SimTime when, std::function<void()> run) { events_.at(when, std::move(run)); }
  bool faulty() const { return now() < config_.duration; }
  void trace(const std::string& line) {
    if (config_.trace) config_.trace(seconds_text(now()) + " " + line);
  }
  void violation(const std::string& what) {
    if (result_.violation) return;
    result_.violation =
        "seed " + std::to_string(config_.seed) + " at " + seconds_text(now()) + ": " + what;
    trace("VIOLATION " + what);
  }

  // --- checking ---
  void writer_started(int i, const std::string& dataset, const Writer& writer);
  void writer_killed(const std::string& dataset, uint64_t writer, const char* by);
  void check_exclusive();
  void check_store_after_load(const master::MasterCore& core, const std::string& when);
  void check_epochs(const master::MasterCore& core);
  void check_store_writes();
  void check_converged();
  void audit_store();

  // --- network ---
  bool partitioned(int i) const { return now() < agents_[i].partitioned_until; }
  // Once the faults stop, so do the network's: no losses, no copies, no long delays.
  nanoseconds delay() {
    if (!faulty() || rng_.chance(kShortDelayShare))
      return rng_.between(nanoseconds(0), kShortDelay);
    return rng_.between(nanoseconds(0), config_.options.lease);
  }
  bool lost() { return faulty() && rng_.chance(config_.drop); }
  int copies() { return faulty() && rng_.chance(config_.duplicate) ? 2 : 1; }
  // A request from agent i to the leader it knows, run by the master at that address when it
  // arrives (a deposed leader too, until it notices).
  void to_master(int i, std::function<void(master::MasterCore&)> handle);
  // An answer to agent i's process `incarnation`, handled when it arrives (queued while paused).
  void to_agent(int i, uint64_t incarnation, std::function<void()> handle);

  // --- agents ---
  MonoTime agent_now(int i) const { return agents_[i].clock.local(now()); }
  void start_agent(int i);
  void restart_timers(int i);
  void send_register(int i);
  void on_registered(int i, const Result<protocol::RegisterResponse>& answer);
  void heartbeat_timer(int i, uint64_t token);
  void send_heartbeat(int i);
  void on_heartbeat_answer(int i, const Result<protocol::HeartbeatAck>& answer);
  void poll_timer(int i, uint64_t token);
  void on_commands(int i, const Result<protocol::CommandBatch>& answer);
  void unregistered(int i);
  void agent_tick(int i);
  void schedule_lease_check(int i);
  void converge(int i, const std::vector<protocol::DatasetAssignment>& desired);
  void maybe_start_writer(int i, const std::string& dataset);
  void fence(int i);
  void schedule_supervisor(int i, const std::string& dataset);
  void resume_agent(int i, uint64_t incarnation);
  // --- the app's tasks on an agent ---
  void launch_task(int i, const protocol::LaunchSpec& spec);
  void kill_task(int i, const std::string& task_id);
  void task_status(int i, const std::string& task_id, protocol::TaskState state,
                   const std::string& message);
  void send_statuses(int i);
  // Ends agent i's writer of `dataset`; a task's end is reported to the master.
  void end_writer(int i, const std::string& dataset, const char* by, protocol::TaskState state);

  // --- master and user ---
  MasterProcess* master_at(uint64_t address);
  MasterProcess* master_with(uint64_t incarnation);
  void set_master_clock(MasterProcess& master);
  master::MasterOptions master_options(uint64_t incarnation);
  void start_master();
  void fail_over();
  void discard_deposed();
  void controller_tick(uint64_t incarnation);
  void create_datasets();
  void create_app();
  void user_moves();

  void inject_fault();

  MasterSimConfig config_;
  Rng rng_;
  Rng ids_rng_;
  SimIds ids_;
  MasterSimResult result_;
  EventQueue events_;
  std::vector<AgentNode> agents_;
  Masters master_;
  int dataset_count_ = 0;
  std::vector<std::string> datasets_;           // ids, as the master created them
  std::map<std::string, EpochRecord> storage_;  // the drivers' records, which every node sees
  uint64_t next_writer_ = 0;
  // The checker's view: live writers per dataset (writer id -> node), the primary of every
  // acknowledged change and the highest epoch the master has shown.
  std::map<std::string, std::map<uint64_t, int>> live_;
  std::map<std::string, std::string> acknowledged_primary_;
  std::map<std::string, uint64_t> highest_epoch_;
  bool app_acknowledged_ = false;
  int last_task_node_ = -1;             // where the app's last task started
  std::set<std::string> app_datasets_;  // written only by the app's tasks
};

MasterSimResult Simulation::run() {
  int agents = config_.agents > 0 ? config_.agents : 2 + rng_.index(3);
  dataset_count_ = config_.datasets > 0 ? config_.datasets : 1 + rng_.index(3);
  BERTH_CHECK(agents >= 2 && dataset_count_ >= 1);
  master_.clock = random_clock(rng_, config_.max_drift);
  for (int i = 0; i < agents; ++i) {
    agents_.push_back(AgentNode{});
    agents_[i].host = "node-" + std::to_string(i);
    agents_[i].clock = random_clock(rng_, config_.max_drift);
    at(rng_.between(nanoseconds(0), config_.options.heartbeat_interval),
       [this, i] { start_agent(i); });
  }
  if (config_.mean_fault_interval <= milliseconds(0)) {
    config_.mean_fault_interval = std::chrono::duration_cast<milliseconds>(
        rng_.between(std::chrono::seconds(1), std::chrono::seconds(10)));
  }
  start_master();
  at(milliseconds(1500), [this] { create_datasets(); });
  at(milliseconds(2500), [this] { create_app(); });
  at(milliseconds(2000) + rng_.between(nanoseconds(0), 2 * config_.mean_move_interval),
     [this] { user_moves(); });
  at(milliseconds(2000) + rng_.between(nanoseconds(0), 2 * config_.mean_fault_interval),
     [this] { inject_fault(); });
  const SimTime end = config_.duration + config_.settle;
  while (!events_.empty() && !result_.violation && events_.next_time() <= end) {
    events_.step();
    ++result_.steps;
    check_exclusive();
    check_store_writes();
  }
  check_converged();
  audit_store();
  result_.deposed_writes_refused = master_.writes.deposed_refused;
  return result_;
}

// --- checking ---

void Simulation::writer_started(int i, const std::string& dataset, const Writer& writer) {
  ++result_.writer_starts;
  trace(agents_[i].host + " starts writer " + std::to_string(writer.id) + " on " + dataset +
        " at epoch " + std::to_string(writer.epoch));
  live_[dataset][writer.id] = i;
}

void Simulation::writer_killed(const std::string& dataset, uint64_t writer, const char* by) {
  trace("writer " + std::to_string(writer) + " on " + dataset + " ends: " + by);
  live_[dataset].erase(writer);
}

void Simulation::check_exclusive() {
  for (const auto& [dataset, writers] : live_) {
    if (writers.size() < 2) continue;
    int first = writers.begin()->second;
    for (const auto& [writer, node] : writers) {
      if (node != first) {
        violation(dataset + " is written from " + agents_[first].host + " (writer " +
                  std::to_string(writers.begin()->first) + ") and " + agents_[node].host +
                  " (writer " + std::to_string(writer) + ") at once");
        return;
      }
    }
  }
}

// `core` has just loaded the store.
void Simulation::check_store_after_load(const master::MasterCore& core, const std::string& when) {
  core.read([&](const master::MasterState& state) {
    if (app_acknowledged_ && !state.apps.count(kAppId)) {
      violation(std::string("app ") + kAppId + " was acknowledged but is not in the store " + when);
    }
    for (const auto& [id, primary] : acknowledged_primary_) {
      auto it = state.datasets.find(id);
      if (it == state.datasets.end()) {
        violation("dataset " + id + " was acknowledged but is not in the store " + when);
      } else if (it->second.primary != primary) {
        violation("dataset " + id + " was last moved to " + primary +
                  " (acknowledged) but the store has " + it->second.primary + " " + when);
      }
    }
  });
}

void Simulation::check_epochs(const master::MasterCore& core) {
  core.read([&](const master::MasterState& state) {
    for (const auto& [id, dataset] : state.datasets) {
      uint64_t& highest = highest_epoch_[id];
      if (dataset.epoch < highest) {
        violation("dataset " + id + " went back from epoch " + std::to_string(highest) + " to " +
                  std::to_string(dataset.epoch));
      }
      highest = std::max(highest, dataset.epoch);
    }
  });
}

// Only the leader changes the store: every write a deposed master attempts is refused, and the
// store's revision is the one the leader's last write left.
void Simulation::check_store_writes() {
  if (!config_.check_store_writers) return;
  const StoreWrites& writes = master_.writes;
  if (writes.deposed_attempts != writes.deposed_refused) {
    violation(std::to_string(writes.deposed_attempts - writes.deposed_refused) +
              " writes of a deposed master went through");
  }
  auto revision = master_.store.revision();
  BERTH_CHECK(revision.ok());
  if (*revision != writes.leader_revision) {
    violation("the store is at revision " + std::to_string(*revision) +
              " but the leader's last write left it at " + std::to_string(writes.leader_revision) +
              ": someone else wrote it");
  }
}

void Simulation::check_converged() {
  if (result_.violation || !master_.leader) return;
  master_.leader->core->read([&](const master::MasterState& state) {
    if (app_acknowledged_) {
      std::vector<std::string> running;
      for (const auto& [tid, task] : state.tasks) {
        if (task.app_id != kAppId || task.kill_requested) continue;
        if (task.state != protocol::TaskState::kRunning) {
          violation("after the faults stopped, task " + tid + " of " + kAppId + " is still " +
                    protocol::to_string(task.state));
          continue;
        }
        running.push_back(tid);
        bool writing = false;
        for (const auto& node : agents_) {
          for (const auto& [dataset, writer] : node.writers) {
            if (writer.task_id == tid && node.agent_id == task.agent_id) writing = true;
          }
        }
        if (!writing) violation("task " + tid + " is running for the master but not on its node");
      }
      if (running.size() != 1) {
        violation("after the faults stopped, " + std::string(kAppId) + " has " +
                  std::to_string(running.size()) + " running tasks instead of 1");
      }
    }
    for (const auto& [id, dataset] : state.datasets) {
      for (int i = 0; i < static_cast<int>(agents_.size()); ++i) {
        const AgentNode& node = agents_[i];
        if (node.agent_id.empty()) continue;
        auto mount = node.local.find(id);
        bool attached = mount != node.local.end() && mount->second.attached;
        if (node.agent_id == dataset.primary) {
          if (!attached || mount->second.epoch != dataset.epoch) {
            violation("after the faults stopped, " + id + " is not attached on its primary " +
                      node.host + " at epoch " + std::to_string(dataset.epoch));
          }
        } else if (attached) {
          violation("after the faults stopped, " + id + " is still attached on " + node.host +
                    ", which is not its primary");
        }
      }
    }
  });
}

// A master loaded from the store at the end must find every acknowledged change in it, and no
// epoch lower than one a leader has shown.
void Simulation::audit_store() {
  if (result_.violation) return;
  SimClock view;
  master::MasterCore core(master_options(0), master_.store, view, ids_);
  Status loaded = core.load();
  if (!loaded) {
    violation("the store cannot be loaded at the end: " + loaded.error().message);
    return;
  }
  check_store_after_load(core, "at the end");
  check_epochs(core);
}

// --- network ---

void Simulation::to_master(int i, std::function<void(master::MasterCore&)> handle) {
  if (partitioned(i) || lost()) return;
  const uint64_t address = master_.address;
  for (int c = 0, n = copies(); c < n; ++c) {
    at(now() + delay(), [this, i, address, handle] {
      MasterProcess* master = master_at(address);
      if (partitioned(i) || master == nullptr) return;
      if (master == master_.deposed.get()) ++result_.deposed_answers;
      set_master_clock(*master);
      handle(*master->core);
    });
  }
}

void Simulation::to_agent(int i, uint64_t incarnation, std::function<void()> handle) {
  if (partitioned(i) || lost()) return;
  for (int c = 0, n = copies(); c < n; ++c) {
    at(now() + delay(), [this, i, incarnation, handle] {
      AgentNode& node = agents_[i];
      if (partitioned(i) || !node.up || node.incarnation != incarnation) return;  // nobody reads it
      if (node.paused) {
        node.inbox.push_back(handle);
      } else {
        handle();
      }
    });
  }
}

// --- agents ---

void Simulation::start_agent(int i) {
  AgentNode& node = agents_[i];
  node.up = true;
  node.paused = false;
  ++node.incarnation;
  node.inbox.clear();
  node.registered = false;
  node.fenced = false;
  node.next_seq = 0;
  node.last_applied_ack = 0;
  node.in_force.clear();
  node.arrival_seq = 0;
  // The supervisors of re-adopted writers all hold the deadline of the last lease.
  node.lease = lease::AgentLease();
  if (!node.writers.empty()) {
    MonoTime deadline = node.writers.begin()->second.deadline;
    for (const auto& [dataset, writer] : node.writers)
      deadline = std::min(deadline, writer.deadline);
    node.lease = lease::AgentLease::resumed(deadline, agent_now(i));
  }
  trace(node.host + " agent starts with " + std::to_string(node.local.size()) + " mounts and " +
        std::to_string(node.writers.size()) + " writers");
  schedule_lease_check(i);
  restart_timers(i);
  send_register(i);
}

void Simulation::restart_timers(int i) {
  uint64_t token = ++agents_[i].timer_token;
  heartbeat_timer(i, token);
  poll_timer(i, token);
}

void Simulation::send_register(int i) {
  AgentNode& node = agents_[i];
  if (!node.up || node.paused || node.registered) return;
  protocol::RegisterRequest request;
  request.token = kJoinToken;
  request.agent_id = node.agent_id;
  request.hostname = node.host;
  request.address = "10.0.0." + std::to_string(i + 1);
  request.resources.cpus = 4;
  request.resources.mem = 4096;
  request.resources.disk = 10000;
  request.resources.ports = {{31000, 31099}};
  request.heartbeat_seq = node.next_seq;
  for (const auto& [dataset, writer] : node.writers) {
    if (writer.task_id.empty()) continue;
    protocol::TaskReport task;
    task.task_id = writer.task_id;
    task.app_id = kAppId;
    task.version = writer.app_version;
    task.config_version = writer.config_version;
    task.state = protocol::TaskState::kRunning;
    task.datasets = {dataset};
    request.tasks.push_back(task);
  }
  uint64_t incarnation = node.incarnation;
  uint64_t attempt = ++node.register_attempt;
  to_master(i, [this, i, incarnation, attempt, request](master::MasterCore& core) {
    auto answer = core.register_agent(request);
    to_agent(i, incarnation, [this, i, attempt, answer] {
      if (agents_[i].register_attempt == attempt) {
        on_registered(i, answer);
      } else {
        trace(agents_[i].host + " ignores the answer to an earlier registration attempt");
      }
    });
  });
  // Like the agent's HTTP call, an attempt times out and the next one starts.
  at(node.clock.real_at(agent_now(i) + kRegisterRetry), [this, i, incarnation, attempt] {
    if (agents_[i].incarnation == incarnation && agents_[i].register_attempt == attempt)
      send_register(i);
  });
}

void Simulation::on_registered(int i, const Result<protocol::RegisterResponse>& answer) {
  AgentNode& node = agents_[i];
  if (!answer) trace(node.host + " registration refused: " + answer.error().message);
  if (!answer || node.registered) return;
  node.agent_id = answer->agent_id;
  node.secret = answer->agent_secret;
  node.registered = true;
  ++node.registration;
  node.commands_after = answer->next_command_seq;
  ++result_.registrations;
  trace(node.host + " registered as " + node.agent_id);
}

void Simulation::unregistered(int i) {
  trace(agents_[i].host + " is told to register again");
  agents_[i].registered = false;
  send_register(i);
}

void Simulation::heartbeat_timer(int i, uint64_t token) {
  AgentNode& node = agents_[i];
  if (!node.up || node.paused || token != node.timer_token) return;
  agent_tick(i);
  if (node.registered) send_heartbeat(i);
  if (node.registered) send_statuses(i);
  std::vector<std::string> unused;
  for (const auto& [id, mount] : node.local) {
    if (mount.attached && !node.writers.count(id) && !app_datasets_.count(id)) unused.push_back(id);
  }
  for (const auto& id : unused) {
    if (rng_.chance(kWriterStartChance)) maybe_start_writer(i, id);
  }
  at(node.clock.real_at(agent_now(i) + config_.options.heartbeat_interval),
     [this, i, token] { heartbeat_timer(i, token); });
}

void Simulation::send_heartbeat(int i) {
  AgentNode& node = agents_[i];
  protocol::Heartbeat hb;
  hb.seq = ++node.next_seq;
  hb.applied_seq = node.last_applied_ack;  // acks are applied as they arrive
  for (const auto& [id, mount] : node.local) {
    protocol::DatasetReport report;
    report.dataset_id = id;
    report.driver = mount.driver;
    report.attached = mount.attached;
    report.epoch = mount.epoch;
    report.path = "/mnt/" + id;
    report.in_use = node.writers.count(id) > 0;
    hb.datasets.push_back(report);
  }
  if (config_.flaw != MasterSimFlaw::kLeaseFromAckArrival)
    node.lease.on_heartbeat_sent(hb.seq, agent_now(i));
  uint64_t incarnation = node.incarnation;
  std::string id = node.agent_id;
  std::string secret = node.secret;
  uint64_t registration = node.registration;
  to_master(i, [this, i, incarnation, registration, id, secret, hb](master::MasterCore& core) {
    Result<protocol::HeartbeatAck> answer = core.heartbeat(id, secret, hb);
    to_agent(i, incarnation, [this, i, registration, answer] {
      if (agents_[i].registration == registration) on_heartbeat_answer(i, answer);
    });
  });
}

void Simulation::on_heartbeat_answer(int i, const Result<protocol::HeartbeatAck>& answer) {
  AgentNode& node = agents_[i];
  if (!answer) {
    if (answer.error().code == ErrorCode::kNotFound && node.registered) unregistered(i);
    return;
  }
  MonoTime now = agent_now(i);
  lease::LeaseUpdate update;
  if (config_.flaw == MasterSimFlaw::kLeaseFromAckArrival) {
    node.lease.on_heartbeat_sent(++node.arrival_seq, now);
    update = node.lease.on_ack(node.arrival_seq, milliseconds(answer->lease_ms), now);
  } else {
    update = node.lease.on_ack(answer->seq, milliseconds(answer->lease_ms), now);
  }
  if (update.fence) fence(i);
  if (update.granted) node.fenced = false;
  if (update.extended) {
    for (auto& [dataset, writer] : node.writers) {
      writer.deadline = *node.lease.deadline();
      schedule_supervisor(i, dataset);
    }
    schedule_lease_check(i);
  }
  if (answer->seq > node.last_applied_ack) {
    node.last_applied_ack = answer->seq;
    converge(i, answer->datasets);
  }
}

void Simulation::poll_timer(int i, uint64_t token) {
  AgentNode& node = agents_[i];
  if (!node.up || node.paused || token != node.timer_token) return;
  if (node.registered) {
    uint64_t incarnation = node.incarnation;
    std::string id = node.agent_id;
    std::string secret = node.secret;
    uint64_t after = node.commands_after;
    uint64_t registration = node.registration;
    to_master(i, [this, i, incarnation, registration, id, secret, after](master::MasterCore& core) {
      Result<protocol::CommandBatch> answer = register_again();
      if (core.authenticate_agent(id, secret)) answer = core.commands(id, after, milliseconds(0));
      to_agent(i, incarnation, [this, i, registration, answer] {
        if (agents_[i].registration == registration) on_commands(i, answer);
      });
    });
  }
  at(node.clock.real_at(agent_now(i) + kCommandPollInterval),
     [this, i, token] { poll_timer(i, token); });
}

void Simulation::on_commands(int i, const Result<protocol::CommandBatch>& answer) {
  AgentNode& node = agents_[i];
  if (!answer) {
    if (answer.error().code == ErrorCode::kNotFound && node.registered) unregistered(i);
    return;
  }
  for (const auto& command : answer->commands) {
    if (command.seq <= node.commands_after) continue;
    node.commands_after = command.seq;
    if (const auto* launch = command.as<protocol::LaunchCommand>()) launch_task(i, launch->spec);
    if (const auto* kill = command.as<protocol::KillCommand>()) kill_task(i, kill->task_id);
    if (const auto* datasets = command.as<protocol::DatasetsCommand>()) {
      // As the agent does: what the answers granted at the same epoch stays granted.
      converge(i, agent::with_grants_kept(node.in_force, datasets->datasets));
      // What it lists and is not attached here is granted by the answer to a heartbeat sent now.
      bool wanted = false;
      for (const auto& a : datasets->datasets) {
        auto mount = node.local.find(a.dataset_id);
        if (!a.destroy && (mount == node.local.end() || !mount->second.attached)) wanted = true;
      }
      if (wanted && node.registered) send_heartbeat(i);
    }
  }
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

// The agent's dataset loop: the shipping change calculator, applied through the storage's
// epoch rules. A fenced agent attaches nothing until a new lease is granted.
void Simulation::converge(int i, const std::vector<protocol::DatasetAssignment>& desired) {
  AgentNode& node = agents_[i];
  node.in_force = desired;
  node.assigned.clear();
  for (const auto& a : desired) {
    if (a.attach && !a.destroy) node.assigned[a.dataset_id] = a.epoch;
  }
  std::vector<agent::LocalDataset> local;
  for (const auto& [id, mount] : node.local) {
    agent::LocalDataset l = mount;
    l.in_use = node.writers.count(id) > 0;
    local.push_back(l);
  }
  for (const auto& change : agent::compute_dataset_changes(desired, local)) {
    const std::string& id = change.dataset_id;
    switch (change.kind) {
      case agent::DatasetChange::Kind::kDetach:
      case agent::DatasetChange::Kind::kDestroy:
        if (node.writers.count(id)) break;
        storage_[id] = decide_detach(storage_[id], node.agent_id);
        node.local.erase(id);
        trace(node.host + " detaches " + id);
        break;
      case agent::DatasetChange::Kind::kCreateAndAttach:
      case agent::DatasetChange::Kind::kCopyAndAttach: {
        if (node.fenced) break;
        auto record = decide_attach(id, storage_[id], node.agent_id, change.epoch);
        if (!record) {
          trace(node.host + " cannot attach " + id + ": " + record.error().message);
          break;
        }
        storage_[id] = *record;
        node.local[id] = agent::LocalDataset{id, change.driver, true, change.epoch, false};
        ++result_.attaches;
        trace(node.host + " attaches " + id + " at epoch " + std::to_string(change.epoch));
        break;
      }
    }
  }
}

// A task or a container starts writing an attached dataset, as berth allows it: only where the
// master last assigned it at that epoch (it launches tasks, and grants containers' mounts, on
// the dataset's primary), only under a lease in force, and only through a path the storage
// gives to the holder at its epoch.
void Simulation::maybe_start_writer(int i, const std::string& dataset) {
  AgentNode& node = agents_[i];
  auto mount = node.local.find(dataset);
  if (node.fenced || node.lease.expired(agent_now(i)) || mount == node.local.end() ||
      node.writers.count(dataset)) {
    return;
  }
  auto assigned = node.assigned.find(dataset);
  if (assigned == node.assigned.end() || assigned->second != mount->second.epoch) return;
  if (!check_path(dataset, storage_[dataset], node.agent_id, mount->second.epoch)) return;
  Writer writer{++next_writer_, mount->second.epoch, *node.lease.deadline(), 0, "", "", ""};
  node.writers[dataset] = writer;
  writer_started(i, dataset, writer);
  schedule_supervisor(i, dataset);
  uint64_t id = writer.id;
  at(now() + rng_.between(milliseconds(500), milliseconds(8000)), [this, i, dataset, id] {
    auto& writers = agents_[i].writers;
    auto it = writers.find(dataset);
    if (it == writers.end() || it->second.id != id) return;
    writer_killed(dataset, id, "exits");
    writers.erase(it);
  });
}

// The agent runs a launched task as a writer of its dataset, under the same rules as any
// writer: the dataset attached here at the launch's epoch, assigned here, a lease in force and a
// path the storage gives to the holder at that epoch. Otherwise the launch fails.
void Simulation::launch_task(int i, const protocol::LaunchSpec& spec) {
  AgentNode& node = agents_[i];
  for (const auto& [dataset, writer] : node.writers) {
    if (writer.task_id == spec.task_id) return;  // a repeated command
  }
  std::string why;
  if (spec.volumes.size() != 1) why = "expected one volume";
  const std::string dataset = spec.volumes.empty() ? "" : spec.volumes[0].dataset_id;
  const uint64_t epoch = spec.volumes.empty() ? 0 : spec.volumes[0].epoch;
  auto mount = node.local.find(dataset);
  auto assigned = node.assigned.find(dataset);
  if (!why.empty()) {
  } else if (node.fenced || node.lease.expired(agent_now(i))) {
    why = "no lease";
  } else if (mount == node.local.end() || !mount->second.attached || mount->second.epoch != epoch) {
    why = "dataset not attached at epoch " + std::to_string(epoch);
  } else if (assigned == node.assigned.end() || assigned->second != epoch) {
    why = "dataset not assigned here at epoch " + std::to_string(epoch);
  } else if (node.writers.count(dataset)) {
    why = "dataset in use";
  } else if (!check_path(dataset, storage_[dataset], node.agent_id, epoch)) {
    why = "the storage refuses the path";
  }
  if (!why.empty()) {
    trace(node.host + " cannot launch " + spec.task_id + ": " + why);
    task_status(i, spec.task_id, protocol::TaskState::kFailed, why);
    return;
  }
  Writer writer{++next_writer_, epoch,        *node.lease.deadline(), 0,
                spec.task_id,   spec.version, spec.config_version};
  node.writers[dataset] = writer;
  writer_started(i, dataset, writer);
  schedule_supervisor(i, dataset);
  ++result_.task_launches;
  if (last_task_node_ >= 0 && last_task_node_ != i) ++result_.task_moves;
  last_task_node_ = i;
  task_status(i, spec.task_id, protocol::TaskState::kRunning, "");
}

void Simulation::kill_task(int i, const std::string& task_id) {
  AgentNode& node = agents_[i];
  for (const auto& [dataset, writer] : node.writers) {
    if (writer.task_id == task_id) {
      end_writer(i, dataset, "a kill", protocol::TaskState::kKilled);
      return;
    }
  }
  task_status(i, task_id, protocol::TaskState::kKilled, "not running here");
}

void Simulation::end_writer(int i, const std::string& dataset, const char* by,
                            protocol::TaskState state) {
  AgentNode& node = agents_[i];
  auto it = node.writers.find(dataset);
  if (it == node.writers.end()) return;
  writer_killed(dataset, it->second.id, by);
  std::string task_id = it->second.task_id;
  node.writers.erase(it);
  if (!task_id.empty() && node.up) task_status(i, task_id, state, by);
}

void Simulation::task_status(int i, const std::string& task_id, protocol::TaskState state,
                             const std::string& message) {
  AgentNode& node = agents_[i];
  protocol::StatusUpdate update;
  update.update_id = node.host + "-" + std::to_string(++node.next_update);
  update.task_id = task_id;
  update.app_id = kAppId;
  update.state = state;
  update.message = message;
  node.unacked[update.update_id] = update;
  if (node.registered && !node.paused) send_statuses(i);
}

void Simulation::send_statuses(int i) {
  AgentNode& node = agents_[i];
  if (node.unacked.empty()) return;
  protocol::StatusBatch batch;
  for (const auto& [id, update] : node.unacked) batch.updates.push_back(update);
  uint64_t incarnation = node.incarnation;
  uint64_t registration = node.registration;
  std::string id = node.agent_id;
  std::string secret = node.secret;
  to_master(i, [this, i, incarnation, registration, id, secret, batch](master::MasterCore& core) {
    Result<protocol::StatusAck> answer = register_again();
    if (core.authenticate_agent(id, secret)) answer = core.status(id, batch);
    to_agent(i, incarnation, [this, i, registration, answer] {
      if (agents_[i].registration != registration) return;
      if (!answer) {
        if (answer.error().code == ErrorCode::kNotFound && agents_[i].registered) unregistered(i);
        return;
      }
      for (const auto& acked : answer->acked) agents_[i].unacked.erase(acked);
    });
  });
}

void Simulation::fence(int i) {
  AgentNode& node = agents_[i];
  ++result_.fences;
  trace(node.host + " fences");
  std::vector<std::string> written;
  for (const auto& [dataset, writer] : node.writers) written.push_back(dataset);
  for (const auto& dataset : written)
    end_writer(i, dataset, "its agent's fence", protocol::TaskState::kKilled);
  for (const auto& [id, mount] : node.local)
    storage_[id] = decide_detach(storage_[id], node.agent_id);
  node.local.clear();
  node.fenced = true;
}

void Simulation::schedule_supervisor(int i, const std::string& dataset) {
  if (config_.flaw == MasterSimFlaw::kNoSupervisor) return;
  Writer& writer = agents_[i].writers.at(dataset);
  uint64_t id = writer.id;
  uint64_t version = ++writer.version;
  at(agents_[i].clock.real_at(writer.deadline), [this, i, dataset, id, version] {
    auto& writers = agents_[i].writers;
    auto it = writers.find(dataset);
    if (it == writers.end() || it->second.id != id || it->second.version != version) return;
    ++result_.supervisor_kills;
    end_writer(i, dataset, "its supervisor", protocol::TaskState::kKilled);
  });
}

void Simulation::resume_agent(int i, uint64_t incarnation) {
  AgentNode& node = agents_[i];
  if (!node.up || node.incarnation != incarnation) return;
  node.paused = false;
  trace(node.host + " resumes with " + std::to_string(node.inbox.size()) + " answers waiting");
  // Whether the overdue timer or the waiting socket runs first is up to the scheduler.
  bool tick_first = rng_.chance(0.5);
  if (tick_first) agent_tick(i);
  while (!node.inbox.empty() && node.up && !node.paused) {
    auto handle = std::move(node.inbox.front());
    node.inbox.pop_front();
    handle();
  }
  if (!tick_first) agent_tick(i);
  restart_timers(i);
  send_register(i);
}

// --- master and user ---

MasterProcess* Simulation::master_at(uint64_t address) {
  if (master_.leader && master_.leader->address == address) return master_.leader.get();
  if (master_.deposed && master_.deposed->address == address) return master_.deposed.get();
  return nullptr;
}

MasterProcess* Simulation::master_with(uint64_t incarnation) {
  if (master_.leader && master_.leader->incarnation == incarnation) return master_.leader.get();
  if (master_.deposed && master_.deposed->incarnation == incarnation) return master_.deposed.get();
  return nullptr;
}

void Simulation::set_master_clock(MasterProcess& master) {
  MonoTime mono = master.clock.local(now());
  master.view.set(mono,
                  WallTime(std::chrono::seconds(1800000000)) +
                      std::chrono::duration_cast<WallTime::duration>(mono.time_since_epoch()));
}

master::MasterOptions Simulation::master_options(uint64_t incarnation) {
  master::MasterOptions options;
  options.join_token = kJoinToken;
  options.timing = config_.options;
  options.log = [this, incarnation](const std::string& line) {
    trace("master " + std::to_string(incarnation) + ": " + line);
  };
  return options;
}

// A master process starts on the leader's node and loads the store: after a restart on the
// same node, after a failover on another.
void Simulation::start_master() {
  if (master_.leader) return;
  auto master = std::make_unique<MasterProcess>();
  master->incarnation = ++master_.incarnation;
  master->address = master_.address;
  master->clock = master_.clock;
  master->store = std::make_unique<LeaderStore>(
      master_.store, master_.writes, config_.flaw != MasterSimFlaw::kUnfencedDeposedLeader);
  set_master_clock(*master);
  master->core = std::make_unique<master::MasterCore>(master_options(master->incarnation),
                                                      *master->store, master->view, ids_);
  master_.leader = std::move(master);
  MasterProcess& leader = *master_.leader;
  Status loaded = leader.core->load();
  if (!loaded) {
    violation("the master cannot load its store: " + loaded.error().message);
    return;
  }
  trace("master " + std::to_string(leader.incarnation) + " starts");
  check_store_after_load(*leader.core, "after the leader loaded it");
  check_epochs(*leader.core);
  controller_tick(leader.incarnation);
}

// Another master is elected while the leader keeps running without knowing it: the leader's
// writes are fenced from now on, but until it notices (a paused leader waking up before its
// election thread sees the lost lease) it still answers the requests that reach it and runs
// its reconcile loop. Agents and the user turn to the new leader.
void Simulation::fail_over() {
  if (master_.deposed) discard_deposed();
  ++result_.master_failovers;
  master_.deposed = std::move(master_.leader);
  master_.deposed->store->depose();
  uint64_t incarnation = master_.deposed->incarnation;
  nanoseconds notices = rng_.between(nanoseconds(0), 2 * config_.options.lease);
  trace("master " + std::to_string(incarnation) + " is deposed; it notices in " +
        seconds_text(notices));
  at(now() + notices, [this, incarnation] {
    if (master_.deposed && master_.deposed->incarnation == incarnation) discard_deposed();
  });
  master_.clock = random_clock(rng_, config_.max_drift);
  ++master_.address;
  start_master();
}

void Simulation::discard_deposed() {
  trace("deposed master " + std::to_string(master_.deposed->incarnation) + " stops");
  master_.deposed.reset();
}

void Simulation::controller_tick(uint64_t incarnation) {
  MasterProcess* master = master_with(incarnation);
  if (master == nullptr) return;
  set_master_clock(*master);
  master->core->reconcile();
  if (master == master_.leader.get()) check_epochs(*master->core);
  at(master->clock.real_at(master->clock.local(now()) + kControllerInterval),
     [this, incarnation] { controller_tick(incarnation); });
}

void Simulation::create_datasets() {
  std::vector<std::string> nodes;
  for (const auto& node : agents_) {
    if (node.registered) nodes.push_back(node.agent_id);
  }
  if (master_.leader && !nodes.empty()) {
    set_master_clock(*master_.leader);
    while (static_cast<int>(datasets_.size()) < dataset_count_) {
      nlohmann::json body = {{"primary", nodes[rng_.index(static_cast<int>(nodes.size()))]},
                             {"maximum_size", 67108864},
                             {"metadata", {{"name", "data-" + std::to_string(datasets_.size())}}}};
      auto created = master_.leader->core->create_dataset(body, "");
      if (!created) break;
      datasets_.push_back(created->dataset_id);
      acknowledged_primary_[created->dataset_id] = created->primary;
      trace("user creates " + created->dataset_id + " on " + created->primary);
    }
  }
  if (static_cast<int>(datasets_.size()) < dataset_count_)
    at(now() + milliseconds(500), [this] { create_datasets(); });
}

// The user runs one app with an external volume: the master creates its dataset, places its
// task, moves the dataset with it and replaces it when its node is lost.
void Simulation::create_app() {
  if (master_.leader) {
    master::MasterCore& core = *master_.leader->core;
    set_master_clock(*master_.leader);
    model::ParseOptions options;
    options.version = format_iso8601(master_.leader->view.wall_now());
    auto parsed = model::parse_app(nlohmann::json::parse(kAppDefinition), options);
    BERTH_CHECK(parsed.app.has_value());
    auto created = core.create_app(*parsed.app, false);
    if (created) {
      app_acknowledged_ = true;
      core.read([&](const master::MasterState& state) {
        for (const auto& [id, dataset] : state.datasets) {
          if (dataset.metadata.count("name") && dataset.metadata.at("name") == "app-data")
            app_datasets_.insert(id);
        }
      });
      trace(std::string("user creates app ") + kAppId);
      return;
    }
  }
  at(now() + milliseconds(500), [this] { create_app(); });
}

// A user moves a dataset to another node through the Flocker API; the master accepts or
// refuses (in use, unknown node). Every accepted move is acknowledged, so it must survive.
// While a deposed leader still runs, half the user's requests still reach it; it must refuse
// them, since it can no longer write.
void Simulation::user_moves() {
  if (!faulty()) return;
  at(now() + rng_.between(nanoseconds(0), 2 * config_.mean_move_interval),
     [this] { user_moves(); });
  MasterProcess* master = master_.leader.get();
  if (master_.deposed && rng_.chance(0.5)) master = master_.deposed.get();
  if (master == nullptr || datasets_.empty()) return;
  const AgentNode& target = agents_[rng_.index(static_cast<int>(agents_.size()))];
  if (target.agent_id.empty()) return;
  const std::string& id = datasets_[rng_.index(static_cast<int>(datasets_.size()))];
  set_master_clock(*master);
  if (master == master_.deposed.get()) ++result_.deposed_answers;
  auto moved = master->core->update_dataset(id, nlohmann::json{{"primary", target.agent_id}}, "");
  if (!moved) {
    ++result_.moves_refused;
    trace("user cannot move " + id + " to " + target.host + ": " + moved.error().message);
    return;
  }
  ++result_.moves_accepted;
  acknowledged_primary_[id] = moved->primary;
  trace("user moves " + id + " to " + target.host + " (epoch " + std::to_string(moved->epoch) +
        ")");
}

void Simulation::inject_fault() {
  if (!faulty()) return;
  at(now() + rng_.between(nanoseconds(0), 2 * config_.mean_fault_interval),
     [this] { inject_fault(); });
  const nanoseconds lease = config_.options.lease;
  int i = rng_.index(static_cast<int>(agents_.size()));
  AgentNode& node = agents_[i];
  double kind = rng_.unit();
  if (kind < 0.3) {
    if (!node.up || node.paused) return;
    ++result_.agent_pauses;
    node.paused = true;
    nanoseconds length =
        rng_.chance(0.5) ? rng_.between(nanoseconds(0), lease) : rng_.between(lease, 3 * lease);
    trace(node.host + " agent pauses for " + seconds_text(length));
    uint64_t incarnation = node.incarnation;
    at(now() + length, [this, i, incarnation] { resume_agent(i, incarnation); });
  } else if (kind < 0.45) {
    if (!node.up) return;
    ++result_.agent_crashes;
    node.up = false;
    node.paused = false;
    ++node.incarnation;
    node.inbox.clear();
    node.unacked.clear();  // a restarted agent reports its tasks by registering
    trace(node.host + " agent crashes; " + std::to_string(node.writers.size()) +
          " writers stay with their supervisors");
    at(now() + rng_.between(milliseconds(200), 3 * lease), [this, i] { start_agent(i); });
  } else if (kind < 0.8) {
    ++result_.partitions;
    nanoseconds length = rng_.between(milliseconds(200), 3 * lease);
    node.partitioned_until = std::max(node.partitioned_until, now() + length);
    trace(node.host + " partitioned for " + seconds_text(length));
  } else if (!master_.leader) {
    return;
  } else if (kind < 0.9) {
    ++result_.master_restarts;
    trace("master " + std::to_string(master_.leader->incarnation) + " crashes");
    master_.leader.reset();
    at(now() + rng_.between(milliseconds(100), 2 * lease), [this] { start_master(); });
  } else {
    fail_over();
  }
}

}  // namespace

MasterSimResult run_master_sim(const MasterSimConfig& config) { return Simulation(config).run(); }

}  // namespace berth::sim
