// HttpMasterLink: MasterLink over the master's HTTP API (docs/protocol.md §1). Each call is one
// blocking request to the current master of `master_url` (one URL or several, comma-separated:
// a master that does not answer is left for the next at once, agent/master_endpoints.h); calls
// after registration carry `Authorization: Bearer <agent secret>`. With an https URL the master's
// certificate is checked against the CA file the process set with http::set_client_ca_file()
// (`berth agent --ca-cert`). The agent and bench/sim_agents.cpp use it.
#pragma once

#include <string>

#include "agent/master_endpoints.h"
#include "agent/master_link.h"

namespace berth::agent {

struct HttpMasterLinkOptions {
  // http://host:port or https://host:port, or several separated by commas.
  std::string master_url = "http://127.0.0.1:8080";
  // How long registration and status deliveries may take. Short, so that a master that was
  // paused or cut off holds a report back by this much at most: the call then goes to the next
  // master (docs/protocol.md §1), and the report stays buffered until one acknowledges it.
  std::chrono::milliseconds request_timeout{3000};
  // A long poll may take its `wait` plus this much; a poll cut short is simply made again, and
  // commands stay queued until a poll acknowledges them.
  std::chrono::milliseconds poll_slack{3000};
};

class HttpMasterLink final : public MasterLink {
 public:
  explicit HttpMasterLink(HttpMasterLinkOptions options);

  // Answers map to errors as MasterLink says: 401 to registration is kPermissionDenied;
  // 404 and 401 to the other calls are kRegisterAgain; 400 to a poll is kInvalidArgument;
  // no answer, a timeout or any other status is kUnavailable (the message carries the status
  // and the master's message); an answer that does not parse is kInternal.
  Result<protocol::RegisterResponse> register_agent(
      const protocol::RegisterRequest& request) override;
  Result<protocol::HeartbeatAck> heartbeat(const AgentCredential& agent,
                                           const protocol::Heartbeat& hb,
                                           std::chrono::milliseconds timeout) override;
  Result<protocol::StatusAck> send_status(const AgentCredential& agent,
                                          const protocol::StatusBatch& batch) override;
  Result<protocol::CommandBatch> poll_commands(const AgentCredential& agent, uint64_t after,
                                               std::chrono::milliseconds wait) override;

  // The master calls go to now.
  std::string master_url() const { return masters_.current(); }

 private:
  HttpMasterLinkOptions options_;
  MasterEndpoints masters_;
};

}  // namespace berth::agent
