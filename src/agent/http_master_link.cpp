// HttpMasterLink: the agent protocol's calls as HTTP requests (docs/protocol.md §1).
#include "agent/http_master_link.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/http.h"
#include "json/bounded.h"

namespace berth::agent {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers bearer(const AgentCredential& agent) {
  return {{"Authorization", "Bearer " + agent.secret}};
}

int as_timeout_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<int64_t>(d.count(), 1, 24 * 3600 * 1000));
}

// The message of the master in an error answer ({"message": ...}), else the body itself.
std::string master_message(const http::ClientResponse& response) {
  auto body = json::parse_or_discarded(response.body);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return body["message"].get<std::string>();
  }
  return response.body.substr(0, 200);
}

// Reads a message of the master: kInternal when the answer does not have its shape.
template <typename Message>
Result<Message> read_message(const std::string& text) {
  auto message = protocol::decode<Message>(text);
  if (!message)
    return make_error(ErrorCode::kInternal,
                      "malformed message from the master: " + message.error().message);
  return message;
}

// Maps the answer to a call made after registration to its message or error.
template <typename Message>
Result<Message> session_answer(const std::string& what, const Result<http::ClientResponse>& res) {
  if (!res) {
    return make_error(ErrorCode::kUnavailable, "cannot reach a master: " + res.error().message);
  }
  if (res->status == 200) return read_message<Message>(res->body);
  std::string message =
      what + ": the master answered " + std::to_string(res->status) + ": " + master_message(*res);
  if (res->status == 404 || res->status == 401) return make_error(kRegisterAgain, message);
  if (res->status == 400) return make_error(ErrorCode::kInvalidArgument, message);
  return make_error(ErrorCode::kUnavailable, message);
}

}  // namespace

HttpMasterLink::HttpMasterLink(HttpMasterLinkOptions options)
    : options_(std::move(options)), masters_(options_.master_url) {}

Result<protocol::RegisterResponse> HttpMasterLink::register_agent(
    const protocol::RegisterRequest& request) {
  auto res = masters_.request("POST", "/berth/v1/agents/register", nlohmann::json(request).dump(),
                              as_timeout_ms(options_.request_timeout));
  if (!res) {
    return make_error(ErrorCode::kUnavailable, "cannot reach a master: " + res.error().message);
  }
  if (res->status == 200) return read_message<protocol::RegisterResponse>(res->body);
  if (res->status == 401) {
    return make_error(ErrorCode::kPermissionDenied,
                      "the master refused the join token: " + res->body);
  }
  return make_error(ErrorCode::kUnavailable, "registration: the master answered " +
                                                 std::to_string(res->status) + ": " +
                                                 master_message(*res));
}

Result<protocol::HeartbeatAck> HttpMasterLink::heartbeat(const AgentCredential& agent,
                                                         const protocol::Heartbeat& hb,
                                                         std::chrono::milliseconds timeout) {
  auto res = masters_.request("POST", "/berth/v1/agents/" + agent.agent_id + "/heartbeat",
                              nlohmann::json(hb).dump(), as_timeout_ms(timeout), bearer(agent));
  return session_answer<protocol::HeartbeatAck>("heartbeat", res);
}

Result<protocol::StatusAck> HttpMasterLink::send_status(const AgentCredential& agent,
                                                        const protocol::StatusBatch& batch) {
  auto res = masters_.request("POST", "/berth/v1/agents/" + agent.agent_id + "/status",
                              nlohmann::json(batch).dump(), as_timeout_ms(options_.request_timeout),
                              bearer(agent));
  return session_answer<protocol::StatusAck>("status update", res);
}

Result<protocol::CommandBatch> HttpMasterLink::poll_commands(const AgentCredential& agent,
                                                             uint64_t after,
                                                             std::chrono::milliseconds wait) {
  auto res = masters_.request("GET",
                              "/berth/v1/agents/" + agent.agent_id +
                                  "/commands?after=" + std::to_string(after) +
                                  "&wait_ms=" + std::to_string(wait.count()),
                              "", as_timeout_ms(wait + options_.poll_slack), bearer(agent));
  return session_answer<protocol::CommandBatch>("command poll", res);
}

}  // namespace berth::agent
