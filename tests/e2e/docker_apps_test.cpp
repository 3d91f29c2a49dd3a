// DOCKER apps on a real berth cluster with the real Docker engine: the seed demo's app
// definition (berth-counter in a container, its clicks on a dataset through the berth volume
// plugin, a fixed host port, a service port) fails over to another node with every click; a
// killed container is replaced; a missing image ends as TASK_FAILED with Docker's message and
// is retried no faster than its backoff; a restarted agent adopts its containers without
// restarting them; task logs come from the container.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

#include "docker/docker_client.h"
#include "executor/docker_executor.h"
#include "executor/leftovers.h"
#include "http/http.h"
#include "tests/e2e/docker_env.h"
#include "tests/integration/cluster.h"
#include "tests/integration/writer_log.h"

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The counter image, built from this build's static binary the way `make images` does.
void require_counter_image() {
  static bool built = false;
  if (built) return;
  if (std::string(BERTH_COUNTER_STATIC).empty()) {
    if (e2e::in_ci())
      FAIL() << "this build has no static berth-counter (CI=true: a failure, not a skip)";
    GTEST_SKIP()
        << "this build (with sanitizers) has no static berth-counter for the berth/counter image";
  }
  auto result = e2e::run(
      std::string(BERTH_SOURCE_DIR) + "/scripts/build-images --counter " + BERTH_COUNTER_STATIC,
      300);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  built = true;
}

// Fixed plugin names: dockerd remembers every volume driver it has used until it restarts.
std::string plugin_socket(int agent) {
  return "/run/docker/plugins/berth-e2e-apps-" + std::to_string(agent) + ".sock";
}

// Task ports both agents offer (as every node of a real cluster offers the same range), so a
// fixed host port can follow its app; distinct per test process.
std::string shared_ports(uint32_t* first) {
  *first = 16000 + static_cast<uint32_t>(::getpid() % 40) * 50;
  return std::to_string(*first) + "-" + std::to_string(*first + 49);
}

std::map<int, std::vector<std::string>> agent_flags(int agents, const std::string& ports) {
  std::map<int, std::vector<std::string>> flags;
  for (int i = 1; i <= agents; ++i) {
    flags[i] = {"--plugin-socket",
                plugin_socket(i),
                "--plugin-volume-prefix",
                "e2e-apps-" + std::to_string(i) + ".",
                "--ports",
                ports};
  }
  return flags;
}

// The owner label of agent `index`'s containers.
std::string owner_of(Cluster& cluster, int index) {
  return container_owner(cluster.agent_hostname(index),
                         cluster.dir() + "/agent-" + std::to_string(index));
}

std::vector<docker::ContainerState> containers_of(const std::string& owner) {
  docker::DockerClient client;
  if (!client.connect()) return {};
  auto list = client.list_containers(std::string(kOwnerLabel) + "=" + owner);
  return list ? *list : std::vector<docker::ContainerState>{};
}

// Kills node `index`: its agent, its supervisors and its containers, all SIGKILL at once.
void kill_node(Cluster& cluster, int index) {
  std::string work_dir = cluster.dir() + "/agent-" + std::to_string(index) + "/";
  std::vector<int> pids = container_pids(owner_of(cluster, index));
  for_each_process([&](int pid) {
    auto args = proc_entries(pid, "cmdline");
    if (args.size() > 1 && args[1] == "supervise") {
      for (const auto& a : args) {
        if (a.rfind(work_dir, 0) == 0) pids.push_back(pid);
      }
    }
  });
  ::kill(cluster.agent_pid(index), SIGKILL);
  for (int pid : pids) ::kill(pid, SIGKILL);
  cluster.kill_agent(index);
}

bool is_zombie(int pid) {
  auto stat = proc_entries(pid, "stat");
  if (stat.empty()) return true;
  size_t paren = stat[0].rfind(')');
  return paren == std::string::npos || paren + 2 >= stat[0].size() || stat[0][paren + 2] == 'Z';
}

nlohmann::json get(const std::string& base, const std::string& path) {
  auto r = http::request(base, "GET", path, "", 5000);
  if (!r || r->status != 200) return nlohmann::json();
  return nlohmann::json::parse(r->body, nullptr, false);
}

TEST(DockerApps, SeedDemoAppFailsOverWithEveryClick) {
  BERTH_REQUIRE_DOCKER();
  require_counter_image();
  if (::testing::Test::IsSkipped() || ::testing::Test::HasFatalFailure()) return;
  uint32_t first_port = 0;
  std::string ports = shared_ports(&first_port);
  Cluster cluster(2, 1500, agent_flags(2, ports));
  uint32_t service_port = cluster.service_port_begin() + 7;
  uint32_t host_port = first_port + 3;
  std::string volume = "counter-e2e-" + std::to_string(::getpid());
  // The seed demo's definition, as is: Flocker's volume driver, a fixed host port.
  nlohmann::json app = {
      {"id", "/moby-counter"},
      {"instances", 1},
      {"cpus", 0.1},
      {"mem", 64},
      {"container",
       {{"type", "DOCKER"},
        {"docker",
         {{"image", "berth/counter"},
          {"network", "BRIDGE"},
          {"portMappings",
           {{{"containerPort", 80}, {"hostPort", host_port}, {"servicePort", service_port}}}},
          {"parameters",
           {{{"key", "volume-driver"}, {"value", "flocker"}},
            {{"key", "volume"}, {"value", volume + ":/data"}}}}}}}},
      {"healthChecks",
       {{{"protocol", "HTTP"},
         {"path", "/v1/ping"},
         {"portIndex", 0},
         {"gracePeriodSeconds", 10},
         {"intervalSeconds", 1},
         {"timeoutSeconds", 1},
         {"maxConsecutiveFailures", 3}}}},
  };
  auto created = cluster.call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  // Marathon's rules for exclusive volumes apply to the parameters' volume too.
  EXPECT_EQ(created.body["upgradeStrategy"]["maximumOverCapacity"], 0);
  std::string via = "http://127.0.0.1:" + std::to_string(service_port);
  nlohmann::json task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.call("GET", "/v2/apps/moby-counter/tasks");
        if (tasks.status != 200 || tasks.body["tasks"].empty()) return false;
        task = tasks.body["tasks"][0];
        return task["state"] == "TASK_RUNNING" && !task["healthCheckResults"].empty() &&
               task["healthCheckResults"][0].value("alive", false) &&
               get(via, "/v1/ping").is_object();
      },
      seconds(60)))
      << cluster.call("GET", "/v2/apps/moby-counter?embed=apps.lastTaskFailure").body.dump();
  EXPECT_EQ(task["ports"][0], host_port);
  EXPECT_EQ(task["servicePorts"][0], service_port);
  // The container runs on the node the master chose, with the dataset through the plugin.
  int first = cluster.agent_index(task["slaveId"].get<std::string>());
  ASSERT_NE(first, 0);
  auto containers = containers_of(owner_of(cluster, first));
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].labels["org.berth.task"], task["id"].get<std::string>());
  // The host port answers too, not only the service port.
  EXPECT_TRUE(get("http://127.0.0.1:" + std::to_string(host_port), "/v1/ping").is_object());

  std::set<int64_t> acknowledged;
  for (int i = 0; i < 40; ++i) {
    auto r = http::request(via, "POST", "/v1/clicks", nlohmann::json{{"x", i}, {"y", 2 * i}}.dump(),
                           5000);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 201) << r->body;
    acknowledged.insert(nlohmann::json::parse(r->body)["id"].get<int64_t>());
  }
  std::string old_task = task["id"];
  kill_node(cluster, first);
  auto t0 = std::chrono::steady_clock::now();
  nlohmann::json moved;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto ping = get(via, "/v1/ping");
        if (!ping.is_object() || ping.value("task", "") == old_task) return false;
        auto tasks = cluster.running_tasks("/moby-counter");
        if (tasks.empty()) return false;
        moved = tasks[0];
        return true;
      },
      seconds(60)))
      << "the app did not come back; logs in " << cluster.dir();
  double failover = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("docker failover: first answer through the service port %.2f s after the kill\n",
              failover);
  EXPECT_NE(cluster.agent_index(moved["slaveId"].get<std::string>()), first);
  auto clicks = get(via, "/v1/clicks");
  ASSERT_TRUE(clicks.is_array());
  std::set<int64_t> present;
  for (const auto& c : clicks) present.insert(c["id"].get<int64_t>());
  for (int64_t id : acknowledged)
    EXPECT_TRUE(present.count(id)) << "click " << id << " was acknowledged and lost";
  // New clicks land on the same data.
  auto more = http::request(via, "POST", "/v1/clicks", R"({"x":1,"y":1})", 5000);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->status, 201);
  EXPECT_EQ(nlohmann::json::parse(more->body)["id"].get<int64_t>(),
            static_cast<int64_t>(acknowledged.size()) + 1);
}

TEST(DockerApps, KilledContainerIsReplacedAndLogsAreServed) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(1, 1500, agent_flags(1, shared_ports(&first_port)));
  nlohmann::json app = {
      {"id", "/docker-sleeper"},
      {"cmd",
       "echo started $MESOS_TASK_ID; echo to-stderr >&2; trap 'exit 0' TERM; while true; do sleep "
       "1; done"},
      {"cpus", 0.1},
      {"mem", 32},
      {"backoffSeconds", 0.5},
      {"container",
       {{"type", "DOCKER"}, {"docker", {{"image", "berth/busybox"}, {"forcePullImage", true}}}}},
      {"networks", {{{"mode", "host"}}}},
  };
  auto created = cluster.call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string first_task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/docker-sleeper");
        if (tasks.empty()) return false;
        first_task = tasks[0]["id"];
        return true;
      },
      seconds(30)));
  // No registry is reachable: forcePullImage is accepted, and berth's view of the task says it
  // was ignored (Marathon's task JSON has no place for it).
  auto first_view = cluster.call("GET", "/berth/v1/tasks/" + first_task);
  ASSERT_EQ(first_view.status, 200) << first_view.body.dump();
  EXPECT_NE(first_view.body["task"].value("message", "").find("forcePullImage ignored"),
            std::string::npos)
      << first_view.body.dump();
  EXPECT_FALSE(
      cluster.call("GET", "/v2/apps/docker-sleeper/tasks").body["tasks"][0].contains("message"));
  // Its output, through the master from the agent, while it runs.
  std::string logs;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto r = http::request(cluster.url(), "GET",
                               "/berth/v1/tasks/" + first_task + "/logs?stream=stdout", "", 5000,
                               cluster.admin_headers());
        logs = r ? r->body : "";
        return r && r->status == 200 && logs.find("started " + first_task) != std::string::npos;
      },
      seconds(10)))
      << logs;
  auto err =
      http::request(cluster.url(), "GET", "/berth/v1/tasks/" + first_task + "/logs?stream=stderr",
                    "", 5000, cluster.admin_headers());
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->body.find("to-stderr"), std::string::npos) << err->body;

  auto containers = containers_of(owner_of(cluster, 1));
  ASSERT_EQ(containers.size(), 1u);
  std::string killed_id = containers[0].id;
  ASSERT_EQ(e2e::run("docker kill " + killed_id, 30).exit_code, 0);
  std::string second_task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/docker-sleeper");
        if (tasks.empty() || tasks[0]["id"] == first_task) return false;
        second_task = tasks[0]["id"];
        return true;
      },
      seconds(30)));
  auto failure = cluster.call("GET", "/v2/apps/docker-sleeper?embed=apps.lastTaskFailure");
  EXPECT_EQ(failure.body["app"]["lastTaskFailure"]["taskId"], first_task);
  EXPECT_EQ(failure.body["app"]["lastTaskFailure"]["state"], "TASK_FAILED");
  EXPECT_NE(failure.body["app"]["lastTaskFailure"]["message"].get<std::string>().find("137"),
            std::string::npos)
      << failure.body.dump();
  containers = containers_of(owner_of(cluster, 1));
  ASSERT_EQ(containers.size(), 1u) << "the killed container is removed, its replacement runs";
  EXPECT_NE(containers[0].id, killed_id);
  // The ended task's output stays readable, saved from the container before its removal.
  auto ended = http::request(cluster.url(), "GET", "/berth/v1/tasks/" + first_task + "/logs", "",
                             5000, cluster.admin_headers());
  if (ended && ended->status == 200) {
    EXPECT_NE(ended->body.find("started " + first_task), std::string::npos);
    EXPECT_EQ(ended->headers["x-berth-task-done"], "true");
  }
  // Deleting the app stops and removes its container.
  ASSERT_EQ(cluster.call("DELETE", "/v2/apps/docker-sleeper").status, 200);
  EXPECT_TRUE(Cluster::eventually([&] { return containers_of(owner_of(cluster, 1)).empty(); },
                                  seconds(30)));
}

TEST(DockerApps, MissingImageFailsWithDockersMessageAndBacksOff) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(1, 1500, agent_flags(1, shared_ports(&first_port)));
  nlohmann::json app = {
      {"id", "/no-such-image"},
      {"cpus", 0.1},
      {"mem", 32},
      {"backoffSeconds", 2},
      {"backoffFactor", 2},
      {"container",
       {{"type", "DOCKER"},
        {"docker", {{"image", "berth/does-not-exist:1.0"}, {"forcePullImage", true}}}}},
  };
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  // Every failed launch, told apart by its task id, for 9 s.
  std::set<std::string> failed;
  std::string message;
  auto deadline = std::chrono::steady_clock::now() + seconds(9);
  nlohmann::json queue;
  while (std::chrono::steady_clock::now() < deadline) {
    auto answer = cluster.call("GET", "/v2/apps/no-such-image?embed=apps.lastTaskFailure");
    const auto& failure = answer.body["app"]["lastTaskFailure"];
    if (failure.is_object()) {
      failed.insert(failure["taskId"].get<std::string>());
      message = failure["message"].get<std::string>();
      EXPECT_EQ(failure["state"], "TASK_FAILED");
    }
    auto q = cluster.call("GET", "/v2/queue");
    if (q.status == 200 && !q.body["queue"].empty()) queue = q.body["queue"][0];
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_NE(message.find("No such image"), std::string::npos) << message;
  EXPECT_NE(message.find("berth/does-not-exist:1.0"), std::string::npos) << message;
  // Backoff 2 s doubling: launches near 0, 2, 6 s; never a tight loop.
  EXPECT_GE(failed.size(), 2u);
  EXPECT_LE(failed.size(), 4u) << "launches retried faster than the backoff";
  ASSERT_TRUE(queue.is_object()) << "the app waits in the queue";
  EXPECT_NE(queue["app"]["lastTaskFailure"]["message"].get<std::string>().find("No such image"),
            std::string::npos)
      << queue.dump();
  EXPECT_TRUE(cluster.running_tasks("/no-such-image").empty());
}

TEST(DockerApps, RestartedAgentAdoptsItsContainersWithoutRestartingThem) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(1, 4000, agent_flags(1, shared_ports(&first_port)));
  nlohmann::json app = {
      {"id", "/adopted"},
      {"cmd", "trap 'exit 0' TERM; while true; do sleep 1; done"},
      {"cpus", 0.1},
      {"mem", 32},
      {"instances", 2},
      {"container", {{"type", "DOCKER"}, {"docker", {{"image", "berth/busybox"}}}}},
      {"networks", {{{"mode", "container"}, {"name", "none"}}}},
  };
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  std::set<std::string> before;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/adopted");
        before.clear();
        for (const auto& t : tasks) before.insert(t["id"].get<std::string>());
        return before.size() == 2;
      },
      seconds(30)));
  std::map<std::string, std::string> started;  // container id -> StartedAt
  docker::DockerClient client;
  ASSERT_TRUE(client.connect().ok());
  for (const auto& c : containers_of(owner_of(cluster, 1)))
    started[c.id] = client.inspect_container(c.id)->started_at;
  ASSERT_EQ(started.size(), 2u);

  cluster.kill_agent(1);  // the agent alone; its containers keep running
  std::this_thread::sleep_for(milliseconds(500));
  cluster.start_agent(1);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.active_nodes() == 1; }, seconds(20)));
  std::this_thread::sleep_for(seconds(3));  // long enough for a wrong restart to show
  std::set<std::string> after;
  for (const auto& t : cluster.running_tasks("/adopted")) after.insert(t["id"].get<std::string>());
  EXPECT_EQ(after, before) << "the same tasks run";
  auto now = containers_of(owner_of(cluster, 1));
  ASSERT_EQ(now.size(), 2u);
  for (const auto& c : now) {
    ASSERT_TRUE(started.count(c.id)) << "container " << c.id << " is new";
    auto state = client.inspect_container(c.id);
    ASSERT_TRUE(state.ok());
    EXPECT_TRUE(state->running);
    EXPECT_EQ(state->started_at, started[c.id]) << "container " << c.id << " was restarted";
  }
  // Adopted containers are still watched: a kill is seen and the task replaced.
  std::string victim = now[0].id;
  ASSERT_EQ(e2e::run("docker kill " + victim, 30).exit_code, 0);
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/adopted");
        std::set<std::string> ids;
        for (const auto& t : tasks) ids.insert(t["id"].get<std::string>());
        return ids.size() == 2 && ids != before;
      },
      seconds(30)));
}

// COMMAND health checks of a DOCKER task run inside its container (docker exec), as Mesos's
// Docker executor runs them: the file it checks for exists only there.
TEST(DockerApps, CommandHealthChecksRunInsideTheContainer) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(1, 1500, agent_flags(1, shared_ports(&first_port)));
  std::string marker = "/tmp/inside-only-" + std::to_string(::getpid());
  ASSERT_NE(::access(marker.c_str(), F_OK), 0);
  nlohmann::json app = {
      {"id", "/checked-inside"},
      {"cmd", "touch " + marker + "; sleep 1000"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container", {{"type", "DOCKER"}, {"docker", {{"image", "berth/busybox"}}}}},
      {"healthChecks",
       {{{"protocol", "COMMAND"},
         {"command", {{"value", "test -f '" + marker + "'"}}},
         {"delaySeconds", 0},
         {"gracePeriodSeconds", 30},
         {"intervalSeconds", 1},
         {"timeoutSeconds", 5}}}},
  };
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  nlohmann::json task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/checked-inside");
        if (tasks.empty() || tasks[0]["healthCheckResults"].empty()) return false;
        task = tasks[0];
        return task["healthCheckResults"][0].value("alive", false);
      },
      seconds(30)))
      << task.dump();
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the check ran on the host";
}

// A container that cannot start (its command does not exist in the image) ends as
// TASK_FAILED with Docker's reason.
TEST(DockerApps, AContainerThatCannotStartFailsWithDockersReason) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(1, 1500, agent_flags(1, shared_ports(&first_port)));
  nlohmann::json app = {
      {"id", "/cannot-start"},
      {"args", {"/no/such/program"}},
      {"cpus", 0.1},
      {"mem", 32},
      {"backoffSeconds", 5},
      {"container", {{"type", "DOCKER"}, {"docker", {{"image", "berth/busybox"}}}}},
  };
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  nlohmann::json failure;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto answer = cluster.call("GET", "/v2/apps/cannot-start?embed=apps.lastTaskFailure");
        failure = answer.body["app"]["lastTaskFailure"];
        return failure.is_object();
      },
      seconds(30)));
  EXPECT_EQ(failure["state"], "TASK_FAILED");
  EXPECT_NE(failure["message"].get<std::string>().find("/no/such/program"), std::string::npos)
      << failure.dump();
  EXPECT_TRUE(containers_of(owner_of(cluster, 1)).empty()) << "the failed container is removed";
}

// Marathon's external volumes (container.volumes, provider dvdi) reach a DOCKER container
// through the berth volume plugin too, on every driver; the data is on the dataset.
class DockerAppsOnEveryDriver : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Drivers, DockerAppsOnEveryDriver,
                         ::testing::Values("shared", "loop", "local"),
                         [](const auto& info) { return info.param; });

TEST_P(DockerAppsOnEveryDriver, ExternalVolumesReachContainersThroughThePlugin) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(1, 1500, agent_flags(1, shared_ports(&first_port)));
  std::string volume = "docker-dvdi-" + GetParam() + "-" + std::to_string(::getpid());
  nlohmann::json app = {
      {"id", "/dvdi-writer"},
      {"cmd", "echo written-by-$MESOS_TASK_ID > /data/proof; sleep 1000"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container",
       {{"type", "DOCKER"},
        {"docker", {{"image", "berth/busybox"}}},
        {"volumes",
         {{{"containerPath", "/data"},
           {"mode", "RW"},
           {"external",
            {{"name", volume},
             {"provider", "dvdi"},
             {"options", {{"dvdi/driver", "flocker"}, {"berth/driver", GetParam()}}}}}}}}}},
  };
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  std::string task, proof;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/dvdi-writer");
        if (tasks.empty()) return false;
        task = tasks[0]["id"];
        std::string path = dataset_mount_path(cluster, volume);
        if (path.empty()) return false;
        auto lines = read_log_lines(path + "/proof");
        proof = lines.empty() ? "" : lines[0];
        return !proof.empty();
      },
      seconds(30)))
      << cluster.call("GET", "/v2/apps/dvdi-writer?embed=apps.lastTaskFailure").body.dump();
  EXPECT_EQ(proof, "written-by-" + task);
  // Docker mounted it as a volume of this agent's plugin.
  auto mounts = e2e::run(
      "docker inspect -f '{{range .Mounts}}{{.Type}} {{.Driver}} {{.Name}} "
      "{{.Destination}};{{end}}' berth-" +
          task,
      30);
  EXPECT_NE(mounts.output.find("volume berth-e2e-apps-1 e2e-apps-1." + volume + " /data;"),
            std::string::npos)
      << mounts.output;
  // The sandbox is where Mesos puts it, and MESOS_SANDBOX says so.
  EXPECT_NE(mounts.output.find("bind   /mnt/mesos/sandbox;"), std::string::npos) << mounts.output;
}

// docs/fencing.md §3 for containers: an agent paused past its lease (SIGSTOP) must have its
// container with the exclusive dataset dead before the replacement on another node writes, killed
// by the task's supervisor since the agent itself cannot act.
TEST(DockerApps, APausedAgentsContainerIsDeadBeforeItsReplacementWrites) {
  BERTH_REQUIRE_DOCKER();
  uint32_t first_port = 0;
  Cluster cluster(2, 1500, agent_flags(2, shared_ports(&first_port)));
  std::string volume = "docker-fence-" + std::to_string(::getpid());
  nlohmann::json app = {
      {"id", "/docker-writer"},
      {"cmd", "while true; do echo $MESOS_TASK_ID >> /data/log; sleep 0.05; done"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container",
       {{"type", "DOCKER"},
        {"docker",
         {{"image", "berth/busybox"},
          {"network", "NONE"},
          {"parameters",
           {{{"key", "volume-driver"}, {"value", "berth"}},
            {{"key", "volume"}, {"value", volume + ":/data"}}}}}}}},
  };
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  std::string first_task, first_node, log;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/docker-writer");
        if (tasks.empty()) return false;
        first_task = tasks[0]["id"];
        first_node = tasks[0]["slaveId"];
        log = dataset_mount_path(cluster, volume) + "/log";
        return read_log_lines(log).size() >= 3;
      },
      seconds(40)))
      << cluster.call("GET", "/v2/apps/docker-writer?embed=apps.lastTaskFailure").body.dump();
  int index = cluster.agent_index(first_node);
  ASSERT_GT(index, 0);
  auto containers = containers_of(owner_of(cluster, index));
  ASSERT_EQ(containers.size(), 1u);
  docker::DockerClient client;
  ASSERT_TRUE(client.connect().ok());
  auto before = client.inspect_container(containers[0].id);
  ASSERT_TRUE(before.ok() && before->pid > 0);
  int container_init = before->pid;
  ::kill(cluster.agent_pid(index), SIGSTOP);
  std::string second_task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto lines = read_log_lines(dataset_mount_path(cluster, volume) + "/log");
        if (lines.empty() || lines.back() == first_task) return false;
        second_task = lines.back();
        return true;
      },
      seconds(30)))
      << "no replacement wrote while the agent was paused";
  // Its init is gone, and with it everything in the container. (Docker itself may still be
  // busy with that container: its Unmount goes to the paused agent's plugin.)
  EXPECT_NE(::kill(container_init, 0) == 0 && !is_zombie(container_init), true)
      << "the paused node's container still runs";
  ::kill(cluster.agent_pid(index), SIGCONT);
  std::this_thread::sleep_for(seconds(2));  // the woken agent must not take anything back
  auto lines = read_log_lines(dataset_mount_path(cluster, volume) + "/log");
  expect_single_writer_at_a_time(lines);
  EXPECT_EQ(lines.back(), second_task);
}

}  // namespace
}  // namespace berth::testing
