// GET /berth/v1/agents/{id}/commands through the master's API dispatch: a poll with a wait is
// answered later (Response::defer, docs/protocol.md §5) and holds no thread; one without is
// answered at once. The test plays the HTTP server's part with a Reply of its own.
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/marathon_api.h"
#include "master/test_support.h"
#include "store/memory_store.h"

namespace berth::api {
namespace {

using std::chrono::milliseconds;

using master::testing::CountingIds;

// What the HTTP server hands a deferred request's `defer`: records the answer.
class RecordingReply final : public http::Reply {
 public:
  bool complete(http::Response response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (answer_ || gone_) return false;
    answer_ = std::move(response);
    return true;
  }
  bool abandoned() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return gone_;
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mu_);
    gone_ = true;
  }
  std::optional<http::Response> answer() const {
    std::lock_guard<std::mutex> lock(mu_);
    return answer_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<http::Response> answer_;
  bool gone_ = false;
};

class AgentCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    master::MasterOptions options;
    options.join_token = "t";
    core_ = std::make_unique<master::MasterCore>(options, store_, clock_, ids_);
    ASSERT_TRUE(core_->load().ok());
    protocol::RegisterRequest r;
    r.token = "t";
    r.hostname = "node-a";
    http::Response registered = call("POST", "/berth/v1/agents/register", nlohmann::json(r).dump());
    ASSERT_EQ(registered.status, 200) << registered.body;
    auto response = protocol::decode<protocol::RegisterResponse>(registered.body);
    ASSERT_TRUE(response.ok());
    agent_ = response->agent_id;
    secret_ = response->agent_secret;
    after_ = response->next_command_seq;
  }

  http::Response call(const std::string& method, const std::string& target,
                      const std::string& body = "") {
    http::Request r;
    r.method = method;
    r.target = target;
    http::split_target(target, &r.path, &r.query);
    r.body = body;
    if (!secret_.empty()) r.headers["authorization"] = "Bearer " + secret_;
    return handle_request(*core_, clock_, info_, auth_, r);
  }

  http::Response poll(uint64_t wait_ms) {
    return call("GET", "/berth/v1/agents/" + agent_ + "/commands?after=" + std::to_string(after_) +
                           "&wait_ms=" + std::to_string(wait_ms));
  }

  // A running task the master never launched: the master queues a kill of it.
  void report_stray(const std::string& task_id) {
    protocol::StatusUpdate update;
    update.update_id = "u-" + task_id;
    update.task_id = task_id;
    update.state = protocol::TaskState::kRunning;
    http::Response ack = call("POST", "/berth/v1/agents/" + agent_ + "/status",
                              nlohmann::json(protocol::StatusBatch{{update}}).dump());
    ASSERT_EQ(ack.status, 200) << ack.body;
  }

  MemoryStore store_;
  ManualClock clock_;
  CountingIds ids_;
  std::unique_ptr<master::MasterCore> core_;
  Authenticator auth_{store_, clock_, ids_};
  ApiInfo info_;
  std::string agent_, secret_;
  uint64_t after_ = 0;
};

TEST_F(AgentCommands, APollWithAWaitIsDeferredAndAnsweredWithTheNextCommand) {
  http::Response response = poll(2000);
  ASSERT_TRUE(response.defer) << "a poll with a wait must not block its thread";
  EXPECT_EQ(response.defer_timeout, milliseconds(2000));
  EXPECT_EQ(response.status, 200);
  auto fallback = protocol::decode<protocol::CommandBatch>(response.body);
  ASSERT_TRUE(fallback.ok()) << response.body;
  EXPECT_TRUE(fallback->commands.empty()) << "the answer when the wait passes is an empty batch";

  auto reply = std::make_shared<RecordingReply>();
  response.defer(reply);
  EXPECT_FALSE(reply->answer());
  EXPECT_EQ(core_->parked_polls(), 1u);
  report_stray("stray.1");
  auto answer = reply->answer();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  auto batch = protocol::decode<protocol::CommandBatch>(answer->body);
  ASSERT_TRUE(batch.ok()) << answer->body;
  ASSERT_EQ(batch->commands.size(), 1u);
  ASSERT_NE(batch->commands[0].as<protocol::KillCommand>(), nullptr);
  EXPECT_EQ(batch->commands[0].as<protocol::KillCommand>()->task_id, "stray.1");
}

TEST_F(AgentCommands, AClientThatLeftIsNotAnsweredAndAWaitOverThirtySecondsIsCapped) {
  http::Response response = poll(600000);
  ASSERT_TRUE(response.defer);
  EXPECT_EQ(response.defer_timeout, milliseconds(30000));
  auto reply = std::make_shared<RecordingReply>();
  response.defer(reply);
  reply->leave();
  report_stray("stray.1");
  EXPECT_FALSE(reply->answer());
  EXPECT_EQ(core_->parked_polls(), 0u);
}

TEST_F(AgentCommands, APollWithoutAWaitOrWithAnErrorIsAnsweredAtOnce) {
  http::Response empty = poll(0);
  EXPECT_FALSE(empty.defer);
  EXPECT_EQ(empty.status, 200);
  report_stray("stray.1");
  http::Response one = poll(0);
  EXPECT_FALSE(one.defer);
  auto batch = protocol::decode<protocol::CommandBatch>(one.body);
  ASSERT_TRUE(batch.ok()) << one.body;
  EXPECT_EQ(batch->commands.size(), 1u);

  after_ += 5;  // beyond the last command sent
  http::Response refused = poll(2000);
  ASSERT_TRUE(refused.defer);
  auto reply = std::make_shared<RecordingReply>();
  refused.defer(reply);
  ASSERT_TRUE(reply->answer()) << "an error needs no wait";
  EXPECT_EQ(reply->answer()->status, 400);
}

}  // namespace
}  // namespace berth::api
