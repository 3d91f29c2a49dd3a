// FakeMasterLink: the master's side of docs/protocol.md in memory.
#include "agent/fake_master_link.h"

#include <algorithm>
#include <cstdio>

namespace berth::agent {

namespace {

constexpr size_t kMaxHeartbeats = 1000;
constexpr size_t kMaxUpdates = 10000;
constexpr size_t kMaxSeenUpdates = 100000;
constexpr size_t kMaxBatch = 1000;

template <typename T>
void push_bounded(std::deque<T>& queue, T value, size_t bound) {
  queue.push_back(std::move(value));
  while (queue.size() > bound) queue.pop_front();
}

}  // namespace

FakeMasterLink::FakeMasterLink(FakeMasterOptions options) : options_(std::move(options)) {}

std::string FakeMasterLink::next_id() {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llu",
                static_cast<unsigned long long>(++counter_));
  return buf;
}

Result<FakeMasterLink::AgentRecord*> FakeMasterLink::authenticate(const AgentCredential& agent) {
  auto it = agents_.find(agent.agent_id);
  if (it == agents_.end())
    return make_error(kRegisterAgain, "unknown agent " + agent.agent_id + ": register again");
  if (it->second.secret.empty() || it->second.secret != agent.secret) {
    return make_error(kRegisterAgain, "this call for agent " + agent.agent_id +
                                          " does not carry the agent's credential");
  }
  return &it->second;
}

Result<protocol::RegisterResponse> FakeMasterLink::register_agent(
    const protocol::RegisterRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (request.token != options_.join_token)
    return make_error(ErrorCode::kPermissionDenied, "invalid join token");
  std::string id = request.agent_id.empty() ? next_id() : request.agent_id;
  auto known = agents_.find(id);
  if (known != agents_.end() && request.heartbeat_seq > 0 &&
      request.heartbeat_seq < known->second.heartbeat_seq) {
    return make_error(ErrorCode::kConflict, "registration of agent " + id +
                                                " predates its last heartbeat: a newer "
                                                "registration is in force");
  }
  AgentRecord& record = agents_[id];
  record.heartbeat_seq = request.heartbeat_seq;
  record.secret = "secret-" + next_id();
  record.registration = request;
  record.outbox.clear();  // the agent's report is the truth from here on
  protocol::RegisterResponse response;
  response.agent_id = id;
  response.heartbeat_interval_ms = options_.heartbeat_interval_ms;
  response.lease_ms = options_.lease_ms;
  response.next_command_seq = record.next_seq - 1;
  response.agent_secret = record.secret;
  commands_cv_.notify_all();
  return response;
}

Result<protocol::HeartbeatAck> FakeMasterLink::heartbeat(const AgentCredential& agent,
                                                         const protocol::Heartbeat& hb,
                                                         std::chrono::milliseconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto record = authenticate(agent);
  if (!record) return record.error();
  (*record)->heartbeat_seq = std::max((*record)->heartbeat_seq, hb.seq);
  push_bounded((*record)->heartbeats, hb, kMaxHeartbeats);
  protocol::HeartbeatAck ack{hb.seq, options_.lease_ms, (*record)->assignments};
  ack.heartbeat_interval_ms = options_.heartbeat_interval_ms;  // as the master sends it
  return ack;
}

void FakeMasterLink::set_timing(int64_t heartbeat_interval_ms, int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.heartbeat_interval_ms = heartbeat_interval_ms;
  options_.lease_ms = lease_ms;
}

Result<protocol::StatusAck> FakeMasterLink::send_status(const AgentCredential& agent,
                                                        const protocol::StatusBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto record = authenticate(agent);
  if (!record) return record.error();
  protocol::StatusAck ack;
  for (const auto& update : batch.updates) {
    ack.acked.push_back(update.update_id);
    if (!seen_updates_.insert(update.update_id).second) continue;  // a resend: taken already
    seen_order_.push_back(update.update_id);
    if (seen_order_.size() > kMaxSeenUpdates) {
      seen_updates_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    push_bounded((*record)->updates, update, kMaxUpdates);
    task_states_[update.task_id] = update.state;
    // Not launched by this master and still running: make sure it does not keep running.
    if (!launched_.count(update.task_id) && !protocol::is_terminal(update.state)) {
      protocol::Command kill;
      kill.body = protocol::KillCommand{update.task_id, 0};
      enqueue_locked(**record, std::move(kill));
    }
  }
  return ack;
}

Result<protocol::CommandBatch> FakeMasterLink::poll_commands(const AgentCredential& agent,
                                                             uint64_t after,
                                                             std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = std::chrono::steady_clock::now() +
                  std::min<std::chrono::milliseconds>(wait, std::chrono::seconds(30));
  while (true) {
    auto record = authenticate(agent);
    if (!record) return record.error();
    AgentRecord& r = **record;
    if (after >= r.next_seq) {
      return make_error(ErrorCode::kInvalidArgument,
                        "after=" + std::to_string(after) +
                            " is beyond the last command sent to agent " + agent.agent_id + " (" +
                            std::to_string(r.next_seq - 1) + ")");
    }
    while (!r.outbox.empty() && r.outbox.front().seq <= after) r.outbox.pop_front();
    if (!r.outbox.empty()) {
      protocol::CommandBatch batch;
      for (const auto& c : r.outbox) {
        if (batch.commands.size() >= kMaxBatch) break;
        batch.commands.push_back(c);
      }
      return batch;
    }
    if (commands_cv_.wait_until(lock, deadline) == std::cv_status::timeout)
      return protocol::CommandBatch{};
  }
}

uint64_t FakeMasterLink::enqueue_locked(AgentRecord& record, protocol::Command command) {
  command.seq = record.next_seq++;
  command.command_id = "command-" + next_id();
  uint64_t seq = command.seq;
  record.outbox.push_back(std::move(command));
  commands_cv_.notify_all();
  return seq;
}

Result<uint64_t> FakeMasterLink::enqueue(const std::string& agent_id, protocol::Command command) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return make_error(ErrorCode::kNotFound, "unknown agent " + agent_id);
  if (const auto* launch = command.as<protocol::LaunchCommand>())
    launched_.insert(launch->spec.task_id);
  return enqueue_locked(it->second, std::move(command));
}

Result<uint64_t> FakeMasterLink::enqueue_launch(const std::string& agent_id,
                                                const protocol::LaunchSpec& spec) {
  protocol::Command command;
  command.body = protocol::LaunchCommand{spec};
  return enqueue(agent_id, std::move(command));
}

void FakeMasterLink::forget(const std::string& agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  agents_.erase(agent_id);
  commands_cv_.notify_all();
}

void FakeMasterLink::set_assignments(const std::string& agent_id,
                                     std::vector<protocol::DatasetAssignment> assignments) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it != agents_.end()) it->second.assignments = std::move(assignments);
}

std::vector<std::string> FakeMasterLink::agents() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, record] : agents_) ids.push_back(id);
  return ids;
}

std::optional<protocol::RegisterRequest> FakeMasterLink::registration(
    const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second.registration;
}

std::vector<protocol::Heartbeat> FakeMasterLink::heartbeats(const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return {};
  return {it->second.heartbeats.begin(), it->second.heartbeats.end()};
}

std::vector<protocol::StatusUpdate> FakeMasterLink::status_updates(
    const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return {};
  return {it->second.updates.begin(), it->second.updates.end()};
}

std::optional<protocol::TaskState> FakeMasterLink::task_state(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = task_states_.find(task_id);
  if (it == task_states_.end()) return std::nullopt;
  return it->second;
}

}  // namespace berth::agent
