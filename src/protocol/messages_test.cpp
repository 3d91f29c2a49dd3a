#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::protocol {

TEST(Messages, RegisterRequestRoundTrips) {
  RegisterRequest r;
  r.token = "t";
  r.agent_id = "a1";
  r.hostname = "node-1";
  r.resources.cpus = 2;
  r.resources.ports = {{31000, 32000}};
  r.attributes = {{"rack", "a"}};
  TaskReport t;
  t.task_id = "web.instance-1._app.1";
  t.state = kTaskRunning;
  t.ports = {31001};
  r.tasks.push_back(t);
  RegisterRequest back = nlohmann::json(r).get<RegisterRequest>();
  EXPECT_EQ(back.agent_id, "a1");
  EXPECT_EQ(back.resources.ports[0].end, 32000u);
  EXPECT_EQ(back.attributes.at("rack"), "a");
  ASSERT_EQ(back.tasks.size(), 1u);
  EXPECT_EQ(back.tasks[0].ports[0], 31001u);
}

TEST(Messages, LaunchCommandKeepsCmdAbsentWhenArgsAreUsed) {
  Command c;
  c.seq = 7;
  c.type = "launch";
  LaunchSpec spec;
  spec.task_id = "x";
  spec.args = {"sleep", "10"};
  c.launch = spec;
  nlohmann::json j = c;
  EXPECT_FALSE(j["launch"].contains("cmd"));
  Command back = j.get<Command>();
  ASSERT_TRUE(back.launch.has_value());
  EXPECT_FALSE(back.launch->cmd.has_value());
  EXPECT_EQ(back.launch->args.size(), 2u);
  EXPECT_EQ(back.seq, 7u);
}

TEST(Messages, ALaunchCarriesTheAppsUser) {
  LaunchSpec spec;
  spec.task_id = "x";
  spec.user = "nobody";
  EXPECT_EQ(nlohmann::json(spec).get<LaunchSpec>().user, "nobody");
  // From a master that sends no user: the agent's default applies.
  EXPECT_TRUE(nlohmann::json::parse(R"({"task_id":"x"})").get<LaunchSpec>().user.empty());
}

TEST(Messages, MissingFieldsKeepDefaults) {
  auto hb = nlohmann::json::parse("{}").get<HeartbeatAck>();
  EXPECT_EQ(hb.lease_ms, 2500);
}

TEST(Messages, ALocalDatasetMoveCarriesWhereToCopyFrom) {
  DatasetAssignment a;
  a.dataset_id = "d";
  a.driver = "local";
  a.epoch = 4;
  a.attach = true;
  a.copy_from = "http://10.0.0.1:7070";
  a.copy_from_node = "node-1";
  DatasetAssignment back = nlohmann::json(a).get<DatasetAssignment>();
  EXPECT_EQ(back.copy_from, "http://10.0.0.1:7070");
  EXPECT_EQ(back.copy_from_node, "node-1");
  // From a master that knows nothing of copies: nothing to copy.
  auto old = nlohmann::json::parse(R"({"dataset_id":"d","driver":"local","epoch":4,"attach":true})")
                 .get<DatasetAssignment>();
  EXPECT_TRUE(old.copy_from.empty());
  DatasetReport r;
  r.dataset_id = "d";
  r.local_copy = true;
  EXPECT_TRUE(nlohmann::json(r).get<DatasetReport>().local_copy);
}

TEST(Messages, TerminalStatesAreMesosTerminalStates) {
  EXPECT_TRUE(is_terminal_state(kTaskFailed));
  EXPECT_TRUE(is_terminal_state(kTaskLost));
  EXPECT_FALSE(is_terminal_state(kTaskRunning));
  EXPECT_FALSE(is_terminal_state(kTaskStaging));
}

// Found by tests/fuzz/agent_messages: nlohmann converts a float to an integer field with a
// bare cast, undefined behaviour when out of range. Such numbers are refused like wrong types.
TEST(Messages, NumbersAnIntegerFieldCannotHoldAreRefused) {
  auto read = [](const char* text) { return nlohmann::json::parse(text).get<CommandBatch>(); };
  EXPECT_THROW(read(R"({"commands":[{"seq":1e300}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"seq":-1}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"seq":18446744073709551616.0}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"launch":{"ports":[4294967296]}}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"kill_grace_ms":"5"}]})"), nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"http_port":-5})").get<RegisterRequest>(), nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"resources":{"ports":[{"begin":1.5e10}]}})").get<RegisterRequest>(),
               nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse("[1]").get<Heartbeat>(), nlohmann::json::exception);

  CommandBatch batch = read(R"({"commands":[{"seq":18446744073709551615,"kill_grace_ms":-1,"launch":{"ports":[31000.0]}}]})");
  EXPECT_EQ(batch.commands[0].seq, 18446744073709551615u);
  EXPECT_EQ(batch.commands[0].kill_grace_ms, -1);
  EXPECT_EQ(batch.commands[0].launch->ports, std::vector<uint32_t>{31000});
  EXPECT_EQ(nlohmann::json::parse(R"({"lease_ms":-9223372036854775808})").get<RegisterResponse>().lease_ms,
            INT64_MIN);
}

}  // namespace berth::protocol
