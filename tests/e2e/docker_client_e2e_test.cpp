// End to end: DockerClient against the real Docker daemon on /var/run/docker.sock, with the
// berth/busybox image (scripts/ensure-docker, scripts/build-test-images). Without them the test
// skips, except under CI=true, where it fails. Nothing is pulled: no registry is reachable.
// Every container is named berth-e2e-dc-<pid>-<what> and removed with the docker CLI at the end
// of its test, pass or fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "docker/docker_client.h"
#include "tests/e2e/docker_env.h"

namespace berth::e2e {
namespace {

using docker::ContainerState;
using docker::DockerClient;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

const std::string kImage = "berth/busybox";

std::string unique(const std::string& what) {
  return "berth-e2e-dc-" + std::to_string(::getpid()) + "-" + what;
}

// A create body: the test image, `cmd`, no network unless `host_config` says otherwise.
std::string create_body(const std::vector<std::string>& cmd, json extra = json::object()) {
  json body = {{"Image", kImage}, {"Cmd", cmd}, {"HostConfig", {{"NetworkMode", "none"}}}};
  body.merge_patch(extra);
  return body.dump();
}

class DockerClientE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_DOCKER();
    Status connected = client_.connect();
    ASSERT_TRUE(connected.ok()) << connected.error().message;
  }

  // With the CLI, not the client under test, so that a broken remove cannot leave containers.
  void TearDown() override {
    for (const auto& name : names_) run("docker rm -f " + name + " >/dev/null", 60);
  }

  // A container name this test owns (and removes).
  std::string name(const std::string& what) {
    names_.push_back(unique(what));
    return names_.back();
  }

  // Creates and starts; the id, or "" after a failed assertion.
  std::string run_container(const std::string& container_name, const std::string& body) {
    auto id = client_.create_container(container_name, body);
    EXPECT_TRUE(id.ok()) << id.error().message;
    if (!id.ok()) return "";
    Status started = client_.start_container(*id);
    EXPECT_TRUE(started.ok()) << started.error().message;
    return started.ok() ? *id : "";
  }

  DockerClient client_;
  std::vector<std::string> names_;
};

TEST_F(DockerClientE2e, ConnectUsesTheDaemonsApiVersion) {
  CommandResult version = run("docker version --format '{{.Server.APIVersion}}'", 30);
  ASSERT_EQ(version.exit_code, 0) << version.output;
  std::string daemon = version.output.substr(0, version.output.find_first_of("\r\n"));
  // This machine runs Docker 20.10.24, whose API 1.41 is also berth's newest.
  ASSERT_EQ(daemon, "1.41");
  EXPECT_EQ(client_.api_version(), "1.41");
}

TEST_F(DockerClientE2e, RunsInspectsListsKillsAndRemovesAContainer) {
  const std::string container_name = name("life");
  const std::string run_label = unique("life-run");
  std::string body =
      create_body({"sh", "-c", "echo out; echo err >&2; echo \"$GREETING\"; sleep 30"},
                  {{"Env", {"GREETING=hello from env"}},
                   {"Labels", {{"berth.e2e.run", run_label}, {"berth.e2e.role", "lifecycle"}}}});
  auto id = client_.create_container(container_name, body);
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_EQ(id->size(), 64u) << *id;

  auto created = client_.inspect_container(container_name);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->id, *id);
  EXPECT_EQ(created->status, "created");
  EXPECT_FALSE(created->running);

  ASSERT_TRUE(client_.start_container(*id).ok());
  Status again = client_.start_container(*id);
  EXPECT_TRUE(again.ok()) << "starting a running container is fine: " << again.error().message;

  auto running = client_.inspect_container(*id);
  ASSERT_TRUE(running.ok()) << running.error().message;
  EXPECT_EQ(running->name, container_name);
  EXPECT_EQ(running->image, kImage);
  EXPECT_EQ(running->status, "running");
  EXPECT_TRUE(running->running);
  EXPECT_GT(running->pid, 0);
  EXPECT_NE(running->started_at.rfind("20", 0), std::string::npos) << running->started_at;
  EXPECT_EQ(running->labels["berth.e2e.run"], run_label);
  EXPECT_EQ(running->labels["berth.e2e.role"], "lifecycle");
  EXPECT_TRUE(running->host_ports.empty());

  auto listed = client_.list_containers("berth.e2e.run=" + run_label);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, *id);
  EXPECT_EQ((*listed)[0].name, container_name);
  EXPECT_EQ((*listed)[0].status, "running");
  EXPECT_TRUE((*listed)[0].running);
  EXPECT_EQ((*listed)[0].labels["berth.e2e.role"], "lifecycle");
  auto by_key = client_.list_containers("berth.e2e.run");
  ASSERT_TRUE(by_key.ok()) << by_key.error().message;
  bool found = false;
  for (const auto& c : *by_key) found = found || c.id == *id;
  EXPECT_TRUE(found) << "a key-only filter matches every value";
  auto other = client_.list_containers("berth.e2e.run=" + run_label + "-other");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_TRUE(other->empty());

  // The output is written right after start; give the shell and the log driver a moment.
  const std::string want_out = "out\nhello from env\n", want_err = "err\n";
  std::string out, err;
  for (auto until = SteadyClock::now() + seconds(20); SteadyClock::now() < until;) {
    out.clear();
    err.clear();
    Status logged = client_.logs(*id, &out, &err);
    ASSERT_TRUE(logged.ok()) << logged.error().message;
    if (out == want_out && err == want_err) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(out, want_out);
  EXPECT_EQ(err, want_err);

  ASSERT_TRUE(client_.kill_container(*id, "SIGKILL").ok());
  auto waited = client_.wait_container(*id, seconds(30));
  ASSERT_TRUE(waited.ok()) << waited.error().message;
  EXPECT_EQ(waited->status_code, 137);
  EXPECT_EQ(waited->error, "");
  auto exited = client_.inspect_container(*id);
  ASSERT_TRUE(exited.ok()) << exited.error().message;
  EXPECT_EQ(exited->status, "exited");
  EXPECT_FALSE(exited->running);
  EXPECT_EQ(exited->pid, 0);
  EXPECT_EQ(exited->exit_code, 137);
  EXPECT_NE(exited->finished_at.rfind("20", 0), std::string::npos) << exited->finished_at;
  auto listed_exited = client_.list_containers("berth.e2e.run=" + run_label);
  ASSERT_TRUE(listed_exited.ok());
  ASSERT_EQ(listed_exited->size(), 1u);
  EXPECT_EQ((*listed_exited)[0].status, "exited");
  EXPECT_EQ((*listed_exited)[0].exit_code, 137);

  // A wait on a stopped container answers at once.
  auto waited_again = client_.wait_container(*id, seconds(10));
  ASSERT_TRUE(waited_again.ok()) << waited_again.error().message;
  EXPECT_EQ(waited_again->status_code, 137);

  Status killed_again = client_.kill_container(*id, "SIGKILL");
  ASSERT_FALSE(killed_again.ok());
  EXPECT_EQ(killed_again.error().code, ErrorCode::kConflict);
  EXPECT_NE(killed_again.error().message.find("is not running"), std::string::npos)
      << killed_again.error().message;

  ASSERT_TRUE(client_.remove_container(*id).ok());
  auto gone = client_.inspect_container(*id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(gone.error().message, "docker inspect: No such container: " + *id);
  Status removed_again = client_.remove_container(*id);
  ASSERT_FALSE(removed_again.ok());
  EXPECT_EQ(removed_again.error().code, ErrorCode::kNotFound);
  auto after = client_.list_containers("berth.e2e.run=" + run_label);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

TEST_F(DockerClientE2e, RemoveKillsARunningContainerFirst) {
  std::string id = run_container(name("force"), create_body({"sleep", "30"}));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(client_.remove_container(id).ok());
  auto gone = client_.inspect_container(id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_F(DockerClientE2e, FollowLogsDeliversOutputWrittenAfterTheCallStarted) {
  // The container writes "late" only when it gets SIGUSR1, which the test sends from inside
  // the follow callback: that output cannot have existed when the call began.
  std::string id = run_container(
      name("follow"), create_body({"sh", "-c",
                                   "trap 'echo late; echo late-err >&2; exit 0' USR1; echo early; "
                                   "while true; do sleep 0.1; done"}));
  ASSERT_FALSE(id.empty());
  std::string out, err;
  bool signalled = false;
  auto begin = SteadyClock::now();
  Status followed = client_.follow_logs(
      id,
      [&](int stream, const std::string& data) {
        EXPECT_TRUE(stream == 1 || stream == 2) << stream;
        (stream == 2 ? err : out) += data;
        if (!signalled && out == "early\n") {
          signalled = true;
          Status sent = client_.kill_container(id, "SIGUSR1");
          EXPECT_TRUE(sent.ok()) << sent.error().message;
        }
        return true;
      },
      seconds(60));
  auto took = SteadyClock::now() - begin;
  ASSERT_TRUE(followed.ok()) << followed.error().message;
  EXPECT_TRUE(signalled);
  EXPECT_EQ(out, "early\nlate\n");
  EXPECT_EQ(err, "late-err\n");
  EXPECT_LT(took, seconds(30)) << "following ends when the container stops";
  auto waited = client_.wait_container(id, seconds(30));
  ASSERT_TRUE(waited.ok()) << waited.error().message;
  EXPECT_EQ(waited->status_code, 0);
}

TEST_F(DockerClientE2e, FollowLogsStopsOnTheCallbackOrTheTimeoutAndWaitTimesOut) {
  std::string id = run_container(
      name("ticker"), create_body({"sh", "-c", "while true; do echo tick; sleep 0.2; done"}));
  ASSERT_FALSE(id.empty());

  int calls = 0;
  auto begin = SteadyClock::now();
  Status stopped = client_.follow_logs(
      id, [&](int, const std::string&) { return ++calls < 3; }, seconds(60));
  EXPECT_TRUE(stopped.ok()) << stopped.error().message;
  EXPECT_EQ(calls, 3);
  EXPECT_LT(SteadyClock::now() - begin, seconds(20));

  std::string out;
  begin = SteadyClock::now();
  Status timed_out = client_.follow_logs(
      id,
      [&](int stream, const std::string& data) {
        if (stream == 1) out += data;
        return true;
      },
      milliseconds(1500));
  auto took = SteadyClock::now() - begin;
  EXPECT_TRUE(timed_out.ok()) << timed_out.error().message;
  EXPECT_GE(took, milliseconds(1500));
  EXPECT_LT(took, seconds(10));
  EXPECT_EQ(out.rfind("tick\ntick\n", 0), 0u) << out;

  begin = SteadyClock::now();
  auto waited = client_.wait_container(id, milliseconds(300));
  took = SteadyClock::now() - begin;
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(took, seconds(10));
  auto still = client_.inspect_container(id);
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->running);
}

// Docker 20.10 sends no response headers to a follow until the container writes something.
TEST_F(DockerClientE2e, FollowLogsOfASilentContainerEndsQuietlyAtTheTimeout) {
  std::string id = run_container(name("silent"), create_body({"sleep", "30"}));
  ASSERT_FALSE(id.empty());
  int calls = 0;
  auto begin = SteadyClock::now();
  Status followed = client_.follow_logs(
      id, [&](int, const std::string&) { return ++calls > 0; }, milliseconds(800));
  auto took = SteadyClock::now() - begin;
  EXPECT_TRUE(followed.ok()) << followed.error().message;
  EXPECT_EQ(calls, 0);
  EXPECT_GE(took, milliseconds(800));
  EXPECT_LT(took, seconds(10));
}

TEST_F(DockerClientE2e, CreateReportsAMissingImageAndATakenName) {
  const std::string missing = "berth/no-such-image-" + std::to_string(::getpid()) + ":latest";
  auto no_image =
      client_.create_container(name("noimage"), create_body({"true"}, {{"Image", missing}}));
  ASSERT_FALSE(no_image.ok());
  EXPECT_EQ(no_image.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(no_image.error().message, "docker create: No such image: " + missing);

  const std::string taken = name("taken");
  auto first = client_.create_container(taken, create_body({"true"}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = client_.create_container(taken, create_body({"true"}));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_NE(second.error().message.find("is already in use"), std::string::npos)
      << second.error().message;
}

TEST_F(DockerClientE2e, AFailedStartCarriesDockersMessage) {
  auto id = client_.create_container(name("nobinary"), create_body({"/no-such-binary"}));
  ASSERT_TRUE(id.ok()) << id.error().message;
  Status started = client_.start_container(*id);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kInternal);
  EXPECT_EQ(started.error().message.rfind("docker start: ", 0), 0u) << started.error().message;
  EXPECT_NE(started.error().message.find("\"/no-such-binary\": stat /no-such-binary: no such file"),
            std::string::npos)
      << started.error().message;

  auto state = client_.inspect_container(*id);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_FALSE(state->running);
  EXPECT_EQ(state->pid, 0);
  EXPECT_NE(state->error.find("/no-such-binary"), std::string::npos) << state->error;
  // Docker records exit code 127 and answers a wait at once, with the start error.
  EXPECT_EQ(state->exit_code, 127);
  auto waited = client_.wait_container(*id, seconds(10));
  ASSERT_TRUE(waited.ok()) << waited.error().message;
  EXPECT_EQ(waited->status_code, 127);
  EXPECT_NE(waited->error.find("/no-such-binary"), std::string::npos) << waited->error;
}

TEST_F(DockerClientE2e, ImageExistsOnlyForLocalImages) {
  auto present = client_.image_exists(kImage);
  ASSERT_TRUE(present.ok()) << present.error().message;
  EXPECT_TRUE(*present);
  auto tagged = client_.image_exists(kImage + ":latest");
  ASSERT_TRUE(tagged.ok()) << tagged.error().message;
  EXPECT_TRUE(*tagged);
  auto absent = client_.image_exists("berth/no-such-image-" + std::to_string(::getpid()));
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_FALSE(*absent);
}

TEST_F(DockerClientE2e, InspectShowsThePublishedHostPortInBridgeMode) {
  const std::string container_name = name("port");
  std::string id = run_container(
      container_name,
      create_body({"sleep", "30"}, {{"ExposedPorts", {{"8080/tcp", json::object()}}},
                                    {"HostConfig",
                                     {{"NetworkMode", "bridge"},
                                      {"PortBindings", {{"8080/tcp", {{{"HostPort", "0"}}}}}}}}}));
  ASSERT_FALSE(id.empty());
  auto state = client_.inspect_container(id);
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->host_ports.count("8080/tcp"), 1u);
  const std::vector<uint32_t>& ports = state->host_ports.at("8080/tcp");
  // Docker binds IPv4 and IPv6 separately; with HostPort "0" each may get its own port.
  ASSERT_GE(ports.size(), 1u);
  ASSERT_LE(ports.size(), 2u);
  EXPECT_GT(ports[0], 0u);
  EXPECT_LT(ports[0], 65536u);
  CommandResult cli = run("docker port " + container_name + " 8080/tcp", 30);
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find(":" + std::to_string(ports[0]) + "\n"), std::string::npos)
      << cli.output;
}

}  // namespace
}  // namespace berth::e2e
