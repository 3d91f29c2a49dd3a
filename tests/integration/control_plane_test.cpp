// The core control plane with real processes: a master and agents started from the `berth`
// binary on loopback, apps that run real `sleep` processes, real SIGKILLs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>

#include "http/http.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string sleep_app(const std::string& id, int instances) {
  return nlohmann::json{{"id", id},  {"cmd", "sleep 1000"},    {"cpus", 0.1},
                        {"mem", 16}, {"instances", instances}, {"backoffSeconds", 0.2}}
      .dump();
}

}  // namespace

TEST(ControlPlane, FiveInstancesRunAcrossThreeAgents) {
  Cluster cluster(3);
  auto created = cluster.call("POST", "/v2/apps", sleep_app("/spread", 5));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_FALSE(created.headers["marathon-deployment-id"].empty());
  EXPECT_EQ(created.body["id"], "/spread");
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/spread").size() == 5; },
                                  seconds(20)));
  std::set<std::string> agents;
  for (const auto& t : cluster.running_tasks("/spread")) {
    agents.insert(t["slaveId"].get<std::string>());
    EXPECT_EQ(t["appId"], "/spread");
    EXPECT_EQ(t["ports"].size(), 1u);
    EXPECT_TRUE(t.contains("startedAt"));
    EXPECT_EQ(cluster.task_pids(t["id"]).size() >= 1, true) << "no process for " << t["id"];
  }
  EXPECT_EQ(agents.size(), 3u);
  // The deployment finishes once every instance runs.
  EXPECT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  auto app = cluster.call("GET", "/v2/apps/spread");
  EXPECT_EQ(app.body["app"]["tasksRunning"], 5);
}

// Another program (another cluster's task, a database beside berth) listens on the lowest port
// of the agent's range, the one placement would give first: the agent reports it busy, so the
// app runs on another port instead of failing on that one again and again.
TEST(ControlPlane, APortHeldByAnotherProgramDoesNotWedgeTheApp) {
  int foreign = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(foreign, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(foreign, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(foreign, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(foreign, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint32_t held = ntohs(addr.sin_port);
  Cluster cluster(1, 1500,
                  {{1, {"--ports", std::to_string(held) + "-" + std::to_string(held + 3)}}});
  auto created =
      cluster.call("POST", "/v2/apps",
                   R"({"id":"/binds","cmd":"exec python3 -m http.server --bind 127.0.0.1 $PORT0",)"
                   R"("cpus":0.1,"mem":64,"instances":1})");
  ASSERT_EQ(created.status, 201) << created.body.dump();
  uint32_t serving = 0;
  bool answers = Cluster::eventually(
      [&] {
        for (const auto& t : cluster.running_tasks("/binds")) {
          uint32_t port = t["ports"][0];
          auto page =
              http::request("http://127.0.0.1:" + std::to_string(port), "GET", "/", "", 500);
          if (page && page->status == 200) serving = port;
        }
        return serving != 0;
      },
      seconds(10));
  EXPECT_TRUE(answers)
      << cluster.call("GET", "/v2/apps/binds?embed=apps.lastTaskFailure").body.dump()
      << cluster.call("GET", "/berth/v1/nodes").body.dump();
  EXPECT_NE(serving, held);
  auto nodes = cluster.call("GET", "/berth/v1/nodes").body;
  ASSERT_EQ(nodes["nodes"].size(), 1u);
  EXPECT_EQ(nodes["nodes"][0]["busyPorts"], nlohmann::json::array({held}));
  ::close(foreign);
}

TEST(ControlPlane, ScalesUpAndDown) {
  Cluster cluster(3);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/scaled", 2)).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/scaled").size() == 2; },
                                  seconds(20)));
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  auto up = cluster.call("PUT", "/v2/apps/scaled", R"({"instances": 6})");
  ASSERT_EQ(up.status, 200) << up.body.dump();
  EXPECT_TRUE(up.body.contains("deploymentId"));
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/scaled").size() == 6; },
                                  seconds(20)));
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  auto down = cluster.call("PUT", "/v2/apps/scaled", R"({"instances": 1})");
  ASSERT_EQ(down.status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        return cluster.running_tasks("/scaled").size() == 1 && cluster.live_task_processes() <= 2;
      },
      seconds(20)));
  // A scale-only change keeps the surviving task and bumps lastScalingAt only.
  auto app = cluster.call("GET", "/v2/apps/scaled").body["app"];
  EXPECT_NE(app["versionInfo"]["lastScalingAt"], app["versionInfo"]["lastConfigChangeAt"]);
  auto versions = cluster.call("GET", "/v2/apps/scaled/versions");
  EXPECT_EQ(versions.body["versions"].size(), 3u);
}

TEST(ControlPlane, AKilledTaskIsReplaced) {
  Cluster cluster(3);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/phoenix", 2)).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/phoenix").size() == 2; },
                                  seconds(20)));
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  std::string victim = cluster.running_tasks("/phoenix")[0]["id"];
  auto pids = cluster.task_pids(victim);
  ASSERT_FALSE(pids.empty());
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/phoenix");
        if (tasks.size() != 2) return false;
        for (const auto& t : tasks) {
          if (t["id"].get<std::string>() == victim) return false;
        }
        return true;
      },
      seconds(20)));
  auto app = cluster.call("GET", "/v2/apps/phoenix").body["app"];
  ASSERT_TRUE(app.contains("lastTaskFailure"));
  EXPECT_EQ(app["lastTaskFailure"]["taskId"].get<std::string>(), victim);
  EXPECT_EQ(app["lastTaskFailure"]["state"], "TASK_FAILED");

  // Killing through the API (without scale) is replaced too.
  std::string second = cluster.running_tasks("/phoenix")[0]["id"];
  auto killed = cluster.call("DELETE", "/v2/apps/phoenix/tasks/" + second);
  ASSERT_EQ(killed.status, 200) << killed.body.dump();
  EXPECT_EQ(killed.body["task"]["id"].get<std::string>(), second);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        return cluster.task_pids(second).empty() && cluster.running_tasks("/phoenix").size() == 2;
      },
      seconds(20)));
}

TEST(ControlPlane, ASigkilledAgentsTasksAreReplacedOnTheOthers) {
  Cluster cluster(3, 1500);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/survivor", 6)).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/survivor").size() == 6; },
                                  seconds(20)));
  std::string dead_agent;
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["hostname"].get<std::string>() == cluster.agent_hostname(2))
      dead_agent = n["id"].get<std::string>();
  }
  ASSERT_FALSE(dead_agent.empty()) << nodes.body.dump() << " wanted " << cluster.agent_hostname(2);
  std::vector<std::string> orphaned;
  for (const auto& t : cluster.running_tasks("/survivor")) {
    if (t["slaveId"].get<std::string>() == dead_agent)
      orphaned.push_back(t["id"].get<std::string>());
  }
  ASSERT_FALSE(orphaned.empty());
  cluster.kill_agent(2);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/survivor");
        if (tasks.size() != 6) return false;
        for (const auto& t : tasks) {
          if (t["slaveId"].get<std::string>() == dead_agent) return false;
        }
        return true;
      },
      seconds(20)));
  bool lost = false;
  auto after = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : after.body["nodes"]) {
    if (n["id"].get<std::string>() == dead_agent) lost = n["state"].get<std::string>() == "lost";
  }
  EXPECT_TRUE(lost);

  // The agent comes back: the tasks its previous run left behind are stopped (the master
  // has replaced them), and the app keeps exactly its instances.
  cluster.start_agent(2);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.active_nodes() == 3; }, seconds(10)));
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        for (const auto& id : orphaned) {
          if (!cluster.task_pids(id).empty()) return false;
        }
        return true;
      },
      seconds(10)));
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(cluster.running_tasks("/survivor").size(), 6u);
}

TEST(ControlPlane, ASigkilledMasterRestartsWithItsStateAndAdoptsRunningTasks) {
  Cluster cluster(3);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/steady", 3)).status, 201);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/group/other", 1)).status, 201);
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(20)));
  ASSERT_EQ(cluster.call("PUT", "/v2/apps/group/other", R"({"cmd": "sleep 999"})").status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        return cluster.running_tasks("/steady").size() == 3 &&
               cluster.call("GET", "/v2/deployments").body.empty();
      },
      seconds(20)));
  std::map<std::string, std::vector<pid_t>> before;
  for (const auto& t : cluster.running_tasks("/steady"))
    before[t["id"]] = cluster.task_pids(t["id"]);
  for (const auto& t : cluster.running_tasks("/group/other"))
    before[t["id"]] = cluster.task_pids(t["id"]);
  auto versions_before = cluster.call("GET", "/v2/apps/group/other/versions").body;
  auto app_before = cluster.call("GET", "/v2/apps/group/other").body["app"];

  cluster.kill_master();
  cluster.start_master();
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.active_nodes() == 3; }, seconds(10)));
  // Stay past the reconciliation grace and a few controller passes.
  std::this_thread::sleep_for(seconds(3));

  EXPECT_EQ(cluster.call("GET", "/v2/apps/group/other/versions").body, versions_before);
  auto app_after = cluster.call("GET", "/v2/apps/group/other").body["app"];
  EXPECT_EQ(app_after["version"], app_before["version"]);
  EXPECT_EQ(app_after["cmd"], "sleep 999");
  std::map<std::string, std::vector<pid_t>> after;
  for (const auto& t : cluster.running_tasks("/steady"))
    after[t["id"]] = cluster.task_pids(t["id"]);
  for (const auto& t : cluster.running_tasks("/group/other"))
    after[t["id"]] = cluster.task_pids(t["id"]);
  EXPECT_EQ(after, before) << "tasks were restarted or lost across the master restart";
}

TEST(ControlPlane, BadInputGetsMarathonsErrorsAndChangesNothing) {
  Cluster cluster(1);
  auto malformed = cluster.call("POST", "/v2/apps", R"({"id": "broken", "cmd": )");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.body["message"], "Invalid JSON");
  EXPECT_TRUE(malformed.body["details"].is_array());

  auto invalid =
      cluster.call("POST", "/v2/apps", R"({"id": "Bad_Id", "cmd": "sleep 1", "cpus": -1})");
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(invalid.body["message"], "Object is not valid");
  std::set<std::string> paths;
  for (const auto& d : invalid.body["details"]) paths.insert(d["path"]);
  EXPECT_TRUE(paths.count("/id")) << invalid.body.dump();
  EXPECT_TRUE(paths.count("/cpus")) << invalid.body.dump();

  auto bad_constraint =
      cluster.call("POST", "/v2/apps",
                   R"({"id": "c", "cmd": "sleep 1", "constraints": [["hostname", "NEAR"]]})");
  EXPECT_EQ(bad_constraint.status, 422);

  auto wrong_type =
      cluster.call("POST", "/v2/apps", R"({"id": "t", "cmd": "sleep 1", "instances": "many"})");
  EXPECT_EQ(wrong_type.status, 422);

  EXPECT_EQ(cluster.call("GET", "/v2/apps").body["apps"].size(), 0u);
  EXPECT_TRUE(cluster.call("GET", "/v2/deployments").body.empty());

  // An existing app keeps its definition when an update is invalid.
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/kept", 1)).status, 201);
  auto before = cluster.call("GET", "/v2/apps/kept").body["app"];
  EXPECT_EQ(cluster.call("PUT", "/v2/apps/kept", R"({"mem": -5})").status, 422);
  EXPECT_EQ(cluster.call("PUT", "/v2/apps/kept", R"({"mem": )").status, 400);
  auto after = cluster.call("GET", "/v2/apps/kept").body["app"];
  EXPECT_EQ(after["version"], before["version"]);
  EXPECT_EQ(after["mem"], before["mem"]);
  EXPECT_EQ(cluster.call("GET", "/v2/apps/kept/versions").body["versions"].size(), 1u);

  auto duplicate = cluster.call("POST", "/v2/apps", sleep_app("/kept", 1));
  EXPECT_EQ(duplicate.status, 409);
  EXPECT_EQ(duplicate.body["message"], "An app with id [/kept] already exists.");
  EXPECT_EQ(cluster.call("GET", "/v2/apps/missing").status, 404);
}

TEST(ControlPlane, LockedAppAnswers409UnlessForced) {
  Cluster cluster(1);
  // Unplaceable: the deployment stays open and locks the app.
  auto created = cluster.call("POST", "/v2/apps",
                              R"({"id": "huge", "cmd": "sleep 1000", "cpus": 100, "mem": 16})");
  ASSERT_EQ(created.status, 201);
  auto locked = cluster.call("PUT", "/v2/apps/huge", R"({"cpus": 200})");
  EXPECT_EQ(locked.status, 409);
  EXPECT_TRUE(locked.body["deployments"].is_array());
  auto forced = cluster.call("PUT", "/v2/apps/huge?force=true", R"({"cpus": 0.1})");
  EXPECT_EQ(forced.status, 200) << forced.body.dump();
  ASSERT_TRUE(
      Cluster::eventually([&] { return cluster.running_tasks("/huge").size() == 1; }, seconds(20)));
}

TEST(ControlPlane, QueueShowsWhyInstancesWait) {
  Cluster cluster(2);
  ASSERT_EQ(
      cluster
          .call("POST", "/v2/apps",
                R"({"id": "picky", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 3,
                             "constraints": [["hostname", "UNIQUE"]]})")
          .status,
      201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/picky").size() == 2; },
                                  seconds(20)));
  nlohmann::json queue;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        queue = cluster.call("GET", "/v2/queue?embed=lastUnusedOffers").body;
        return queue["queue"].size() == 1;
      },
      seconds(10)));
  const auto& item = queue["queue"][0];
  EXPECT_EQ(item["count"], 1);
  EXPECT_EQ(item["app"]["id"], "/picky");
  bool constraint_reason = false;
  for (const auto& r : item["processedOffersSummary"]["rejectSummaryLastOffers"]) {
    if (r["reason"] == "UnfulfilledConstraint" && r["declined"] == 2) constraint_reason = true;
  }
  EXPECT_TRUE(constraint_reason) << item.dump();
  EXPECT_EQ(item["lastUnusedOffers"].size(), 2u);
  // Marathon's answers to resetting the launch delay: 204 for a queued app, 404 for none.
  auto reset = cluster.call("DELETE", "/v2/queue/picky/delay");
  EXPECT_EQ(reset.status, 204);
  auto unknown = cluster.call("DELETE", "/v2/queue/nobody/delay");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body.value("message", ""), "Application /nobody not found in tasks queue.");
}

TEST(ControlPlane, DestroyingAnAppStopsItsTasks) {
  Cluster cluster(2);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/doomed", 3)).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/doomed").size() == 3; },
                                  seconds(20)));
  auto deleted = cluster.call("DELETE", "/v2/apps/doomed");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_TRUE(deleted.body.contains("deploymentId"));
  EXPECT_EQ(cluster.call("GET", "/v2/apps/doomed").status, 404);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.live_task_processes() == 0; }, seconds(20)));
  EXPECT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
}

TEST(ControlPlane, RestartReplacesEveryTaskWithTheSameDefinition) {
  Cluster cluster(2);
  ASSERT_EQ(cluster.call("POST", "/v2/apps", sleep_app("/fresh", 2)).status, 201);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/fresh").size() == 2; },
                                  seconds(20)));
  std::set<std::string> old_ids;
  for (const auto& t : cluster.running_tasks("/fresh")) old_ids.insert(t["id"]);
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  auto restarted = cluster.call("POST", "/v2/apps/fresh/restart");
  ASSERT_EQ(restarted.status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/fresh");
        if (tasks.size() != 2 || !cluster.call("GET", "/v2/deployments").body.empty()) return false;
        for (const auto& t : tasks) {
          if (old_ids.count(t["id"])) return false;
        }
        return true;
      },
      seconds(20)));
}

}  // namespace berth::testing

namespace berth::testing {
namespace {

// Docker's bridge networking: portMappings get service ports from the master's range when 0,
// keep them across updates, and never share one with another app.
TEST(ControlPlane, PortMappingsGetServicePortsThatLastAcrossUpdates) {
  Cluster cluster(1);
  auto bridge_app = [](const std::string& id, uint32_t service_port) {
    return nlohmann::json{
        {"id", id},
        {"instances", 0},
        {"cpus", 0.1},
        {"mem", 16},
        {"container",
         {{"type", "DOCKER"},
          {"docker", {{"image", "berth/busybox"}, {"network", "BRIDGE"}}},
          {"portMappings",
           {{{"containerPort", 80}, {"hostPort", 0}, {"servicePort", service_port}},
            {{"containerPort", 81}, {"hostPort", 0}, {"servicePort", 0}}}}}}};
  };
  auto first = cluster.call("POST", "/v2/apps", bridge_app("/bridge-a", 0).dump());
  ASSERT_EQ(first.status, 201) << first.body.dump();
  auto mappings = first.body["container"]["portMappings"];
  uint32_t a0 = mappings[0]["servicePort"], a1 = mappings[1]["servicePort"];
  EXPECT_GE(a0, cluster.service_port_begin());
  EXPECT_LT(a0, cluster.service_port_begin() + 100);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a1, 0u);
  // Another app with 0 gets other ports; a fixed one is kept as given.
  auto second = cluster.call("POST", "/v2/apps",
                             bridge_app("/bridge-b", cluster.service_port_begin() + 50).dump());
  ASSERT_EQ(second.status, 201) << second.body.dump();
  EXPECT_EQ(second.body["container"]["portMappings"][0]["servicePort"],
            cluster.service_port_begin() + 50);
  uint32_t b1 = second.body["container"]["portMappings"][1]["servicePort"];
  EXPECT_NE(b1, a0);
  EXPECT_NE(b1, a1);
  // An update that says 0 again keeps the assigned ports.
  auto update =
      cluster.call("PUT", "/v2/apps/bridge-a?force=true", bridge_app("/bridge-a", 0).dump());
  ASSERT_EQ(update.status, 200) << update.body.dump();
  auto after = cluster.call("GET", "/v2/apps/bridge-a");
  EXPECT_EQ(after.body["app"]["container"]["portMappings"][0]["servicePort"], a0);
  EXPECT_EQ(after.body["app"]["container"]["portMappings"][1]["servicePort"], a1);
}

// `berth task logs`: the master relays to the task's agent, which serves the sandbox files.
TEST(ControlPlane, TaskLogsComeFromTheAgentThroughTheMaster) {
  Cluster cluster(1);
  nlohmann::json app = {{"id", "/talker"},
                        {"cmd", "echo hello from $MESOS_TASK_ID; echo oops >&2; sleep 1000"},
                        {"cpus", 0.1},
                        {"mem", 16}};
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  std::string task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/talker");
        if (tasks.empty()) return false;
        task = tasks[0]["id"];
        return true;
      },
      seconds(20)));
  http::ClientResponse out;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto r =
            http::request(cluster.url(), "GET", "/berth/v1/tasks/" + task + "/logs?stream=stdout",
                          "", 5000, cluster.admin_headers());
        if (!r || r->status != 200) return false;
        out = *r;
        return out.body.find("hello from " + task) != std::string::npos;
      },
      seconds(10)));
  EXPECT_EQ(out.headers["x-berth-task-done"], "false");
  EXPECT_EQ(out.headers["x-berth-log-offset"], std::to_string(out.body.size()));
  auto err = http::request(cluster.url(), "GET", "/berth/v1/tasks/" + task + "/logs?stream=stderr",
                           "", 5000, cluster.admin_headers());
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->body.find("oops"), std::string::npos);
  // From an offset: only what follows.
  auto tail = http::request(cluster.url(), "GET", "/berth/v1/tasks/" + task + "/logs?offset=6", "",
                            5000, cluster.admin_headers());
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->body, out.body.substr(6));
  auto unknown = http::request(cluster.url(), "GET", "/berth/v1/tasks/no-such-task/logs", "", 5000,
                               cluster.admin_headers());
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404);
  // The CLI prints the same bytes.
  std::string cli = std::string(BERTH_BINARY) + " task logs " + task + " --master " +
                    cluster.url() + " --token " + cluster.admin_token();
  FILE* pipe = ::popen(cli.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string printed;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) printed.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0);
  EXPECT_NE(printed.find("hello from " + task), std::string::npos) << printed;
}

// A node without Docker fails DOCKER tasks with a message that says so (and keeps its other
// tasks); the master retries after the app's backoff.
TEST(ControlPlane, ADockerAppOnANodeWithoutDockerFailsAndSaysWhy) {
  Cluster cluster(1, 1500, {{1, {"--docker-socket", "/nonexistent/docker.sock"}}});
  nlohmann::json app = {
      {"id", "/needs-docker"},
      {"cpus", 0.1},
      {"mem", 16},
      {"backoffSeconds", 5},
      {"container", {{"type", "DOCKER"}, {"docker", {{"image", "berth/busybox"}}}}}};
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  nlohmann::json failure;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        failure = cluster.call("GET", "/v2/apps/needs-docker?embed=apps.lastTaskFailure")
                      .body["app"]["lastTaskFailure"];
        return failure.is_object();
      },
      seconds(20)));
  EXPECT_EQ(failure["state"], "TASK_FAILED");
  EXPECT_NE(failure["message"].get<std::string>().find("Docker is not available on this node"),
            std::string::npos)
      << failure.dump();
  EXPECT_NE(failure["message"].get<std::string>().find("/nonexistent/docker.sock"),
            std::string::npos);
  EXPECT_TRUE(cluster.running_tasks("/needs-docker").empty());
}

// A client of GET /v2/events on a raw socket, so each Server-Sent Event is seen as it arrives.
class EventStreamClient {
 public:
  struct Message {
    std::string type;
    nlohmann::json data;
  };

  EventStreamClient(const std::string& url, const std::string& target, const std::string& token) {
    int port = std::stoi(url.substr(url.rfind(':') + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string request = "GET " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                          "Authorization: Bearer " + token + "\r\n\r\n";
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
    }
  }
  ~EventStreamClient() { ::close(fd_); }

  // Waits for the response headers; true when they say 200, text/event-stream and a chunked
  // body (HTTP/1.1). Once they are here the master has subscribed this stream.
  bool attached(std::chrono::milliseconds timeout) {
    if (!read_until([&] { return raw_.find("\r\n\r\n") != std::string::npos; }, timeout))
      return false;
    size_t end = raw_.find("\r\n\r\n");
    headers_ = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    attached_ = true;
    return headers_.rfind("HTTP/1.1 200", 0) == 0 &&
           headers_.find("text/event-stream") != std::string::npos &&
           headers_.find("Transfer-Encoding: chunked") != std::string::npos;
  }

  // Reads messages until `done` holds for the ones received so far or `timeout` passes.
  bool read_until_messages(const std::function<bool(const std::vector<Message>&)>& done,
                           std::chrono::milliseconds timeout) {
    return read_until(
        [&] {
          parse();
          return done(messages_);
        },
        timeout);
  }
  const std::vector<Message>& messages() const { return messages_; }
  const std::string& headers() const { return headers_; }

 private:
  bool read_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return done();
      raw_.append(buf, static_cast<size_t>(n));
      if (attached_) unchunk();
    }
    return true;
  }

  // Moves the complete chunks of the body from raw_ to buffer_ (size in hex, CRLF, bytes, CRLF).
  void unchunk() {
    for (;;) {
      size_t line_end = raw_.find("\r\n");
      if (line_end == std::string::npos) return;
      size_t size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
      if (raw_.size() < line_end + 2 + size + 2) return;
      buffer_.append(raw_, line_end + 2, size);
      raw_.erase(0, line_end + 2 + size + 2);
    }
  }

  // Moves complete "event: ...\ndata: ...\n\n" messages from the buffer; comments are skipped.
  void parse() {
    size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
      std::string block = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      Message m;
      std::string data;
      size_t start = 0;
      while (start <= block.size()) {
        size_t nl = block.find('\n', start);
        std::string line =
            block.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if (line.rfind("event: ", 0) == 0) m.type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) data = line.substr(6);
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      if (m.type.empty()) continue;
      m.data = nlohmann::json::parse(data, nullptr, false);
      messages_.push_back(std::move(m));
    }
  }

  int fd_ = -1;
  std::string raw_;  // as received
  bool attached_ = false;
  std::string buffer_;  // the body, its chunk framing undone
  std::string headers_;
  std::vector<Message> messages_;
};

TEST(ControlPlane, EventStreamDeliversTheRequestedEventsOnly) {
  Cluster cluster(1);
  EventStreamClient events(cluster.url(),
                           "/v2/events?event_type=status_update_event&event_type=api_post_event",
                           cluster.admin_token());
  ASSERT_TRUE(events.attached(seconds(5))) << events.headers();
  ASSERT_EQ(
      cluster
          .call("POST", "/v2/apps", R"({"id":"/evented","cmd":"sleep 1000","cpus":0.1,"mem":16})")
          .status,
      201);
  auto api_post = [](const EventStreamClient::Message& m) {
    return m.type == "api_post_event" && m.data["appDefinition"]["id"] == "/evented";
  };
  auto running = [](const EventStreamClient::Message& m) {
    return m.type == "status_update_event" && m.data["taskStatus"] == "TASK_RUNNING" &&
           m.data["appId"] == "/evented";
  };
  bool both = events.read_until_messages(
      [&](const std::vector<EventStreamClient::Message>& ms) {
        return std::any_of(ms.begin(), ms.end(), api_post) &&
               std::any_of(ms.begin(), ms.end(), running);
      },
      seconds(10));
  std::string seen;
  for (const auto& m : events.messages()) seen += m.type + " " + m.data.dump() + "\n";
  ASSERT_TRUE(both) << seen;
  for (const auto& m : events.messages()) {
    EXPECT_TRUE(m.type == "status_update_event" || m.type == "api_post_event") << seen;
    EXPECT_EQ(m.data["eventType"], m.type) << seen;
    EXPECT_TRUE(m.data.contains("timestamp")) << seen;
    if (running(m)) {
      EXPECT_FALSE(m.data["taskId"].get<std::string>().empty());
      EXPECT_FALSE(m.data["slaveId"].get<std::string>().empty());
      EXPECT_FALSE(m.data["host"].get<std::string>().empty());
      EXPECT_TRUE(m.data["ports"].is_array());
      EXPECT_TRUE(m.data["version"].is_string());
    }
    if (api_post(m)) {
      EXPECT_EQ(m.data["uri"], "/v2/apps");
    }
  }
  EXPECT_EQ(cluster.call("POST", "/v2/events").status, 405);
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {

TEST(ControlPlane, CallbackSubscribersGetEveryEventAndOutliveARestart) {
  Cluster cluster(1);
  std::mutex mu;
  std::vector<nlohmann::json> received;
  auto receiver = http::serve({"127.0.0.1", 0}, [&](const http::Request& request) {
    std::lock_guard<std::mutex> lock(mu);
    received.push_back(nlohmann::json::parse(request.body, nullptr, false));
    return http::Response{};
  });
  ASSERT_TRUE(receiver.ok());
  std::string url = "http://127.0.0.1:" + std::to_string((*receiver)->port()) + "/events";
  std::string encoded = http::percent_encode(url);

  auto bad = cluster.call("POST", "/v2/eventSubscriptions?callbackUrl=file:///etc/passwd");
  EXPECT_EQ(bad.status, 400) << bad.body.dump();
  auto added = cluster.call("POST", "/v2/eventSubscriptions?callbackUrl=" + encoded);
  ASSERT_EQ(added.status, 200) << added.body.dump();
  EXPECT_EQ(added.body["callbackUrl"], url);
  EXPECT_EQ(cluster.call("GET", "/v2/eventSubscriptions").body["callbackUrls"],
            nlohmann::json::array({url}));

  auto seen = [&](const std::string& type, const std::string& app) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& e : received) {
      if (e.value("eventType", "") == type &&
          (app.empty() || e.value("appId", "") == app ||
           e.dump().find("\"" + app + "\"") != std::string::npos))
        return true;
    }
    return false;
  };
  ASSERT_EQ(
      cluster.call("POST", "/v2/apps", R"({"id":"/called","cmd":"sleep 1000","cpus":0.1,"mem":16})")
          .status,
      201);
  EXPECT_TRUE(Cluster::eventually([&] { return seen("status_update_event", "/called"); },
                                  std::chrono::seconds(15)));
  EXPECT_TRUE(seen("deployment_info", "/called"));

  // Kept in the store: a restarted master still calls it.
  cluster.kill_master();
  cluster.start_master();
  EXPECT_EQ(cluster.call("GET", "/v2/eventSubscriptions").body["callbackUrls"].size(), 1u);
  ASSERT_EQ(cluster.call("DELETE", "/v2/apps/called").status, 200);
  EXPECT_TRUE(Cluster::eventually([&] { return seen("app_terminated_event", "/called"); },
                                  std::chrono::seconds(15)));
  // Gone once removed.
  ASSERT_EQ(cluster.call("DELETE", "/v2/eventSubscriptions?callbackUrl=" + encoded).status, 200);
  EXPECT_TRUE(cluster.call("GET", "/v2/eventSubscriptions").body["callbackUrls"].empty());
}

}  // namespace berth::testing
