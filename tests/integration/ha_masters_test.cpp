// Three `berth master --store etcd://...` on one real etcd (docs/architecture.md §5, "Leader
// election"): one leads, the others stand by and pass the API on; a leader killed or paused is
// replaced, its apps keep running with their data, and a paused leader that resumes after its
// term ended writes nothing and answers no agent. Cluster: heartbeats every 0.2 s, lease 2.5 s,
// declared lost after 3 s; etcd's default election timeout, so the leader lease's TTL is 2 s.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
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

std::string writer_app(const std::string& id, const std::string& volume) {
  return nlohmann::json{
      {"id", id},
      {"cmd", "while true; do echo $MESOS_TASK_ID >> $BERTH_VOLUME_DATA/log; sleep 0.2; done"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container", mesos_container_with_volume(volume)}}
      .dump();
}

// etcd's current revision: it grows with every write to etcd, and only then.
int64_t etcd_revision(const EtcdProcess& etcd) {
  auto answer = http::request(etcd.client_url(), "POST", "/v3/kv/range",
                              nlohmann::json{{"key", "AA=="}, {"count_only", true}}.dump());
  if (!answer || answer->status != 200) return -1;
  auto body = nlohmann::json::parse(answer->body, nullptr, false);
  return std::stoll(body["header"].value("revision", "-1"));
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
  const int64_t before = etcd_revision(*etcd_);
  ASSERT_GT(before, 0);
  cluster->resume_master(leader);
  // Less than the paused leader's lease TTL (2 s) minus its keepalive period: its key stays.
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(etcd_revision(*etcd_), before) << "a master whose term ended wrote to etcd";
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

}  // namespace
}  // namespace berth::testing
