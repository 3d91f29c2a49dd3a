// Fencing under faults (docs/fencing.md). A writer appends its task id to a log on its dataset five
// times a second; the checker fails on any interleaving of two writers. Cluster: heartbeats
// every 0.2 s, lease L = 1 s, declared lost after 1.5 s.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "tests/integration/cluster.h"
#include "tests/integration/isolated_host.h"
#include "tests/integration/writer_log.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

// The log of the volume, found through the dataset's state.
std::string log_path(Cluster& cluster, const std::string& volume) {
  std::string path = dataset_mount_path(cluster, volume);
  return path.empty() ? "" : path + "/log";
}

struct Writer {
  std::string task_id, node_id;
};

Writer running_writer(Cluster& cluster, const std::string& app) {
  auto tasks = cluster.running_tasks(app);
  if (tasks.size() != 1) return {};
  return {tasks[0]["id"].get<std::string>(), tasks[0]["slaveId"].get<std::string>()};
}

// Waits for a writer other than `old` to run and to have written, then returns it.
Writer wait_for_replacement(Cluster& cluster, const std::string& app, const std::string& volume,
                            const std::string& old) {
  Writer w;
  Cluster::eventually(
      [&] {
        w = running_writer(cluster, app);
        if (w.task_id.empty() || w.task_id == old) return false;
        auto lines = read_log_lines(log_path(cluster, volume));
        return !lines.empty() && lines.back() == w.task_id;
      },
      seconds(40));  // an upper bound: a loaded machine needs it after the master's restart grace
  return w;
}

}  // namespace

// The faults that move a dataset, on each driver that moves without its node: `shared` and
// `loop` (a `local` dataset stays with its node, docs/fencing.md §5). Loop needs root.
class FencingOnEveryDriver : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "loop" && ::geteuid() != 0) {
      GTEST_SKIP() << "the loop driver needs root (loop devices and mounts)";
    }
  }
  std::string volume(const char* name) {
    return std::string(name) + "-" + GetParam() + "-" + std::to_string(::getpid());
  }
};

INSTANTIATE_TEST_SUITE_P(Drivers, FencingOnEveryDriver, ::testing::Values("shared", "loop"),
                         [](const auto& info) { return info.param; });

TEST_P(FencingOnEveryDriver, APausedAgentsTaskIsDeadBeforeASecondWriterStarts) {
  Cluster cluster(2);
  std::string volume = this->volume("fence-stop");
  ASSERT_EQ(cluster.call("POST", "/v2/apps", writer_app("/stopped", volume, GetParam())).status,
            201);
  Writer first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_writer(cluster, "/stopped");
        return !first.task_id.empty() && read_log_lines(log_path(cluster, volume)).size() >= 3;
      },
      seconds(20)));
  int index = cluster.agent_index(first.node_id);
  ASSERT_GT(index, 0);

  ::kill(cluster.agent_pid(index), SIGSTOP);  // a pause, not a death: the task itself keeps going
  Writer second = wait_for_replacement(cluster, "/stopped", volume, first.task_id);
  ASSERT_FALSE(second.task_id.empty()) << "no replacement while the agent was paused";
  EXPECT_NE(second.node_id, first.node_id);
  EXPECT_TRUE(cluster.task_pids(first.task_id).empty()) << "the paused node's task still runs";
  ::kill(cluster.agent_pid(index), SIGCONT);
  std::this_thread::sleep_for(seconds(2));  // the woken agent must not take anything back
  // Where the dataset is now: a `loop` dataset has a mount of its own on each node.
  auto lines = read_log_lines(log_path(cluster, volume));
  ASSERT_FALSE(lines.empty());
  expect_single_writer_at_a_time(lines);
  EXPECT_EQ(lines.back(), second.task_id);
}

TEST_P(FencingOnEveryDriver, AKilledAgentsTasksRunOnUntilTheLeaseEndsAndDieBeforeTheReplacement) {
  Cluster cluster(2);
  std::string volume = this->volume("fence-kill");
  ASSERT_EQ(cluster.call("POST", "/v2/apps", writer_app("/orphaned", volume, GetParam())).status,
            201);
  Writer first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_writer(cluster, "/orphaned");
        return !first.task_id.empty() && read_log_lines(log_path(cluster, volume)).size() >= 3;
      },
      seconds(20)));

  int index = cluster.agent_index(first.node_id);
  ASSERT_GT(index, 0);
  cluster.kill_agent(index);  // the agent process alone
  EXPECT_FALSE(cluster.task_pids(first.task_id).empty()) << "the task died with its agent";
  Writer second = wait_for_replacement(cluster, "/orphaned", volume, first.task_id);
  ASSERT_FALSE(second.task_id.empty());
  EXPECT_TRUE(cluster.task_pids(first.task_id).empty())
      << "the supervisor did not stop the orphaned task";
  expect_single_writer_at_a_time(read_log_lines(log_path(cluster, volume)));
}

// The lines of a log file.
std::vector<std::string> file_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Checks that `expected` appear in `lines` in this order (each a substring of some line),
// and names the first one missing.
void expect_in_order(const std::vector<std::string>& lines,
                     const std::vector<std::string>& expected, const std::string& log) {
  size_t at = 0;
  for (const auto& want : expected) {
    auto found =
        std::find_if(lines.begin() + static_cast<long>(at), lines.end(),
                     [&](const std::string& line) { return line.find(want) != std::string::npos; });
    if (found == lines.end()) {
      ADD_FAILURE() << log << " lacks, after line " << at << ": " << want;
      return;
    }
    at = static_cast<size_t>(found - lines.begin()) + 1;
  }
}

TEST(Fencing, AFailoverIsExplainedByTheLogsAlone) {
  Cluster cluster(2);
  std::string volume = "fence-logs-" + std::to_string(::getpid());
  ASSERT_EQ(cluster.call("POST", "/v2/apps", writer_app("/explained", volume)).status, 201);
  Writer first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_writer(cluster, "/explained");
        return !first.task_id.empty() && read_log_lines(log_path(cluster, volume)).size() >= 3;
      },
      seconds(20)));
  std::string dataset;
  for (const auto& d : cluster.call("GET", "/v1/configuration/datasets").body) {
    if (d["metadata"].value("name", "") == volume) dataset = d["dataset_id"].get<std::string>();
  }
  ASSERT_FALSE(dataset.empty());
  int first_index = cluster.agent_index(first.node_id);
  ASSERT_GT(first_index, 0);
  // `berth events` follows the same failover live, as an operator would.
  std::string events_out = cluster.dir() + "/events.out";
  pid_t events = ::fork();
  if (events == 0) {
    FILE* out = std::freopen(events_out.c_str(), "w", stdout);
    if (out == nullptr) ::_exit(127);
    ::execl(BERTH_BINARY, BERTH_BINARY, "events", "--master", cluster.url().c_str(), "--token",
            cluster.admin_token().c_str(), "--type", "status_update_event",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(events, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscribed before the kill
  cluster.kill_agent(first_index);
  Writer second = wait_for_replacement(cluster, "/explained", volume, first.task_id);
  ASSERT_FALSE(second.task_id.empty());
  int second_index = cluster.agent_index(second.node_id);
  ASSERT_GT(second_index, 0);
  std::string node_a = cluster.agent_hostname(first_index) + " (" + first.node_id + ")";
  std::string node_b = cluster.agent_hostname(second_index) + " (" + second.node_id + ")";

  // The master: why the first task ended, where the dataset went at which epoch, and what ran.
  expect_in_order(file_lines(cluster.dir() + "/master.log"),
                  {"task " + first.task_id + ": launch sent to " + node_a,
                   "task " + first.task_id + " of /explained on " + node_a + ": TASK_RUNNING",
                   "agent " + first.node_id + " (" + cluster.agent_hostname(first_index) +
                       ") lost: last heartbeat",
                   "task " + first.task_id + " of /explained on " + node_a + ": TASK_LOST (agent " +
                       first.node_id + " lost)",
                   "dataset " + dataset + " (" + volume + ") primary " + node_a + " -> " + node_b +
                       ", epoch 1 -> 2",
                   "dataset " + dataset + " attached on " + node_b + " at epoch 2",
                   "task " + second.task_id + ": launch sent to " + node_b,
                   "task " + second.task_id + " of /explained on " + node_b + ": TASK_RUNNING"},
                  "master.log");
  // The node it moved to: the dataset attached at the new epoch, then the task launched.
  expect_in_order(
      file_lines(cluster.dir() + "/agent-" + std::to_string(second_index) + ".log"),
      {"dataset " + dataset + " attached at epoch 2", "task " + second.task_id + ": launching",
       "task " + second.task_id + ": TASK_RUNNING"},
      "agent-" + std::to_string(second_index) + ".log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(events, SIGTERM);
  ::waitpid(events, nullptr, 0);
  expect_in_order(
      file_lines(events_out),
      {"status_update_event task " + first.task_id +
           " of /explained on 127.0.0.1: TASK_LOST (agent " + first.node_id + " lost)",
       "status_update_event task " + second.task_id + " of /explained on 127.0.0.1: TASK_RUNNING"},
      "berth events");
}

TEST(Fencing, AMasterOutageLongerThanTheLeaseStopsStatefulTasksOnlyAndThenConverges) {
  // L = 3.5 s here, so that the short outage below stays short even on a loaded machine.
  Cluster cluster(2, 4000);
  std::string volume = "fence-master-" + std::to_string(::getpid());
  ASSERT_EQ(cluster.call("POST", "/v2/apps", writer_app("/stateful", volume)).status, 201);
  ASSERT_EQ(cluster
                .call("POST", "/v2/apps",
                      R"({"id": "/stateless", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16})")
                .status,
            201);
  Writer first;
  std::string stateless;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_writer(cluster, "/stateful");
        auto s = cluster.running_tasks("/stateless");
        if (!s.empty()) stateless = s[0]["id"].get<std::string>();
        return !first.task_id.empty() && !stateless.empty() &&
               read_log_lines(log_path(cluster, volume)).size() >= 2;
      },
      seconds(20)));
  std::string log = log_path(cluster, volume);
  auto stateless_pids = cluster.task_pids(stateless);
  ASSERT_FALSE(stateless_pids.empty());

  // Shorter than L: nothing happens.
  cluster.kill_master();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  cluster.start_master();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(running_writer(cluster, "/stateful").task_id, first.task_id)
      << "a short outage restarted the writer";
  EXPECT_FALSE(cluster.task_pids(first.task_id).empty());

  // Longer than L: the stateful task stops, the stateless one keeps running.
  cluster.kill_master();
  EXPECT_TRUE(
      Cluster::eventually([&] { return cluster.task_pids(first.task_id).empty(); }, seconds(10)))
      << "the stateful task outlived its lease";
  EXPECT_EQ(cluster.task_pids(stateless), stateless_pids) << "a stateless task was stopped";
  cluster.start_master();
  // Everything converges: the writer runs again (once), the stateless task was never touched.
  Writer again = wait_for_replacement(cluster, "/stateful", volume, first.task_id);
  EXPECT_FALSE(again.task_id.empty());
  auto s = cluster.running_tasks("/stateless");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["id"].get<std::string>(), stateless);
  expect_single_writer_at_a_time(read_log_lines(log));
}

}  // namespace berth::testing

namespace berth::testing {

TEST(Fencing, AnAgentRestartedWithinTheLeaseReadoptsItsTasksUndisturbed) {
  Cluster cluster(2);
  std::string volume = "fence-readopt-" + std::to_string(::getpid());
  ASSERT_EQ(cluster.call("POST", "/v2/apps", writer_app("/readopted", volume)).status, 201);
  ASSERT_EQ(
      cluster
          .call("POST", "/v2/apps",
                R"({"id": "/plain", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2,
                             "constraints": [["hostname", "UNIQUE"]]})")
          .status,
      201);
  Writer first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_writer(cluster, "/readopted");
        return !first.task_id.empty() && cluster.running_tasks("/plain").size() == 2 &&
               read_log_lines(log_path(cluster, volume)).size() >= 2;
      },
      seconds(20)));
  std::string log = log_path(cluster, volume);
  auto pids = cluster.task_pids(first.task_id);
  std::set<std::string> plain_before;
  for (const auto& t : cluster.running_tasks("/plain"))
    plain_before.insert(t["id"].get<std::string>());
  int index = cluster.agent_index(first.node_id);
  ASSERT_GT(index, 0);
  cluster.kill_agent(index);
  cluster.start_agent(index);               // back well within L
  std::this_thread::sleep_for(seconds(4));  // longer than L + margin
  EXPECT_EQ(running_writer(cluster, "/readopted").task_id, first.task_id)
      << "the writer was replaced";
  // The task's shell (its first process) is the same process; its `sleep`s come and go.
  auto after = cluster.task_pids(first.task_id);
  ASSERT_FALSE(pids.empty());
  EXPECT_NE(std::find(after.begin(), after.end(), *std::min_element(pids.begin(), pids.end())),
            after.end())
      << "the writer was restarted";
  std::set<std::string> plain_after;
  for (const auto& t : cluster.running_tasks("/plain"))
    plain_after.insert(t["id"].get<std::string>());
  EXPECT_EQ(plain_after, plain_before);
  auto lines = read_log_lines(log);
  std::set<std::string> writers(lines.begin(), lines.end());
  EXPECT_EQ(writers, std::set<std::string>{first.task_id});
  EXPECT_GE(lines.size(), 15u) << "the writer stopped writing";
}

TEST_P(FencingOnEveryDriver, AnAgentCutOffFromTheMasterStopsItsTaskBeforeASecondWriterStarts) {
  if (std::string why; !IsolatedHost::possible(&why)) GTEST_SKIP() << why;
  IsolatedHost isolated;
  ASSERT_TRUE(isolated.ok()) << "could not create a network namespace with a veth pair";
  // Agent 1 lives in the namespace and reaches the master over the veth pair; agent 2 on the
  // host. The agents start after the master, whose port is known only then.
  std::string volume = this->volume("fence-cut");
  auto cluster = std::make_unique<Cluster>(0, 1500);
  std::string from_ns =
      "http://" + isolated.host_ip() + cluster->url().substr(cluster->url().rfind(':'));
  cluster->set_agent_netns(1, isolated.netns(), from_ns);
  cluster->start_agent(1);
  cluster->start_agent(2);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster->active_nodes() == 2; }, seconds(10)))
      << "the isolated agent did not register through " << from_ns;
  // The writer goes to the isolated agent.
  std::string isolated_host = cluster->agent_hostname(1);
  nlohmann::json app = nlohmann::json::parse(writer_app("/cut", volume, GetParam()));
  app["constraints"] = {{"hostname", "IS", isolated_host}};
  ASSERT_EQ(cluster->call("POST", "/v2/apps", app.dump()).status, 201);
  Writer first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_writer(*cluster, "/cut");
        return !first.task_id.empty() && read_log_lines(log_path(*cluster, volume)).size() >= 3;
      },
      seconds(20)));

  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster->call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  // Let it go anywhere, then cut the isolated host off.
  ASSERT_EQ(cluster->call("PUT", "/v2/apps/cut?force=true", R"({"constraints": []})").status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster->call("GET", "/v2/deployments").body.empty(); }, seconds(20)));
  first = running_writer(*cluster, "/cut");
  int index = cluster->agent_index(first.node_id);
  if (index != 1) GTEST_SKIP() << "the writer moved off the isolated host before the cut";
  isolated.cut();
  Writer second = wait_for_replacement(*cluster, "/cut", volume, first.task_id);
  ASSERT_FALSE(second.task_id.empty()) << "no replacement after the partition";
  EXPECT_TRUE(cluster->task_pids(first.task_id).empty()) << "the cut-off node's task still runs";
  isolated.heal();
  std::this_thread::sleep_for(seconds(2));  // the healed agent must not take anything back
  auto lines = read_log_lines(log_path(*cluster, volume));
  ASSERT_FALSE(lines.empty());
  expect_single_writer_at_a_time(lines);
  EXPECT_EQ(lines.back(), second.task_id);
}

}  // namespace berth::testing
