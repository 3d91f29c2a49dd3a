// Marathon's `user` with real processes: the master passes an app's user to the agent, which
// runs the task and its COMMAND health checks as that user, or fails the task saying why.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The "Uid:" line of /proc/<pid>/status: real, effective, saved and filesystem uid.
std::string uid_line(pid_t pid) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0) return line;
  }
  return "";
}

}  // namespace

TEST(TaskUser, AnAppsTaskAndItsCommandChecksRunAsTheAppsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "running tasks as another user needs a root agent";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "this machine has no user nobody";
  std::string uid = std::to_string(nobody->pw_uid);
  Cluster cluster(1);
  nlohmann::json app = {{"id", "/as-nobody"},
                        {"cmd", "id -u > out; exec sleep 1000"},
                        {"user", "nobody"},
                        {"cpus", 0.1},
                        {"mem", 16},
                        {"healthChecks",
                         {{{"protocol", "COMMAND"},
                           {"command", {{"value", "test \"$(id -u)\" = " + uid}}},
                           {"gracePeriodSeconds", 0},
                           {"intervalSeconds", 2},
                           {"timeoutSeconds", 1},
                           {"delaySeconds", 0},
                           {"maxConsecutiveFailures", 0}}}}};
  auto created = cluster.call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = cluster.running_tasks("/as-nobody");
        if (!tasks.empty()) task = tasks[0]["id"].get<std::string>();
        return !task.empty();
      },
      seconds(20)));
  std::string sandbox = cluster.dir() + "/agent-1/sandboxes/" + task;
  ASSERT_TRUE(
      Cluster::eventually([&] { return read_file(sandbox + "/out") == uid + "\n"; }, seconds(10)))
      << "out: " << read_file(sandbox + "/out") << " stderr: " << read_file(sandbox + "/stderr");
  auto pids = cluster.task_pids(task);
  ASSERT_FALSE(pids.empty());
  for (pid_t pid : pids) {
    EXPECT_EQ(uid_line(pid), "Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid)
        << "pid " << pid;
  }
  // The check passes only when it runs as nobody too.
  nlohmann::json info;
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        info = cluster.call("GET", "/v2/apps/as-nobody").body["app"];
        return info.value("tasksHealthy", 0) == 1;
      },
      seconds(20)))
      << info.dump();
}

TEST(TaskUser, ATaskThatIsNotRootCanWriteItsDataset) {
  if (::geteuid() != 0) GTEST_SKIP() << "running tasks as another user needs a root agent";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "this machine has no user nobody";
  Cluster cluster(1);
  std::string volume = "as-nobody-" + std::to_string(::getpid());
  nlohmann::json app = {{"id", "/writes-as-nobody"},
                        {"cmd", "echo written-by-$(id -u) > /data/file && exec sleep 1000"},
                        {"user", "nobody"},
                        {"cpus", 0.1},
                        {"mem", 16},
                        {"container",
                         {{"type", "MESOS"},
                          {"volumes",
                           {{{"containerPath", "/data"},
                             {"mode", "RW"},
                             {"external",
                              {{"name", volume},
                               {"provider", "dvdi"},
                               {"options", {{"dvdi/driver", "berth"}}}}}}}}}}};
  auto created = cluster.call("POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string path;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto state = cluster.call("GET", "/v1/state/datasets");
        for (const auto& d : state.body) {
          if (d.contains("path")) path = d["path"].get<std::string>();
        }
        return !path.empty() &&
               read_file(path + "/file") == "written-by-" + std::to_string(nobody->pw_uid) + "\n";
      },
      seconds(20)))
      << "dataset at '" << path << "' holds: " << read_file(path + "/file");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid) << "the dataset's directory was given to the task's user";
}

TEST(TaskUser, AnUnknownUserFailsTheTaskNamingTheUserAndTheNode) {
  Cluster cluster(1);
  nlohmann::json app = {{"id", "/ghost"}, {"cmd", "sleep 1000"}, {"user", "berth-no-such-user"},
                        {"cpus", 0.1},    {"mem", 16},           {"backoffSeconds", 10}};
  ASSERT_EQ(cluster.call("POST", "/v2/apps", app.dump()).status, 201);
  nlohmann::json info;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        info = cluster.call("GET", "/v2/apps/ghost").body["app"];
        return info.contains("lastTaskFailure");
      },
      seconds(20)))
      << info.dump();
  EXPECT_EQ(info["lastTaskFailure"]["state"], "TASK_FAILED");
  EXPECT_NE(info["lastTaskFailure"]["message"].get<std::string>().find(
                "user 'berth-no-such-user' does not exist on " + cluster.agent_hostname(1)),
            std::string::npos)
      << info["lastTaskFailure"].dump();
  EXPECT_TRUE(cluster.running_tasks("/ghost").empty());
}

}  // namespace berth::testing
