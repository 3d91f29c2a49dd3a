// Three `berth master --store etcd://...` on one real etcd (docs/architecture.md §5, "Leader
// election"): one leads, the others stand by and pass the API on; a leader killed or paused is
// replaced, its apps keep running with their data, and a paused leader that resumes after its
// term ended writes nothing and answers no agent. Cluster: heartbeats every 0.2 s, lease 2.5 s,
// declared lost after 3 s; etcd's default election timeout, so the leader lease's TTL is 2 s.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "http/http.h"
#include "tests/integration/cluster.h"
#include "tests/integration/writer_log.h"
#include "tests/support/etcd_process.h"

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string sleep_app(const std::string& id) {
  return nlohmann::json{{"id", id}, {"cmd", "sleep 1000"}, {"cpus", 0.1}, {"mem", 16}}.dump();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string running_task(Cluster& cluster, const std::string& app) {
  auto tasks = cluster.running_tasks(app);
  return tasks.size() == 1 ? tasks[0]["id"].get<std::string>() : "";
}

class HaMasters : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdProcess::binary().empty()) {
      GTEST_SKIP() << "no etcd binary: install Debian's etcd-server (scripts/install-deps) or set "
                      "BERTH_ETCD to run several masters";
    }
    std::string error;
    etcd_ = EtcdProcess::start(&error);
    ASSERT_NE(etcd_, nullptr) << error;
  }

  // A cluster of three masters on etcd and `agents` agents, with a leader elected.
  std::unique_ptr<Cluster> start(int agents) {
    auto cluster = std::make_unique<Cluster>(
        agents, 3000, std::map<int, std::vector<std::string>>{},
        std::map<int, std::pair<std::string, std::string>>{},
        std::vector<std::string>{"--store", "etcd://" + etcd_->host_port() + "/ha"}, 3);
    EXPECT_TRUE(Cluster::eventually([&] { return cluster->leader_index() != 0; }, seconds(10)));
    return cluster;
  }

  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(HaMasters, StandbysNameTheLeaderPassTheApiOnAndSendAgentsThere) {
  auto cluster = start(1);
  const int leader = cluster->leader_index();
  ASSERT_NE(leader, 0);
  const int standby = leader % 3 + 1;
  const std::string leader_address = cluster->master_url(leader).substr(7);
  const auto admin = cluster->admin_headers();
  for (int i = 1; i <= 3; ++i) {
    auto named = http::request(cluster->master_url(i), "GET", "/v2/leader", "", 5000, admin);
    ASSERT_TRUE(named.ok());
    EXPECT_EQ(named->status, 200) << named->body;
    EXPECT_EQ(nlohmann::json::parse(named->body).value("leader", ""), leader_address);
  }
  // An app created through a standby is the leader's, and runs.
  auto created = http::request(cluster->master_url(standby), "POST", "/v2/apps",
                               sleep_app("/through-standby"), 5000, admin);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->status, 201) << created->body;
  EXPECT_TRUE(Cluster::eventually(
      [&] { return !running_task(*cluster, "/through-standby").empty(); }, seconds(20)));
  // The leader authenticates what a standby passes on.
  auto anonymous = http::request(cluster->master_url(standby), "GET", "/v2/apps");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 401);
  // Agents are sent to the leader; event streams too.
  auto agent_call =
      http::request(cluster->master_url(standby), "POST", "/berth/v1/agents/register", "{}", 5000);
  ASSERT_TRUE(agent_call.ok());
  EXPECT_EQ(agent_call->status, 503);
  EXPECT_EQ(agent_call->headers["x-berth-leader"], leader_address);
  auto events = http::request(cluster->master_url(standby), "GET", "/v2/events", "", 5000, admin);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->status, 307);
  EXPECT_EQ(events->headers["location"], "http://" + leader_address + "/v2/events");
}

TEST_F(HaMasters, DeleteLeaderHandsTheLeadershipToAStandby) {
  auto cluster = start(0);
  const int leader = cluster->leader_index();
  ASSERT_NE(leader, 0);
  auto viewer_denied = http::request(cluster->master_url(leader), "DELETE", "/v2/leader");
  ASSERT_TRUE(viewer_denied.ok());
  EXPECT_EQ(viewer_denied->status, 401);
  auto abdicated = http::request(cluster->master_url(leader), "DELETE", "/v2/leader", "", 5000,
                                 cluster->admin_headers());
  ASSERT_TRUE(abdicated.ok());
  EXPECT_EQ(abdicated->status, 200) << abdicated->body;
  EXPECT_EQ(nlohmann::json::parse(abdicated->body).value("message", ""), "Leadership abdicated");
  int next = 0;
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        next = cluster->leader_index();
        return next != 0 && next != leader;
      },
      seconds(10)))
      << "still led by master " << next;
  EXPECT_EQ(cluster->call("POST", "/v2/apps", sleep_app("/after-abdication")).status, 201);
}

TEST_F(HaMasters, AKilledLeaderIsReplacedAndItsAppsKeepRunning) {
  auto cluster = start(1);
  ASSERT_EQ(cluster->call("POST", "/v2/apps", sleep_app("/kept")).status, 201);
  std::string task;
  ASSERT_TRUE(Cluster::eventually([&] { return !(task = running_task(*cluster, "/kept")).empty(); },
                                  seconds(20)));
  const int leader = cluster->leader_index();
  cluster->kill_master(leader);
  int next = 0;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        next = cluster->leader_index();
        return next != 0 && next != leader;
      },
      seconds(10)));
  // The new leader takes writes, and finds the task the agent still runs.
  EXPECT_TRUE(Cluster::eventually(
      [&] { return cluster->call("POST", "/v2/apps", sleep_app("/new")).status == 201; },
      seconds(10)));
  EXPECT_TRUE(
      Cluster::eventually([&] { return running_task(*cluster, "/kept") == task; }, seconds(20)))
      << "the task should be adopted, not replaced";
  EXPECT_TRUE(
      Cluster::eventually([&] { return !running_task(*cluster, "/new").empty(); }, seconds(20)));
  // The killed master comes back as a standby.
  cluster->start_master(leader);
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        auto named = http::request(cluster->master_url(leader), "GET", "/v2/leader", "", 2000,
                                   cluster->admin_headers());
        return named.ok() && named->status == 200 &&
               nlohmann::json::parse(named->body).value("leader", "") ==
                   cluster->master_url(next).substr(7);
      },
      seconds(10)));
}

// The leader is paused longer than its term; a standby takes over; the writer's node is then
// also paused, so a leader that still acted would move its dataset. When the old leader resumes
// with the others paused, etcd's revision does not move: it writes nothing.
TEST_F(HaMasters, APausedLeaderWritesNothingWhenItResumes) {
  auto cluster = start(2);
  const std::string volume = "ha-pause-" + std::to_string(::getpid());
  ASSERT_EQ(cluster->call("POST", "/v2/apps", writer_app("/paused", volume)).status, 201);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        return !running_task(*cluster, "/paused").empty() &&
               read_log_lines(dataset_mount_path(*cluster, volume) + "/log").size() >= 3;
      },
      seconds(30)));
  const int leader = cluster->leader_index();
  cluster->pause_master(leader);
  int next = 0;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        next = cluster->leader_index();
        return next != 0 && next != leader;
      },
      seconds(15)));
  // Let the new leader settle (the agents register with it), then stop everyone but the old one.
  std::this_thread::sleep_for(seconds(4));
  for (int i = 1; i <= 3; ++i) {
    if (i != leader) cluster->pause_master(i);
  }
  const int64_t before = etcd_->revision();
  ASSERT_GT(before, 0);
  cluster->resume_master(leader);
  // Less than the paused leader's lease TTL (2 s) minus its keepalive period: its key stays.
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(etcd_->revision(), before) << "a master whose term ended wrote to etcd";
  for (int i = 1; i <= 3; ++i) {
    if (i != leader) cluster->resume_master(i);
  }
  const std::string log =
      read_file(cluster->dir() +
                (leader == 1 ? "/master.log" : "/master-" + std::to_string(leader) + ".log"));
  EXPECT_NE(log.find("no longer leading"), std::string::npos) << log;
  // The cluster goes on: a leader, the writer running, never two writers at once.
  EXPECT_TRUE(Cluster::eventually([&] { return cluster->leader_index() != 0; }, seconds(15)));
  EXPECT_TRUE(
      Cluster::eventually([&] { return !running_task(*cluster, "/paused").empty(); }, seconds(30)));
  expect_single_writer_at_a_time(read_log_lines(dataset_mount_path(*cluster, volume) + "/log"));
}

TEST_F(HaMasters, ALeaderAndAWritersNodeKilledTogether) {
  auto cluster = start(2);
  const std::string volume = "ha-both-" + std::to_string(::getpid());
  ASSERT_EQ(cluster->call("POST", "/v2/apps", writer_app("/both", volume)).status, 201);
  std::string first;
  std::string log;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_task(*cluster, "/both");
        log = dataset_mount_path(*cluster, volume) + "/log";
        return !first.empty() && read_log_lines(log).size() >= 3;
      },
      seconds(30)));
  const int node = cluster->agent_index(cluster->running_tasks("/both")[0]["slaveId"]);
  ASSERT_GT(node, 0);
  const int leader = cluster->leader_index();
  ASSERT_GT(leader, 0);
  cluster->kill_master(leader);
  cluster->kill_agent(node);
  const std::vector<std::string> before = read_log_lines(log);
  std::string second;
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        second = running_task(*cluster, "/both");
        auto lines = read_log_lines(dataset_mount_path(*cluster, volume) + "/log");
        return !second.empty() && second != first && !lines.empty() && lines.back() == second;
      },
      seconds(45)))
      << "no writer on another node after the leader and the writer's node died";
  EXPECT_TRUE(cluster->task_pids(first).empty()) << "the dead node's writer still runs";
  const std::vector<std::string> after =
      read_log_lines(dataset_mount_path(*cluster, volume) + "/log");
  ASSERT_GE(after.size(), before.size());
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()))
      << "writes made before the failover are gone";
  expect_single_writer_at_a_time(after);
}

// What a client asked for through all the masters while leaders were being killed.
struct History {
  std::mutex mu;
  std::map<std::string, std::set<int>> requested;  // app -> every `cmd` number sent
  std::map<std::string, int> acknowledged;         // app -> the last number answered 2xx
  int acknowledgements = 0;
};

// Updates apps /h/0 ... /h/4 round-robin (each PUT a new `cmd` number, forced past
// deployments) until `stop`, recording what was sent and what was acknowledged.
void update_apps(Cluster& cluster, History& history, const std::atomic<bool>& stop) {
  for (int n = 1; !stop; ++n) {
    const std::string id = "/h/" + std::to_string(n % 5);
    {
      std::lock_guard lock(history.mu);
      history.requested[id].insert(n);
    }
    const std::string app =
        nlohmann::json{{"id", id}, {"cmd", "sleep " + std::to_string(n)}, {"instances", 0}}.dump();
    const int status = cluster.call("PUT", "/v2/apps" + id + "?force=true", app).status;
    if (status == 200 || status == 201) {
      std::lock_guard lock(history.mu);
      history.acknowledged[id] = n;
      ++history.acknowledgements;
    }
    std::this_thread::sleep_for(milliseconds(300));
  }
}

int cmd_number(const nlohmann::json& app) {
  const std::string cmd = app.is_object() ? app.value("cmd", "") : "";
  return cmd.starts_with("sleep ") ? std::stoi(cmd.substr(6)) : -1;
}

// Every acknowledged change is there, nothing appears that was not asked for, and each app's
// versions, oldest first, carry growing numbers.
void check_history(Cluster& cluster, History& history) {
  for (const auto& [id, requested] : history.requested) {
    auto current = cluster.call("GET", "/v2/apps" + id);
    const auto acked = history.acknowledged.find(id);
    if (current.status == 404 && acked == history.acknowledged.end()) continue;
    ASSERT_EQ(current.status, 200) << id << " (acknowledged) is gone";
    const int now = cmd_number(current.body["app"]);
    EXPECT_TRUE(requested.count(now)) << id << " has cmd number " << now << ", never requested";
    if (acked != history.acknowledged.end()) {
      EXPECT_GE(now, acked->second) << id;
    }
    auto versions = cluster.call("GET", "/v2/apps" + id + "/versions");
    ASSERT_EQ(versions.status, 200);
    std::vector<std::string> kept = versions.body["versions"].get<std::vector<std::string>>();
    std::sort(kept.begin(), kept.end());
    int previous = 0;
    std::set<int> seen;
    for (const auto& version : kept) {
      auto old = cluster.call("GET", "/v2/apps" + id + "/versions/" + version);
      ASSERT_EQ(old.status, 200) << id << "@" << version;
      const int number = cmd_number(old.body);
      EXPECT_GT(number, previous) << id << ": version " << version << " goes back";
      EXPECT_TRUE(requested.count(number)) << id << "@" << version << " was never requested";
      previous = number;
      seen.insert(number);
    }
    if (acked != history.acknowledged.end()) {
      EXPECT_TRUE(seen.count(acked->second))
          << id << ": the acknowledged change " << acked->second << " has no version";
    }
  }
}

// The issue's history check: 20 leader kills (each killed master started again as a standby)
// while a client keeps changing apps through whichever master answers.
TEST_F(HaMasters, NothingAcknowledgedIsLostOverTwentyLeaderKills) {
  auto cluster = start(0);
  History history;
  std::atomic<bool> stop{false};
  std::thread client([&] { update_apps(*cluster, history, stop); });
  int kills = 0;
  for (int round = 0; round < 20; ++round) {
    int leader = 0;
    if (!Cluster::eventually([&] { return (leader = cluster->leader_index()) != 0; },
                             seconds(15))) {
      ADD_FAILURE() << "no leader before kill " << round + 1;
      break;
    }
    std::this_thread::sleep_for(milliseconds(700));  // a few acknowledged changes per leader
    cluster->kill_master(leader);
    ++kills;
    cluster->start_master(leader);
  }
  EXPECT_TRUE(Cluster::eventually([&] { return cluster->leader_index() != 0; }, seconds(15)));
  std::this_thread::sleep_for(seconds(1));
  stop = true;
  client.join();
  EXPECT_EQ(kills, 20);
  EXPECT_GT(history.acknowledgements, 20) << "the client was hardly ever answered";
  check_history(*cluster, history);
}

}  // namespace
}  // namespace berth::testing
