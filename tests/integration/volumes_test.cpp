// Apps with external volumes on a real cluster: the dataset is created on first use, the task
// sees it at its containerPath, and when the app moves (drain, changed constraint) its data
// moves with it, with no moment where two tasks write it.
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string writer_app(const std::string& volume, const nlohmann::json& constraints) {
  // Appends its task id to <volume>/log five times a second, each line flushed and synced.
  nlohmann::json app = {
      {"id", "/writer"},
      {"cmd", "while true; do echo $MESOS_TASK_ID >> $BERTH_VOLUME_DATA/log; sync $BERTH_VOLUME_DATA/log; sleep 0.2; done"},
      {"cpus", 0.1},
      {"mem", 32},
      {"instances", 1},
      {"constraints", constraints},
      {"container",
       {{"type", "MESOS"},
        {"volumes",
         {{{"containerPath", "/data"},
           {"mode", "RW"},
           {"external", {{"name", volume}, {"provider", "dvdi"}, {"options", {{"dvdi/driver", "berth"}}}}}}}}}}};
  return app.dump();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Fails when a task id reappears after another task wrote: two writers interleaved.
void expect_no_interleaving(const std::vector<std::string>& lines) {
  std::set<std::string> finished;
  std::string current;
  for (const auto& line : lines) {
    if (line == current) continue;
    ASSERT_FALSE(finished.count(line)) << "task " << line << " wrote again after " << current;
    if (!current.empty()) finished.insert(current);
    current = line;
  }
}

std::string dataset_path(Cluster& cluster, const std::string& volume) {
  std::string id;
  auto config = cluster.call("GET", "/v1/configuration/datasets");
  for (const auto& d : config.body) {
    if (d["metadata"].value("name", "") == volume) id = d["dataset_id"].get<std::string>();
  }
  auto state = cluster.call("GET", "/v1/state/datasets");
  for (const auto& d : state.body) {
    if (d["dataset_id"].get<std::string>() == id && d.contains("path")) return d["path"].get<std::string>();
  }
  return "";
}

}  // namespace

TEST(Volumes, AnAppsDatasetFollowsItWhenItMoves) {
  Cluster cluster(2);
  std::string volume = "itvol-" + std::to_string(::getpid());
  auto created = cluster.call("POST", "/v2/apps", writer_app(volume, nlohmann::json::array()));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  // Marathon's defaults for external volumes: at most one instance, no over-capacity.
  EXPECT_EQ(created.body["upgradeStrategy"]["maximumOverCapacity"], 0.0);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.running_tasks("/writer").size() == 1; }, seconds(20)));
  std::string first_task = cluster.running_tasks("/writer")[0]["id"];
  std::string first_host = cluster.running_tasks("/writer")[0]["slaveId"];
  std::string path;
  ASSERT_TRUE(Cluster::eventually([&] {
    path = dataset_path(cluster, volume);
    return !path.empty() && read_lines(path + "/log").size() >= 3;
  }, seconds(10)));

  // Drain its node: the task and its data move to the other node.
  ASSERT_EQ(cluster.call("POST", "/berth/v1/nodes/" + first_host + "/drain").status, 200);
  ASSERT_TRUE(Cluster::eventually([&] {
    auto tasks = cluster.running_tasks("/writer");
    return tasks.size() == 1 && tasks[0]["slaveId"].get<std::string>() != first_host;
  }, seconds(20)));
  std::string second_task = cluster.running_tasks("/writer")[0]["id"];
  ASSERT_TRUE(Cluster::eventually([&] {
    path = dataset_path(cluster, volume);
    auto lines = read_lines(path + "/log");
    return !lines.empty() && lines.back() == second_task;
  }, seconds(10)));
  auto lines = read_lines(path + "/log");
  EXPECT_EQ(lines.front(), first_task) << "the data written before the move is gone";
  expect_no_interleaving(lines);

  // Undrain, then move it back with a changed constraint.
  ASSERT_EQ(cluster.call("DELETE", "/berth/v1/nodes/" + first_host + "/drain").status, 200);
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.call("GET", "/v2/deployments").body.empty(); }, seconds(10)));
  std::string back_to = cluster.agent_hostname(1);
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["id"].get<std::string>() == first_host) back_to = n["hostname"].get<std::string>();
  }
  auto changed = cluster.call("PUT", "/v2/apps/writer",
                              nlohmann::json{{"constraints", {{"hostname", "IS", back_to}}}}.dump());
  ASSERT_EQ(changed.status, 200) << changed.body.dump();
  ASSERT_TRUE(Cluster::eventually([&] {
    auto tasks = cluster.running_tasks("/writer");
    return tasks.size() == 1 && tasks[0]["slaveId"].get<std::string>() == first_host;
  }, seconds(20))) << cluster.call("GET", "/v2/apps/writer").body.dump() << "\nqueue: "
                   << cluster.call("GET", "/v2/queue?embed=lastUnusedOffers").body.dump() << "\nwanted on " << back_to << " = " << first_host << "\nnodes: " << cluster.call("GET", "/berth/v1/nodes").body.dump();
  std::string third_task = cluster.running_tasks("/writer")[0]["id"];
  ASSERT_TRUE(Cluster::eventually([&] {
    auto l = read_lines(dataset_path(cluster, volume) + "/log");
    return !l.empty() && l.back() == third_task;
  }, seconds(10)));
  lines = read_lines(dataset_path(cluster, volume) + "/log");
  EXPECT_EQ(lines.front(), first_task);
  expect_no_interleaving(lines);
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
