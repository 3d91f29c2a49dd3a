// Apps with external volumes on a real cluster: the dataset is created on first use, the task
// sees it at its containerPath, and when the app moves (drain, changed constraint) its data
// moves with it, with no moment where two tasks write it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/cluster.h"
#include "tests/integration/writer_log.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string writer_app(const std::string& volume, const nlohmann::json& constraints,
                       const std::string& driver = "") {
  // Appends its task id to <volume>/log five times a second, each line flushed and synced.
  nlohmann::json app = {{"id", "/writer"},
                        {"cmd",
                         "while true; do echo $MESOS_TASK_ID >> $BERTH_VOLUME_DATA/log; sync "
                         "$BERTH_VOLUME_DATA/log; sleep 0.2; done"},
                        {"cpus", 0.1},
                        {"mem", 32},
                        {"instances", 1},
                        {"constraints", constraints},
                        {"container", mesos_container_with_volume(volume, driver)}};
  return app.dump();
}

}  // namespace

// On every driver: `shared` and `loop` through the pool every node sees, `local` by a copy
// from the node it leaves (loop needs root).
class VolumesOnEveryDriver : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "loop" && ::geteuid() != 0) {
      GTEST_SKIP() << "the loop driver needs root (loop devices and mounts)";
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Drivers, VolumesOnEveryDriver,
                         ::testing::Values("shared", "loop", "local"),
                         [](const auto& info) { return info.param; });

TEST_P(VolumesOnEveryDriver, AnAppsDatasetFollowsItWhenItMoves) {
  Cluster cluster(2);
  std::string volume = "itvol-" + GetParam() + "-" + std::to_string(::getpid());
  auto created =
      cluster.call("POST", "/v2/apps", writer_app(volume, nlohmann::json::array(), GetParam()));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  // Marathon's defaults for external volumes: at most one instance, no over-capacity.
  EXPECT_EQ(created.body["upgradeStrategy"]["maximumOverCapacity"], 0.0);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/writer").size() == 1; },
                                  seconds(20)));
  std::string first_task = cluster.running_tasks("/writer")[0]["id"];
  std::string first_host = cluster.running_tasks("/writer")[0]["slaveId"];
  std::string path;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        path = dataset_mount_path(cluster, volume);
        return !path.empty() && read_log_lines(path + "/log").size() >= 3;
      },
      seconds(10)));

  // Drain its node: the task and its data move to the other node.
  ASSERT_EQ(cluster.call("POST", "/berth/v1/nodes/" + first_host + "/drain").status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/writer");
        return tasks.size() == 1 && tasks[0]["slaveId"].get<std::string>() != first_host;
      },
      seconds(20)));
  std::string second_task = cluster.running_tasks("/writer")[0]["id"];
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        path = dataset_mount_path(cluster, volume);
        auto lines = read_log_lines(path + "/log");
        return !lines.empty() && lines.back() == second_task;
      },
      seconds(10)));
  auto lines = read_log_lines(path + "/log");
  EXPECT_EQ(lines.front(), first_task) << "the data written before the move is gone";
  expect_single_writer_at_a_time(lines);

  // Undrain, then move it back with a changed constraint.
  ASSERT_EQ(cluster.call("DELETE", "/berth/v1/nodes/" + first_host + "/drain").status, 200);
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  std::string back_to = cluster.agent_hostname(1);
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["id"].get<std::string>() == first_host) back_to = n["hostname"].get<std::string>();
  }
  auto changed =
      cluster.call("PUT", "/v2/apps/writer",
                   nlohmann::json{{"constraints", {{"hostname", "IS", back_to}}}}.dump());
  ASSERT_EQ(changed.status, 200) << changed.body.dump();
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/writer");
        return tasks.size() == 1 && tasks[0]["slaveId"].get<std::string>() == first_host;
      },
      seconds(20)))
      << cluster.call("GET", "/v2/apps/writer").body.dump()
      << "\nqueue: " << cluster.call("GET", "/v2/queue?embed=lastUnusedOffers").body.dump()
      << "\nwanted on " << back_to << " = " << first_host
      << "\nnodes: " << cluster.call("GET", "/berth/v1/nodes").body.dump();
  std::string third_task = cluster.running_tasks("/writer")[0]["id"];
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto l = read_log_lines(dataset_mount_path(cluster, volume) + "/log");
        return !l.empty() && l.back() == third_task;
      },
      seconds(10)));
  lines = read_log_lines(dataset_mount_path(cluster, volume) + "/log");
  EXPECT_EQ(lines.front(), first_task);
  expect_single_writer_at_a_time(lines);
  std::set<std::string> writers(lines.begin(), lines.end());
  EXPECT_EQ(writers, (std::set<std::string>{first_task, second_task, third_task}));
}

TEST(Volumes, ExternalVolumeRulesAnswer422AndChangeNothing) {
  Cluster cluster(1);
  auto two = nlohmann::json::parse(writer_app("v422", nlohmann::json::array()));
  two["instances"] = 2;
  EXPECT_EQ(cluster.call("POST", "/v2/apps", two.dump()).status, 422);
  auto over = nlohmann::json::parse(writer_app("v422", nlohmann::json::array()));
  over["upgradeStrategy"] = {{"minimumHealthCapacity", 0.5}, {"maximumOverCapacity", 0.5}};
  EXPECT_EQ(cluster.call("POST", "/v2/apps", over.dump()).status, 422);
  auto other_driver = nlohmann::json::parse(writer_app("v422", nlohmann::json::array()));
  other_driver["container"]["volumes"][0]["external"]["options"]["dvdi/driver"] = "rexray";
  auto refused = cluster.call("POST", "/v2/apps", other_driver.dump());
  EXPECT_EQ(refused.status, 422);
  EXPECT_NE(refused.body.dump().find("berth"), std::string::npos);
  EXPECT_TRUE(cluster.call("GET", "/v2/apps").body["apps"].empty());
  EXPECT_TRUE(cluster.call("GET", "/v1/configuration/datasets").body.empty());
}

}  // namespace berth::testing

namespace berth::testing {

TEST(Volumes, APersistentVolumeIsALocalDatasetThatPinsItsApp) {
  Cluster cluster(2);
  nlohmann::json app = {
      {"id", "/resident"},
      {"cmd", "echo $MESOS_TASK_ID >> data/log; sleep 1000"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container",
       {{"type", "MESOS"},
        {"volumes",
         {{{"containerPath", "data"}, {"mode", "RW"}, {"persistent", {{"size", 64}}}}}}}}};
  auto created = cluster.call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string first_node;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/resident");
        if (tasks.size() == 1) first_node = tasks[0]["slaveId"].get<std::string>();
        return !first_node.empty();
      },
      seconds(20)));
  auto config = cluster.call("GET", "/v1/configuration/datasets");
  ASSERT_EQ(config.body.size(), 1u) << config.body.dump();
  EXPECT_EQ(config.body[0]["driver"].get<std::string>(), "local");
  EXPECT_EQ(config.body[0]["metadata"]["name"].get<std::string>(), "resident.data");
  std::string id = config.body[0]["dataset_id"];
  // A restart stays on the node that holds the data.
  ASSERT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  ASSERT_EQ(cluster.call("POST", "/v2/apps/resident/restart").status, 200);
  std::string second;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/resident");
        return tasks.size() == 1 && tasks[0]["version"] != created.body["version"] &&
               cluster.call("GET", "/v2/deployments").body.empty() &&
               (second = tasks[0]["slaveId"].get<std::string>(), true);
      },
      seconds(20)));
  EXPECT_EQ(second, first_node);
  // Its data cannot be moved away to another node.
  std::string other;
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["id"].get<std::string>() != first_node) other = n["id"].get<std::string>();
  }
  auto refused = cluster.call("POST", "/v1/configuration/datasets/" + id,
                              nlohmann::json{{"primary", other}}.dump());
  EXPECT_EQ(refused.status, 409);
}

TEST(Volumes, ALocalDatasetStaysPutWhileItsNodeIsDownAndSaysWhy) {
  Cluster cluster(2);
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  std::string a = nodes.body["nodes"][0]["id"], b = nodes.body["nodes"][1]["id"];
  int a_index = cluster.agent_index(a);
  ASSERT_NE(a_index, 0);
  auto created = cluster.call(
      "POST", "/v1/configuration/datasets",
      nlohmann::json{{"primary", a}, {"driver", "local"}, {"metadata", {{"name", "here"}}}}.dump());
  ASSERT_EQ(created.status, 201);
  std::string id = created.body["dataset_id"];
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto state = cluster.call("GET", "/v1/state/datasets");
        for (const auto& d : state.body) {
          if (d["dataset_id"] == id && d.contains("path")) return true;
        }
        return false;
      },
      seconds(10)));
  // Its data lives only on node a: with a down it cannot be copied anywhere.
  cluster.kill_agent(a_index);
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto now = cluster.call("GET", "/berth/v1/nodes");
        for (const auto& n : now.body["nodes"]) {
          if (n["id"] == a) return n["state"] == "lost";
        }
        return false;
      },
      seconds(10)));
  auto moved = cluster.call("POST", "/v1/configuration/datasets/" + id,
                            nlohmann::json{{"primary", b}}.dump());
  EXPECT_EQ(moved.status, 409);
  std::string why = moved.body["description"].get<std::string>();
  EXPECT_NE(why.find("local driver"), std::string::npos) << why;
  EXPECT_NE(why.find(cluster.agent_hostname(a_index)), std::string::npos) << why;
  EXPECT_NE(why.find("lives only on"), std::string::npos) << why;
  EXPECT_EQ(cluster.call("GET", "/v1/configuration/datasets").body[0]["primary"].get<std::string>(),
            a);
}

}  // namespace berth::testing
