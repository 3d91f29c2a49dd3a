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
  t.state = TaskState::kRunning;
  t.ports = {31001};
  r.tasks.push_back(t);
  RegisterRequest back = nlohmann::json(r).get<RegisterRequest>();
  EXPECT_EQ(back.agent_id, "a1");
  EXPECT_EQ(back.resources.ports[0].end, 32000u);
  EXPECT_EQ(back.attributes.at("rack"), "a");
  ASSERT_EQ(back.tasks.size(), 1u);
  EXPECT_EQ(back.tasks[0].ports[0], 31001u);
  EXPECT_EQ(back.tasks[0].state, TaskState::kRunning);
  EXPECT_EQ(nlohmann::json(r)["tasks"][0]["state"], "TASK_RUNNING");
}

TEST(Messages, LaunchCommandKeepsCmdAbsentWhenArgsAreUsed) {
  Command c;
  c.seq = 7;
  LaunchSpec spec;
  spec.task_id = "x";
  spec.args = {"sleep", "10"};
  c.body = LaunchCommand{spec};
  nlohmann::json j = c;
  EXPECT_EQ(j["type"], "launch");
  EXPECT_FALSE(j["launch"].contains("cmd"));
  Command back = j.get<Command>();
  ASSERT_NE(back.as<LaunchCommand>(), nullptr);
  EXPECT_FALSE(back.as<LaunchCommand>()->spec.cmd.has_value());
  EXPECT_EQ(back.as<LaunchCommand>()->spec.args.size(), 2u);
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

TEST(Messages, ALaunchCarriesTheTypedContainerAndNetworks) {
  LaunchSpec spec;
  spec.task_id = "web.1";
  model::ContainerSpec container;
  container.docker = model::DockerSpec{"nginx:1.25", false, true, {{"env", "MODE=fast"}}};
  container.port_mappings = {{80, 0u, 10000, "tcp", "http"}};
  model::ContainerVolume volume;
  volume.container_path = "/data";
  volume.external = model::ExternalVolumeSource{"db", std::nullopt, {{"dvdi/driver", "berth"}}};
  container.volumes = {volume};
  spec.container = container;
  spec.networks = {{"container/bridge", ""}};
  Command c;
  c.body = LaunchCommand{spec};
  std::string wire = encode(c);
  auto back = decode<Command>(wire);
  ASSERT_TRUE(back.ok()) << back.error().message;
  const LaunchSpec& got = back->as<LaunchCommand>()->spec;
  ASSERT_TRUE(got.container.has_value());
  EXPECT_EQ(*got.container, container);
  EXPECT_EQ(got.networks, spec.networks);
  // Marathon's JSON on the wire, as docs/protocol.md §5 describes it.
  auto j = nlohmann::json::parse(wire);
  EXPECT_EQ(j["launch"]["container"]["docker"]["image"], "nginx:1.25");
  EXPECT_EQ(j["launch"]["networks"][0]["mode"], "container/bridge");

  // A process task has neither.
  LaunchSpec plain;
  plain.task_id = "p.1";
  auto plain_back = decode<LaunchSpec>(encode(plain));
  ASSERT_TRUE(plain_back.ok()) << plain_back.error().message;
  EXPECT_FALSE(plain_back->container.has_value());
  EXPECT_TRUE(plain_back->networks.empty());
}

// What agents before the typed container wrote into .berth-task.json, read back on adoption.
TEST(Messages, AContainerWrittenAsJsonTextIsStillRead) {
  auto old = decode<LaunchSpec>(
      R"({"task_id":"t","container":"{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\"}}",)"
      R"("networks":"[{\"mode\":\"host\"}]"})");
  ASSERT_TRUE(old.ok()) << old.error().message;
  ASSERT_TRUE(old->container.has_value());
  EXPECT_EQ(old->container->docker->image, "b");
  EXPECT_EQ(old->networks, (std::vector<model::NetworkSpec>{{"host", ""}}));
  auto process = decode<LaunchSpec>(R"({"task_id":"t","container":"","networks":""})");
  ASSERT_TRUE(process.ok()) << process.error().message;
  EXPECT_FALSE(process->container.has_value());
  EXPECT_FALSE(decode<LaunchSpec>(R"({"task_id":"t","container":"{not json"})").ok());
}

TEST(Messages, ABadContainerInALaunchIsADecodeErrorNamingTheField) {
  auto no_image = decode<Command>(
      R"({"type":"launch","launch":{"task_id":"t","container":{"type":"DOCKER","docker":{}}}})");
  ASSERT_FALSE(no_image.ok());
  EXPECT_EQ(no_image.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(no_image.error().message.find("container.docker.image"), std::string::npos)
      << no_image.error().message;
  auto bad_network = decode<LaunchSpec>(
      R"({"task_id":"t","container":{"docker":{"image":"b"}},"networks":[{"mode":"mesh"}]})");
  ASSERT_FALSE(bad_network.ok());
  EXPECT_NE(bad_network.error().message.find("networks[0].mode"), std::string::npos)
      << bad_network.error().message;
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
  EXPECT_TRUE(is_terminal(TaskState::kFailed));
  EXPECT_TRUE(is_terminal(TaskState::kLost));
  EXPECT_TRUE(is_terminal(TaskState::kGone));
  EXPECT_FALSE(is_terminal(TaskState::kRunning));
  EXPECT_FALSE(is_terminal(TaskState::kStaging));
  EXPECT_FALSE(is_terminal(TaskState::kKilling));
}

TEST(Messages, TaskStatesTravelByTheirMesosNames) {
  for (auto state :
       {TaskState::kStaging, TaskState::kStarting, TaskState::kRunning, TaskState::kFinished,
        TaskState::kFailed, TaskState::kKilling, TaskState::kKilled, TaskState::kLost,
        TaskState::kError, TaskState::kDropped, TaskState::kGone}) {
    EXPECT_EQ(parse_task_state(to_string(state)), state) << to_string(state);
  }
  EXPECT_STREQ(to_string(TaskState::kKilled), "TASK_KILLED");
  EXPECT_FALSE(parse_task_state("TASK_RUNNING ").has_value());
  EXPECT_FALSE(parse_task_state("running").has_value());
}

TEST(Messages, EveryKindOfCommandRoundTripsWithItsWireType) {
  std::vector<Command> commands(4);
  commands[0].body = LaunchCommand{};
  commands[1].body = KillCommand{"web.1", 5000};
  DatasetAssignment a;
  a.dataset_id = "d";
  a.attach = true;
  commands[2].body = DatasetsCommand{{a}};
  commands[3].body = RoutesCommand{R"({"services":[]})"};
  std::vector<std::string> types;
  for (auto& c : commands) {
    c.command_id = std::string("c-") + c.type();
    auto back = decode<Command>(encode(c));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->body.index(), c.body.index());
    EXPECT_EQ(back->command_id, c.command_id);
    types.push_back(c.type());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"launch", "kill", "datasets", "routes"}));
  auto kill = decode<Command>(
      R"({"seq":3,"command_id":"k","type":"kill","task_id":"web.1","kill_grace_ms":5000})");
  ASSERT_TRUE(kill.ok());
  EXPECT_EQ(kill->as<KillCommand>()->task_id, "web.1");
  EXPECT_EQ(kill->as<KillCommand>()->grace_ms, 5000);
  EXPECT_EQ(decode<Command>(encode(commands[2]))->as<DatasetsCommand>()->datasets.at(0).dataset_id,
            "d");
  EXPECT_EQ(decode<Command>(encode(commands[3]))->as<RoutesCommand>()->table, R"({"services":[]})");
}

// decode<T> is the one reader of protocol messages: every failure is an error naming the
// problem, never an exception.
TEST(Messages, DecodeTurnsEveryBadMessageIntoAnError) {
  auto unknown = decode<Command>(R"({"seq":1,"type":"reboot"})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("unknown command type \"reboot\""), std::string::npos);
  auto state = decode<StatusBatch>(R"({"updates":[{"update_id":"u","state":"TASK_ASLEEP"}]})");
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.error().message.find("unknown task state \"TASK_ASLEEP\""), std::string::npos);
  EXPECT_FALSE(decode<Command>(R"({"type":"launch"})").ok());
  EXPECT_FALSE(decode<Heartbeat>("not json").ok());
  EXPECT_FALSE(decode<Heartbeat>(std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_FALSE(decode<StatusBatch>(R"({"updates":[{"state":7}]})").ok());
  auto fine = decode<StatusBatch>(R"({"updates":[{"update_id":"u","state":"TASK_FAILED"}]})");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->updates.at(0).state, TaskState::kFailed);
}

// Found by tests/fuzz/agent_messages: nlohmann converts a float to an integer field with a
// bare cast, undefined behaviour when out of range. Such numbers are refused like wrong types.
TEST(Messages, NumbersAnIntegerFieldCannotHoldAreRefused) {
  auto read = [](const char* text) { return nlohmann::json::parse(text).get<CommandBatch>(); };
  EXPECT_THROW(read(R"({"commands":[{"seq":1e300}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"seq":-1}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"seq":18446744073709551616.0}]})"), nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"type":"launch","launch":{"ports":[4294967296]}}]})"),
               nlohmann::json::exception);
  EXPECT_THROW(read(R"({"commands":[{"type":"kill","kill_grace_ms":"5"}]})"),
               nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse(R"({"http_port":-5})").get<RegisterRequest>(),
               nlohmann::json::exception);
  EXPECT_THROW(
      nlohmann::json::parse(R"({"resources":{"ports":[{"begin":1.5e10}]}})").get<RegisterRequest>(),
      nlohmann::json::exception);
  EXPECT_THROW(nlohmann::json::parse("[1]").get<Heartbeat>(), nlohmann::json::exception);

  CommandBatch batch =
      read(R"({"commands":[{"seq":18446744073709551615,"type":"kill","kill_grace_ms":-1},
                                            {"type":"launch","launch":{"ports":[31000.0]}}]})");
  EXPECT_EQ(batch.commands[0].seq, 18446744073709551615u);
  EXPECT_EQ(batch.commands[0].as<KillCommand>()->grace_ms, -1);
  EXPECT_EQ(batch.commands[1].as<LaunchCommand>()->spec.ports, std::vector<uint32_t>{31000});
  EXPECT_EQ(nlohmann::json::parse(R"({"lease_ms":-9223372036854775808})")
                .get<RegisterResponse>()
                .lease_ms,
            INT64_MIN);
}

}  // namespace berth::protocol
