// berth-bench-sim-agents: a load tool that speaks the real agent protocol (docs/protocol.md) to a
// running master on behalf of N simulated agents. The agents run nothing: a "launch" is
// answered with TASK_RUNNING and a "kill" with TASK_KILLED, and a dataset assigned for
// attaching is reported attached at its epoch. Each agent owns one thread, which long-polls
// for commands and delivers status updates (at least once, resent until acknowledged) between
// polls; a few shared threads send every agent's heartbeats (reporting its datasets) when each
// is due, at the interval the master asks for (it stretches it for a large fleet). Agents
// start spread over --ramp-s seconds. Every call goes through the agent's
// own HttpMasterLink (agent/http_master_link.h) and carries the agent secret of its
// registration; a 401 or 404 (kRegisterAgain) means "register again". With
// --no-poll the agents heartbeat but never fetch commands, so their outbox on the master only
// grows: what a hung or partitioned agent costs the master. Runs until SIGINT or SIGTERM and
// prints how many tasks and datasets it runs every few seconds, and how long the master took to
// answer the heartbeats (p50, p99, max of the last period and of the whole run, which SIGUSR1
// starts again).
//
//   berth-bench-sim-agents --master http://127.0.0.1:8080 --token T --agents 100 --prefix sim
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/http_master_link.h"
#include "base/clock.h"
#include "protocol/messages.h"

namespace {

using namespace berth;
using namespace std::chrono_literals;
using agent::AgentCredential;
using agent::MasterLink;

constexpr int kMaxAgents = 10000;
constexpr int kHeartbeatThreads = 32;          // shared by every agent's heartbeats
constexpr size_t kMaxStatusBatch = 500;        // updates per POST /status
constexpr size_t kMaxPendingUpdates = 100000;  // per agent; the oldest is dropped beyond it
constexpr int64_t kCommandWaitMs = 2000;       // long-poll wait, or ten heartbeats (up to 30 s)
constexpr auto kRetryDelay = 200ms;

struct Options {
  std::string master_url;
  std::string token;
  int agents = 0;
  std::string prefix = "sim";
  int report_interval_s = 5;
  int ramp_s = 0;        // agents start spread over this many seconds
  bool no_poll = false;  // heartbeat only; never fetch commands
};

// Heartbeats counted per 1 ms bucket up to 10 s (the last one holds the rest).
using Counts = std::array<uint64_t, 10001>;

// How long heartbeats took, in Counts' buckets.
class LatencyHistogram {
 public:
  void add(int64_t ms) { buckets_[std::clamp<int64_t>(ms, 0, kBuckets - 1)]++; }
  // Adds this histogram into `into` and empties it.
  void drain_into(Counts& into) {
    for (size_t i = 0; i < kBuckets; ++i) into[i] += buckets_[i].exchange(0);
  }
  static constexpr size_t kBuckets = std::tuple_size_v<Counts>;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
};

// The upper bound (ms) of the bucket holding quantile q of `counts`; -1 when empty.
int64_t quantile_ms(const Counts& counts, double q) {
  uint64_t total = 0;
  for (auto c : counts) total += c;
  if (total == 0) return -1;
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(total) + 0.999999);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= std::max<uint64_t>(rank, 1)) return static_cast<int64_t>(i);
  }
  return static_cast<int64_t>(counts.size() - 1);
}

int64_t max_ms(const Counts& counts) {
  for (size_t i = counts.size(); i-- > 0;) {
    if (counts[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

struct Stats {
  std::atomic<int64_t> registered{0};     // agents currently registered
  std::atomic<int64_t> registrations{0};  // including re-registrations
  std::atomic<int64_t> running{0};        // tasks running across all agents
  std::atomic<int64_t> launches{0};
  std::atomic<int64_t> kills{0};
  std::atomic<int64_t> updates_acked{0};
  std::atomic<int64_t> request_failures{0};      // unreachable, timed out or non-200
  std::atomic<int64_t> refused{0};               // 401/404: the master asked for a new registration
  std::atomic<int64_t> datasets_attached{0};     // reported attached in the last heartbeats
  std::atomic<int64_t> slowest_heartbeat_ms{0};  // since the last report: how long the master took
  std::atomic<int64_t> heartbeats{0};            // answered
  std::atomic<int64_t> heartbeat_interval_ms{0};  // the last interval the master asked for
  LatencyHistogram heartbeat_ms;                  // since the last report
};

std::atomic<bool> g_stopping{false};

void sleep_unless_stopping(std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  while (!g_stopping && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
}

class SimAgent {
 public:
  SimAgent(const Options& options, MasterLink& master, int index, Stats& stats)
      : options_(options),
        master_(master),
        hostname_(options.prefix + "-" + std::to_string(index)),
        stats_(stats) {}

  // The agent's own thread: registration, status updates and command polls.
  void run() { work_loop(); }

  // Sends one heartbeat when registered (from a heartbeat thread; never two at once for one
  // agent). Returns when the next one is due, in ms from now.
  int64_t heartbeat_once() {
    AgentCredential who;
    int64_t interval_ms;
    bool registered;
    {
      std::lock_guard<std::mutex> lock(mu_);
      who = {agent_id_, secret_};
      interval_ms = heartbeat_ms_;
      registered = registered_;
    }
    if (!registered) return std::min<int64_t>(interval_ms, 200);
    protocol::Heartbeat hb;
    hb.seq = ++heartbeat_seq_;
    hb.datasets = dataset_reports();
    const auto attached = static_cast<int64_t>(hb.datasets.size());
    stats_.datasets_attached += attached - reported_attached_;
    reported_attached_ = attached;
    // Generous: a slow answer should show as a slow master, not as a failed heartbeat.
    const auto sent = std::chrono::steady_clock::now();
    auto ack = master_.heartbeat(who, hb, 10s);
    const int64_t took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - sent)
                                .count();
    int64_t slowest = stats_.slowest_heartbeat_ms.load();
    while (took_ms > slowest &&
           !stats_.slowest_heartbeat_ms.compare_exchange_weak(slowest, took_ms)) {
    }
    if (ack) {
      stats_.heartbeats++;
      stats_.heartbeat_ms.add(took_ms);
      set_assignments(std::move(ack->datasets));
      if (ack->heartbeat_interval_ms > 0) {
        std::lock_guard<std::mutex> lock(mu_);
        heartbeat_ms_ = std::max<int64_t>(ack->heartbeat_interval_ms, 50);
        interval_ms = heartbeat_ms_;
      }
      stats_.heartbeat_interval_ms = interval_ms;
    } else if (ack.error().code != ErrorCode::kInternal) {
      note_failure(ack.error());
    }
    // Due one interval after it was sent, as the agent's own heartbeat thread schedules it.
    return std::max<int64_t>(0, interval_ms - took_ms);
  }

 private:
  // Registers (again) until it succeeds or the tool stops, reporting the tasks it runs.
  bool register_with_master() {
    while (!g_stopping) {
      protocol::RegisterRequest request;
      request.token = options_.token;
      request.hostname = hostname_;
      request.address = "127.0.0.1";
      request.resources.cpus = 10000;
      request.resources.mem = 1e7;
      request.resources.disk = 1e7;
      request.resources.ports = {{1, 65000}};
      {
        std::lock_guard<std::mutex> lock(mu_);
        request.agent_id = agent_id_;
        for (const auto& [id, report] : tasks_) request.tasks.push_back(report);
      }
      auto response = master_.register_agent(request);
      if (response) {
        std::lock_guard<std::mutex> lock(mu_);
        agent_id_ = response->agent_id;
        secret_ = response->agent_secret;
        last_seq_ = response->next_command_seq;
        heartbeat_ms_ = std::max<int64_t>(response->heartbeat_interval_ms, 50);
        registered_ = true;
        stats_.registered++;
        stats_.registrations++;
        return true;
      }
      stats_.request_failures++;
      if (response.error().code != ErrorCode::kInternal) {
        std::fprintf(stderr, "%s: %s\n", hostname_.c_str(), response.error().message.c_str());
      }
      sleep_unless_stopping(500ms);
    }
    return false;
  }

  void mark_unregistered() {
    std::lock_guard<std::mutex> lock(mu_);
    if (registered_) stats_.registered--;
    registered_ = false;
  }

  // After a failed call: kRegisterAgain (a 401 for no or a stale credential, a 404 for an
  // agent unknown, lost or asked to register again) is the master's "register again".
  void note_failure(const Error& error) {
    stats_.request_failures++;
    if (error.code == agent::kRegisterAgain) {
      stats_.refused++;
      mark_unregistered();
    }
  }

  // The agent's credential for calls after registration.
  AgentCredential credential() {
    std::lock_guard<std::mutex> lock(mu_);
    return {agent_id_, secret_};
  }

  // What the master wants attached here, from a heartbeat answer or a "datasets" command.
  // Attaching is instant: the next heartbeat reports each dataset with attach=true as
  // attached at its epoch; the rest (waiting for another holder, or destroyed) as absent.
  void set_assignments(std::vector<protocol::DatasetAssignment> assignments) {
    std::lock_guard<std::mutex> lock(mu_);
    assignments_ = std::move(assignments);
  }

  std::vector<protocol::DatasetReport> dataset_reports() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<protocol::DatasetReport> reports;
    for (const auto& a : assignments_) {
      if (!a.attach || a.destroy) continue;
      protocol::DatasetReport r;
      r.dataset_id = a.dataset_id;
      r.driver = a.driver;
      r.attached = true;
      r.epoch = a.epoch;
      r.path = "/sim/" + hostname_ + "/" + a.dataset_id;
      reports.push_back(std::move(r));
    }
    return reports;
  }

  void queue_status(const std::string& task_id, const std::string& app_id,
                    protocol::TaskState state) {
    protocol::StatusUpdate u;
    u.update_id = hostname_ + "-" + std::to_string(++update_counter_);
    u.task_id = task_id;
    u.app_id = app_id;
    u.state = state;
    u.timestamp = format_iso8601(std::chrono::system_clock::now());
    pending_.push_back(std::move(u));
    if (pending_.size() > kMaxPendingUpdates) pending_.pop_front();
  }

  void execute(const protocol::Command& command) {
    std::lock_guard<std::mutex> lock(mu_);
    if (const auto* launch = command.as<protocol::LaunchCommand>()) {
      const protocol::LaunchSpec& spec = launch->spec;
      if (tasks_.count(spec.task_id)) return;  // idempotent
      protocol::TaskReport report;
      report.task_id = spec.task_id;
      report.app_id = spec.app_id;
      report.version = spec.version;
      report.config_version = spec.config_version;
      report.state = protocol::TaskState::kRunning;
      report.ports = spec.ports;
      report.cpus = spec.cpus;
      report.mem = spec.mem;
      report.disk = spec.disk;
      report.staged_at = report.started_at = format_iso8601(std::chrono::system_clock::now());
      tasks_.emplace(spec.task_id, report);
      stats_.running++;
      stats_.launches++;
      queue_status(spec.task_id, spec.app_id, protocol::TaskState::kRunning);
    } else if (const auto* kill = command.as<protocol::KillCommand>()) {
      auto it = tasks_.find(kill->task_id);
      std::string app_id = it == tasks_.end() ? "" : it->second.app_id;
      if (it != tasks_.end()) {
        tasks_.erase(it);
        stats_.running--;
      }
      stats_.kills++;
      queue_status(kill->task_id, app_id, protocol::TaskState::kKilled);
    } else if (const auto* datasets = command.as<protocol::DatasetsCommand>()) {
      assignments_ = datasets->datasets;
    }
  }

  // Sends one batch of pending updates; forgets those acknowledged. False on failure.
  bool flush_status(const AgentCredential& who) {
    protocol::StatusBatch batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& u : pending_) {
        batch.updates.push_back(u);
        if (batch.updates.size() >= kMaxStatusBatch) break;
      }
    }
    if (batch.updates.empty()) return true;
    auto ack = master_.send_status(who, batch);
    if (!ack) {
      if (ack.error().code != ErrorCode::kInternal) note_failure(ack.error());
      return false;
    }
    std::set<std::string> acked(ack->acked.begin(), ack->acked.end());
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<protocol::StatusUpdate> rest;
    for (auto& u : pending_) {
      if (!acked.count(u.update_id)) rest.push_back(std::move(u));
    }
    stats_.updates_acked += static_cast<int64_t>(pending_.size() - rest.size());
    pending_.swap(rest);
    return true;
  }

  // Polls for commands once: a long poll when no update waits, a quick look otherwise.
  bool poll_commands(const AgentCredential& who) {
    uint64_t after;
    bool waiting_updates;
    {
      std::lock_guard<std::mutex> lock(mu_);
      after = last_seq_;
      waiting_updates = !pending_.empty();
    }
    int64_t wait_ms = 0;
    if (!waiting_updates) {
      std::lock_guard<std::mutex> lock(mu_);
      wait_ms = std::clamp<int64_t>(10 * heartbeat_ms_, kCommandWaitMs, 30000);  // as the agent
    }
    auto batch = master_.poll_commands(who, after, std::chrono::milliseconds(wait_ms));
    if (!batch) {
      if (batch.error().code == ErrorCode::kInternal) return false;
      note_failure(batch.error());
      // `after` is beyond what the master sent (it forgot this agent's commands); only a new
      // registration tells the agent where the master's sequence stands.
      if (batch.error().code == ErrorCode::kInvalidArgument) mark_unregistered();
      return false;
    }
    for (const auto& command : batch->commands) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (who.agent_id != agent_id_ || command.seq <= last_seq_) continue;
      }
      execute(command);
      std::lock_guard<std::mutex> lock(mu_);
      last_seq_ = std::max(last_seq_, command.seq);
    }
    return true;
  }

  void work_loop() {
    while (!g_stopping) {
      AgentCredential who;
      bool registered;
      {
        std::lock_guard<std::mutex> lock(mu_);
        who = {agent_id_, secret_};
        registered = registered_;
      }
      if (!registered) {
        register_with_master();
        continue;
      }
      if (options_.no_poll) {
        sleep_unless_stopping(kRetryDelay);  // heartbeats only, from the other thread
        continue;
      }
      if (!flush_status(who) || !poll_commands(who)) sleep_unless_stopping(kRetryDelay);
    }
  }

  const Options& options_;
  MasterLink& master_;  // shared by every simulated agent; thread-safe
  const std::string hostname_;
  Stats& stats_;

  std::mutex mu_;
  std::string agent_id_;
  std::string secret_;  // of the current registration
  bool registered_ = false;
  uint64_t last_seq_ = 0;
  int64_t heartbeat_ms_ = 500;
  uint64_t update_counter_ = 0;
  std::map<std::string, protocol::TaskReport> tasks_;
  std::deque<protocol::StatusUpdate> pending_;  // unacknowledged status updates
  std::vector<protocol::DatasetAssignment> assignments_;
  int64_t reported_attached_ = 0;  // heartbeat_once() only
  uint64_t heartbeat_seq_ = 0;     // heartbeat_once() only
};

// Sends every agent's heartbeat when it is due: one thread hands the agents whose heartbeat is
// due, earliest first, to a few sending threads (so no timed wait wakes them all at once).
class HeartbeatPool {
 public:
  explicit HeartbeatPool(int threads) : threads_(threads) {}

  // `agent` sends its first heartbeat at `first`.
  void add(SimAgent* agent, std::chrono::steady_clock::time_point first) {
    std::lock_guard<std::mutex> lock(mu_);
    due_.push({first, agent});
    timer_.notify_one();
  }

  void start() {
    workers_.emplace_back([this] { dispatch(); });
    for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { send(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    timer_.notify_all();
    ready_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  struct Due {
    std::chrono::steady_clock::time_point at;
    SimAgent* agent;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  void dispatch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (due_.empty()) {
        timer_.wait(lock);
        continue;
      }
      const Due next = due_.top();
      if (next.at > std::chrono::steady_clock::now()) {
        timer_.wait_until(lock, next.at);
        continue;
      }
      due_.pop();
      ready_.push_back(next.agent);
      ready_cv_.notify_one();
    }
  }

  void send() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      ready_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      SimAgent* agent = ready_.front();
      ready_.pop_front();
      lock.unlock();
      const int64_t in_ms = agent->heartbeat_once();
      lock.lock();
      const auto at = std::chrono::steady_clock::now() + std::chrono::milliseconds(in_ms);
      const bool earliest = due_.empty() || at < due_.top().at;
      due_.push({at, agent});
      if (earliest) timer_.notify_one();
    }
  }

  const int threads_;
  std::mutex mu_;
  std::condition_variable timer_;     // the dispatcher: a new earliest due time, or the stop
  std::condition_variable ready_cv_;  // the senders: an agent is due
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  std::deque<SimAgent*> ready_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

void usage() {
  std::fprintf(stderr,
               "usage: berth-bench-sim-agents --master URL --token T --agents N [--prefix NAME]\n"
               "                              [--report-interval-s S] [--ramp-s S] [--no-poll]\n"
               "Registers N simulated agents (hostnames NAME-0 .. NAME-(N-1)) with the master and\n"
               "answers its launch/kill commands without running anything; datasets assigned to\n"
               "them are reported attached. --no-poll: heartbeat only, never fetch commands.\n"
               "--ramp-s: start the agents spread over S seconds (default 0: all at once).\n"
               "Stops on SIGINT/SIGTERM.\n");
}

bool parse_options(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--no-poll") {
      o->no_poll = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value after %s\n", arg.c_str());
      return false;
    }
    std::string value = argv[++i];
    if (arg == "--master") {
      o->master_url = value;
    } else if (arg == "--token") {
      o->token = value;
    } else if (arg == "--agents") {
      o->agents = std::atoi(value.c_str());
    } else if (arg == "--prefix") {
      o->prefix = value;
    } else if (arg == "--ramp-s") {
      o->ramp_s = std::max(0, std::atoi(value.c_str()));
    } else if (arg == "--report-interval-s") {
      o->report_interval_s = std::max(1, std::atoi(value.c_str()));
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return false;
    }
  }
  if (o->master_url.empty()) {
    std::fprintf(stderr, "--master is required, e.g. --master http://127.0.0.1:8080\n");
    return false;
  }
  if (o->agents < 1 || o->agents > kMaxAgents) {
    std::fprintf(stderr, "--agents must be between 1 and %d, got %d\n", kMaxAgents, o->agents);
    return false;
  }
  return true;
}

// One line of counts; the heartbeat quantiles are of the period since the last line and, after
// "total", of the whole run (bucket bounds, 1 ms buckets).
void report(Stats& s, int agents, Counts& total) {
  Counts period{};
  s.heartbeat_ms.drain_into(period);
  for (size_t i = 0; i < period.size(); ++i) total[i] += period[i];
  std::printf(
      "sim-agents: registered %lld/%d (registrations %lld) running %lld launches %lld kills %lld "
      "acked %lld datasets %lld failures %lld refused %lld heartbeats %lld interval-ms %lld "
      "heartbeat-ms p50 %lld p99 %lld max %lld total p50 %lld p99 %lld max %lld "
      "slowest-heartbeat-ms %lld\n",
      static_cast<long long>(s.registered.load()), agents,
      static_cast<long long>(s.registrations.load()), static_cast<long long>(s.running.load()),
      static_cast<long long>(s.launches.load()), static_cast<long long>(s.kills.load()),
      static_cast<long long>(s.updates_acked.load()),
      static_cast<long long>(s.datasets_attached.load()),
      static_cast<long long>(s.request_failures.load()), static_cast<long long>(s.refused.load()),
      static_cast<long long>(s.heartbeats.load()),
      static_cast<long long>(s.heartbeat_interval_ms.load()),
      static_cast<long long>(quantile_ms(period, 0.5)),
      static_cast<long long>(quantile_ms(period, 0.99)), static_cast<long long>(max_ms(period)),
      static_cast<long long>(quantile_ms(total, 0.5)),
      static_cast<long long>(quantile_ms(total, 0.99)), static_cast<long long>(max_ms(total)),
      static_cast<long long>(s.slowest_heartbeat_ms.exchange(0)));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, &options)) {
    usage();
    return 2;
  }
  // Every thread inherits the blocked mask; only main() takes the signals, with sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Stats stats;
  // Generous: a slow answer should show as a slow master, not as a failed call.
  agent::HttpMasterLinkOptions link_options;
  link_options.master_url = options.master_url;
  link_options.request_timeout = 10s;
  link_options.poll_slack = 10s;
  agent::HttpMasterLink master(link_options);
  std::vector<std::unique_ptr<SimAgent>> agents;
  std::vector<std::thread> threads;
  HeartbeatPool heartbeats(kHeartbeatThreads);
  heartbeats.start();
  Counts total{};
  std::printf("sim-agents: starting %d agents against %s over %d s%s\n", options.agents,
              options.master_url.c_str(), options.ramp_s,
              options.no_poll ? " (--no-poll: heartbeats only)" : "");
  std::fflush(stdout);
  const auto began = std::chrono::steady_clock::now();
  auto next_report = began + std::chrono::seconds(options.report_interval_s);
  int started = 0;
  bool stop = false;
  while (!stop) {
    // Start the agents due by now (all at once without a ramp), then wait for a signal until
    // the next start or report.
    const auto now = std::chrono::steady_clock::now();
    while (started < options.agents &&
           (options.ramp_s == 0 ||
            now - began >= std::chrono::milliseconds(int64_t{1000} * options.ramp_s * started /
                                                     options.agents))) {
      agents.push_back(std::make_unique<SimAgent>(options, master, started++, stats));
      SimAgent* agent = agents.back().get();
      threads.emplace_back([agent] { agent->run(); });
      heartbeats.add(agent, now + 50ms);
    }
    if (now >= next_report) {
      report(stats, options.agents, total);
      next_report += std::chrono::seconds(options.report_interval_s);
    }
    const auto until = started < options.agents ? std::min(next_report, now + 10ms) : next_report;
    const auto wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::max(until - std::chrono::steady_clock::now(),
                                      std::chrono::steady_clock::duration(1ms)))
                             .count();
    timespec interval{static_cast<time_t>(wait_ns / 1000000000),
                      static_cast<long>(wait_ns % 1000000000)};
    int sig = sigtimedwait(&signals, nullptr, &interval);
    stop = sig == SIGINT || sig == SIGTERM;
    if (sig == SIGUSR1) {  // the whole run's heartbeat figures start again from here
      report(stats, options.agents, total);
      total.fill(0);
    }
  }
  g_stopping = true;
  std::printf("sim-agents: stopping\n");
  heartbeats.stop();
  for (auto& t : threads) t.join();
  report(stats, options.agents, total);
  return 0;
}
