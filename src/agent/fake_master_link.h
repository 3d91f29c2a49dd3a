// FakeMasterLink: a master's side of the agent protocol kept in memory, for tests that run
// agents (or anything else speaking MasterLink) without a master. It follows
// docs/protocol.md as the contract suite checks it (tests/contract/master_link_contract_test.cpp):
// ids and secrets at registration, "register again" for an unknown id or a wrong secret,
// acknowledged heartbeats, an outbox of commands with growing sequence numbers that a poll
// acknowledges, idempotent status updates, and a kill back for a non-terminal update of a
// task it never launched. It places nothing and runs no reconcile loop: a test queues
// commands itself and reads what the agent reported. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/master_link.h"

namespace berth::agent {

struct FakeMasterOptions {
  std::string join_token = "join-token";
  int64_t heartbeat_interval_ms = 100;
  int64_t lease_ms = 2500;
};

class FakeMasterLink final : public MasterLink {
 public:
  explicit FakeMasterLink(FakeMasterOptions options = {});

  // MasterLink, answered from memory.
  Result<protocol::RegisterResponse> register_agent(
      const protocol::RegisterRequest& request) override;
  Result<protocol::HeartbeatAck> heartbeat(const AgentCredential& agent,
                                           const protocol::Heartbeat& hb,
                                           std::chrono::milliseconds timeout) override;
  Result<protocol::StatusAck> send_status(const AgentCredential& agent,
                                          const protocol::StatusBatch& batch) override;
  Result<protocol::CommandBatch> poll_commands(const AgentCredential& agent, uint64_t after,
                                               std::chrono::milliseconds wait) override;

  // --- the master's side, for tests ---

  // Queues `command` for the agent with the next sequence number and a fresh command id, and
  // returns that sequence number; kNotFound for an agent that is not registered.
  Result<uint64_t> enqueue(const std::string& agent_id, protocol::Command command);
  // Queues a launch of `spec` (the task is known to the fake from then on).
  Result<uint64_t> enqueue_launch(const std::string& agent_id, const protocol::LaunchSpec& spec);
  // The master forgets the agent, as when it is declared lost: its calls ask it to register again.
  void forget(const std::string& agent_id);
  // The interval and lease that answers give from now on, as a master that stretched its
  // fleet's timing does (docs/fencing.md §10).
  void set_timing(int64_t heartbeat_interval_ms, int64_t lease_ms);
  // What heartbeat answers assign the agent from now on.
  void set_assignments(const std::string& agent_id,
                       std::vector<protocol::DatasetAssignment> assignments);

  // Registered agents' ids, sorted.
  std::vector<std::string> agents() const;
  // The last registration request of the agent, if any.
  std::optional<protocol::RegisterRequest> registration(const std::string& agent_id) const;
  // Heartbeats received from the agent (the last 1000).
  std::vector<protocol::Heartbeat> heartbeats(const std::string& agent_id) const;
  // Status updates received from the agent, each update id once, in order of arrival (the
  // last 10000).
  std::vector<protocol::StatusUpdate> status_updates(const std::string& agent_id) const;
  // The latest state reported for the task, if any was.
  std::optional<protocol::TaskState> task_state(const std::string& task_id) const;

 private:
  struct AgentRecord {
    std::string secret;
    protocol::RegisterRequest registration;
    uint64_t heartbeat_seq = 0;  // the newest heartbeat taken from this agent process
    uint64_t next_seq = 1;
    std::deque<protocol::Command> outbox;
    std::deque<protocol::Heartbeat> heartbeats;
    std::deque<protocol::StatusUpdate> updates;
    std::vector<protocol::DatasetAssignment> assignments;
  };
  // The agent `agent` speaks for, or kRegisterAgain. Called with mu_ held.
  Result<AgentRecord*> authenticate(const AgentCredential& agent);
  std::string next_id();
  uint64_t enqueue_locked(AgentRecord& record, protocol::Command command);

  FakeMasterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable commands_cv_;
  uint64_t counter_ = 0;
  std::map<std::string, AgentRecord> agents_;
  std::set<std::string> seen_updates_;                      // update ids taken, for idempotence
  std::deque<std::string> seen_order_;                      // the same ids, oldest first (bounded)
  std::map<std::string, protocol::TaskState> task_states_;  // task id -> latest reported state
  std::set<std::string> launched_;  // task ids this master sent launches for
};

}  // namespace berth::agent
