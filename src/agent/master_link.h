// MasterLink: the agent's four calls to the master (docs/protocol.md §1): register, heartbeat,
// status updates and the command long poll. The agent (agent/agent.h) and the agent simulator
// of bench/ call the master only through it. HttpMasterLink speaks the protocol over HTTP;
// FakeMasterLink keeps a master's side in memory for tests. Both pass
// tests/contract/master_link_contract_test.cpp.
//
// A link holds no session: every call after registration names the agent and carries the
// secret of its registration (AgentCredential), so one link can serve many agents.
// Implementations are thread-safe: the agent calls from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "protocol/messages.h"

namespace berth::agent {

// "Register again" (docs/protocol.md §2, §5): the master does not know this agent id any more
// (never registered, lost, or asked to register again) or the call did not carry the secret
// of its current registration. Nothing else about the call changed anything on the master.
inline constexpr ErrorCode kRegisterAgain = ErrorCode::kNotFound;

// Who speaks: the agent id and the secret from its RegisterResponse.
struct AgentCredential {
  std::string agent_id;
  std::string secret;
};

class MasterLink {
 public:
  virtual ~MasterLink() = default;

  // Joins (or rejoins, with request.agent_id set) the cluster. Outcomes:
  //   the response: the agent id (kept or minted), a fresh secret, next_command_seq;
  //   kPermissionDenied: the join token was refused (retrying will not help);
  //   kUnavailable: the master could not be reached or answered with a failure;
  //   kInternal: the answer did not have the protocol's shape.
  virtual Result<protocol::RegisterResponse> register_agent(
      const protocol::RegisterRequest& request) = 0;

  // Sends one heartbeat; `timeout` bounds the wait for the answer (an answer later than the
  // lease is of no use). The ack echoes hb.seq and carries the lease and the agent's dataset
  // assignments. Errors: kRegisterAgain, kUnavailable, kInternal as above.
  virtual Result<protocol::HeartbeatAck> heartbeat(const AgentCredential& agent,
                                                   const protocol::Heartbeat& hb,
                                                   std::chrono::milliseconds timeout) = 0;

  // Delivers status updates (at most 500 per batch). The ack lists the update_ids the master
  // has taken; sending an update again is harmless. Errors: kRegisterAgain, kUnavailable,
  // kInternal.
  virtual Result<protocol::StatusAck> send_status(const AgentCredential& agent,
                                                  const protocol::StatusBatch& batch) = 0;

  // Commands with seq > `after`, waiting up to `wait` (capped by the master at 30 s) when there
  // are none; an empty batch after the wait. Asking for `after` acknowledges every command up
  // to it. Errors: kRegisterAgain, kUnavailable, kInternal, and kInvalidArgument when `after`
  // is beyond the last command the master sent (only a new registration says where the
  // master's sequence stands).
  virtual Result<protocol::CommandBatch> poll_commands(const AgentCredential& agent, uint64_t after,
                                                       std::chrono::milliseconds wait) = 0;
};

}  // namespace berth::agent
