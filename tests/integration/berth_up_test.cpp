// `berth up` as a user runs it. It keeps the cluster's join token and admin token in its data
// directory, with a copy in the master's: a master killed and started again by hand with
// nothing but its --data-dir (and its port) takes every agent back, and the CLI's token still
// works. An app on a `loop` dataset runs, and stopping `berth up` leaves no mount or loop
// device behind. Two clusters on one machine get their own ports and both run the demo. A
// backup taken while apps and datasets are being created, restored into a fresh master, has
// every one acknowledged before it began, and the agents' tasks are adopted. With --netns, the
// seed demo crosses hosts on every driver. Real processes, real loop devices, real network
// namespaces (root only).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "http/http.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string first_word(const std::string& text) {
  std::string word = text.substr(0, text.find_first_of(" \n"));
  return word;
}

int free_port() {
  auto probe = http::serve({"127.0.0.1", 0}, [](const http::Request&) { return http::Response{}; });
  return probe ? (*probe)->port() : 18090;
}

// Starts `argv` in its own process group with stdout and stderr to `log`.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);
    std::FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    ::dup2(1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return child;
}

void stop_group(pid_t leader) {
  ::kill(leader, SIGTERM);
  int status = 0;
  for (int i = 0; i < 300 && ::waitpid(leader, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(-leader, SIGKILL);
  ::waitpid(leader, &status, WNOHANG);
}

// The pid of the `berth master` serving `port`, found by its command line; -1 when none.
pid_t master_on(int port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(" master ") != std::string::npos &&
        cmdline.find("--port " + std::to_string(port) + " ") != std::string::npos)
      return std::stoi(name);
  }
  return -1;
}

// How many nodes the master at `url` has active, asked with `token`; -1 when it does not answer.
int active_nodes(const std::string& url, const std::string& token) {
  auto answer = http::request(url, "GET", "/berth/v1/nodes", "", 2000,
                              {{"Authorization", "Bearer " + token}});
  if (!answer || answer->status != 200) return -1;
  auto body = nlohmann::json::parse(answer->body, nullptr, false);
  int active = 0;
  for (const auto& n : body["nodes"]) active += n.value("state", "") == "active" ? 1 : 0;
  return active;
}

// A `berth up` of two agents in a fresh directory, started and answering with both agents
// active (started is false, and up.out says why, when that takes over 40 s).
struct UpCluster {
  std::string dir, url, token;
  int port = 0;
  pid_t pid = -1;
  bool started = false;
};

UpCluster start_up(const char* name, int agents = 2, const std::vector<std::string>& extra = {}) {
  UpCluster c;
  std::string tmpl = std::string("/tmp/") + name + "-XXXXXX";
  c.dir = ::mkdtemp(tmpl.data());
  c.port = free_port();
  std::vector<std::string> argv = {BERTH_BINARY,           "up",     "--agents",
                                   std::to_string(agents), "--port", std::to_string(c.port),
                                   "--data-dir",           c.dir};
  argv.insert(argv.end(), extra.begin(), extra.end());
  c.pid = spawn(argv, c.dir + "/up.out");
  c.started = Cluster::eventually(
      [&] {
        // Where the master listens: loopback, or the bridge's address with --netns.
        std::string out = read_file(c.dir + "/up.out");
        auto at = out.find("BERTH_MASTER=");
        if (at == std::string::npos) return false;
        c.url = first_word(out.substr(at + 13));
        c.token = first_word(read_file(c.dir + "/admin-token"));
        return !c.token.empty() && active_nodes(c.url, c.token) == agents;
      },
      seconds(40));
  return c;
}

// `berth demo` on cluster `c` with `flags`: its output, then "[exit N]".
std::string run_demo(const UpCluster& c, const std::string& flags) {
  std::string command = "BERTH_TOKEN=" + c.token + " " + std::string(BERTH_BINARY) +
                        " demo --master " + c.url + " --data-dir " + c.dir + " " + flags + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  char chunk[4096];
  size_t n;
  while (pipe && (n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) output.append(chunk, n);
  int status = pipe ? ::pclose(pipe) : -1;
  return output + "\n[exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "]";
}

}  // namespace

TEST(BerthUp, AMasterRestartedWithItsDataDirAloneTakesEveryAgentBack) {
  UpCluster up_cluster = start_up("berth-up-restart");
  const std::string& dir = up_cluster.dir;
  const std::string& url = up_cluster.url;
  const std::string& token = up_cluster.token;
  int port = up_cluster.port;
  pid_t up = up_cluster.pid;
  bool started = up_cluster.started;
  ASSERT_TRUE(started) << read_file(dir + "/up.out") << read_file(dir + "/logs/master.log");
  // Both credentials are kept beside the cluster and in the master's own data directory.
  EXPECT_EQ(first_word(read_file(dir + "/master/join-token")),
            first_word(read_file(dir + "/join-token")));
  EXPECT_EQ(first_word(read_file(dir + "/master/admin-token")), token);
  EXPECT_EQ(
      std::filesystem::status(dir + "/join-token").permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  pid_t master = master_on(port);
  ASSERT_GT(master, 0);
  ::kill(master, SIGKILL);
  ASSERT_TRUE(Cluster::eventually([&] { return active_nodes(url, token) < 0; }, seconds(10)));
  pid_t by_hand =
      spawn({BERTH_BINARY, "master", "--data-dir", dir + "/master", "--port", std::to_string(port)},
            dir + "/master-by-hand.out");
  bool rejoined = Cluster::eventually([&] { return active_nodes(url, token) == 2; }, seconds(30));
  EXPECT_TRUE(rejoined) << read_file(dir + "/master-by-hand.out")
                        << read_file(dir + "/logs/agent-1.log");
  EXPECT_EQ(read_file(dir + "/master-by-hand.out").find("invalid join token"), std::string::npos);

  stop_group(by_hand);
  stop_group(up);
  std::error_code ec;
  if (!std::getenv("BERTH_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir, ec);
}

TEST(BerthUp, ALoopDatasetAppRunsAndStoppingLeavesNoMountOrLoopDevice) {
  if (::geteuid() != 0) GTEST_SKIP() << "loop devices and mounts need root";
  UpCluster up_cluster = start_up("berth-up-loop");
  const std::string& dir = up_cluster.dir;
  const std::string& url = up_cluster.url;
  pid_t up = up_cluster.pid;
  ASSERT_TRUE(up_cluster.started) << read_file(dir + "/up.out");
  const std::string& token = up_cluster.token;
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer " + token}};
  auto created = http::request(
      url, "POST", "/v2/apps",
      R"({"id":"/on-loop","cmd":"echo written >> $BERTH_VOLUME_DATA/log; sleep 1000",)"
      R"("cpus":0.1,"mem":32,"container":{"type":"MESOS","volumes":[{"containerPath":"/data",)"
      R"("mode":"RW","external":{"name":"on-loop-data","provider":"dvdi","options":)"
      R"({"dvdi/driver":"berth","berth/driver":"loop","berth/size-mib":"64"}}}]}})",
      5000, auth);
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no answer");
  nlohmann::json app;
  bool running = Cluster::eventually(
      [&] {
        auto answer = http::request(url, "GET", "/v2/apps/on-loop?embed=apps.lastTaskFailure", "",
                                    2000, auth);
        if (!answer || answer->status != 200) return false;
        app = nlohmann::json::parse(answer->body, nullptr, false)["app"];
        return app.value("tasksRunning", 0) == 1;
      },
      seconds(30));
  ASSERT_TRUE(running) << app.dump();
  // The state API shows where the attached dataset is mounted, and it is a real mount.
  auto state = http::request(url, "GET", "/v1/state/datasets", "", 2000, auth);
  ASSERT_TRUE(state && state->status == 200);
  auto datasets = nlohmann::json::parse(state->body, nullptr, false);
  ASSERT_EQ(datasets.size(), 1u) << state->body;
  std::string path = datasets[0].value("path", "");
  EXPECT_EQ(path.rfind(dir + "/", 0), 0u) << state->body;
  EXPECT_NE(read_file("/proc/self/mountinfo").find(" " + path + " "), std::string::npos) << path;
  EXPECT_TRUE(Cluster::eventually(
      [&] { return read_file(path + "/log").find("written") != std::string::npos; }, seconds(10)));

  stop_group(up);
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(dir + "/"), std::string::npos)
      << read_file("/proc/self/mountinfo");
  std::string bound;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block")) {
    std::string backing = read_file(entry.path().string() + "/loop/backing_file");
    if (backing.rfind(dir + "/", 0) == 0) bound += entry.path().filename().string() + " ";
  }
  EXPECT_EQ(bound, "") << "loop devices still bound to the cluster's images";
  std::error_code ec;
  if (!std::getenv("BERTH_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir, ec);
}

TEST(BerthUp, TwoClustersOnOneMachineHaveTheirOwnPortsAndBothRunTheDemo) {
  UpCluster a = start_up("berth-up-first");
  UpCluster b = start_up("berth-up-second");
  ASSERT_TRUE(a.started && b.started)
      << read_file(a.dir + "/up.out") << read_file(b.dir + "/up.out");
  auto service_ports = [](const UpCluster& c) {
    auto info =
        http::request(c.url, "GET", "/v2/info", "", 2000, {{"Authorization", "Bearer " + c.token}});
    auto j = nlohmann::json::parse(info ? info->body : "", nullptr, false);
    return std::pair<uint32_t, uint32_t>{j["marathon_config"].value("local_port_min", 0u),
                                         j["marathon_config"].value("local_port_max", 0u)};
  };
  auto [a_min, a_max] = service_ports(a);
  auto [b_min, b_max] = service_ports(b);
  EXPECT_TRUE(a_max <= b_min || b_max <= a_min)
      << "service ports " << a_min << "-" << a_max << " and " << b_min << "-" << b_max;
  // berth up says so (once it has printed its summary).
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        return read_file(b.dir + "/up.out").find("other `berth up` clusters") != std::string::npos;
      },
      seconds(10)))
      << read_file(b.dir + "/up.out");

  // Both demos at once: each kills a node of its own cluster and keeps every click.
  std::string outputs[2];
  std::vector<std::thread> demos;
  for (int i = 0; i < 2; ++i) {
    const UpCluster& c = i == 0 ? a : b;
    demos.emplace_back([&outputs, &c, i] { outputs[i] = run_demo(c, "--clicks 10"); });
  }
  for (auto& t : demos) t.join();
  for (const auto& output : outputs) {
    EXPECT_NE(output.find("none lost"), std::string::npos) << output;
    EXPECT_NE(output.find("[exit 0]"), std::string::npos) << output;
  }
  stop_group(a.pid);
  stop_group(b.pid);
  std::error_code ec;
  if (!std::getenv("BERTH_KEEP_TEST_DIRS")) {
    std::filesystem::remove_all(a.dir, ec);
    std::filesystem::remove_all(b.dir, ec);
  }
}

TEST(BerthUp, ABackupTakenDuringWritesRestoresEveryAcknowledgedAppAndDataset) {
  UpCluster c = start_up("berth-up-backup");
  ASSERT_TRUE(c.started) << read_file(c.dir + "/up.out");
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer " + c.token}};
  auto call = [&](const std::string& method, const std::string& target, const std::string& body) {
    auto answer = http::request(c.url, method, target, body, 5000, auth);
    return answer ? answer->status : 0;
  };
  ASSERT_EQ(call("POST", "/v2/apps", R"({"id":"/steady","cmd":"sleep 1000","cpus":0.1,"mem":16})"),
            201);
  std::string steady_task;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = http::request(c.url, "GET", "/v2/apps/steady/tasks", "", 2000, auth);
        auto j = nlohmann::json::parse(tasks ? tasks->body : "", nullptr, false);
        if (!j.is_object() || j["tasks"].empty()) return false;
        steady_task = j["tasks"][0].value("id", "");
        return j["tasks"][0].value("state", "") == "TASK_RUNNING";
      },
      seconds(20)));

  auto nodes = nlohmann::json::parse(
      http::request(c.url, "GET", "/berth/v1/nodes", "", 2000, auth)->body, nullptr, false);
  ASSERT_TRUE(nodes.is_object() && !nodes["nodes"].empty());
  const std::string node = nodes["nodes"][0].value("id", "");
  // Apps and datasets keep being created while the backup is taken.
  using Clock = std::chrono::steady_clock;
  struct Acked {
    std::string what;
    Clock::time_point at;
  };
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::thread writer([&, node] {
    for (int i = 0; !stop; ++i) {
      std::string app = "/w-" + std::to_string(i);
      if (call("POST", "/v2/apps", R"({"id":")" + app + R"(","cmd":"sleep 1","instances":0})") ==
          201)
        acked.push_back({"app " + app, Clock::now()});
      std::string name = "ds-" + std::to_string(i);
      if (call("POST", "/v1/configuration/datasets",
               R"({"primary":")" + node + R"(","metadata":{"name":")" + name + R"("}})") == 201)
        acked.push_back({"dataset " + name, Clock::now()});
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::string file = c.dir + "/state.backup";
  Clock::time_point backup_began = Clock::now();
  std::string command = "BERTH_TOKEN=" + c.token + " " + std::string(BERTH_BINARY) + " backup " +
                        file + " --master " + c.url + " 2>&1";
  ASSERT_EQ(::system(command.c_str()), 0);
  Clock::time_point backup_ended = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  writer.join();

  // A fresh master on the backup, where the old one was: the agents rejoin it.
  ::kill(master_on(c.port), SIGKILL);
  ASSERT_TRUE(Cluster::eventually([&] { return active_nodes(c.url, c.token) < 0; }, seconds(10)));
  std::string restored = c.dir + "/restored";
  ASSERT_EQ(::system((std::string(BERTH_BINARY) + " restore " + file + " --data-dir " + restored +
                      " > " + c.dir + "/restore.out 2>&1")
                         .c_str()),
            0)
      << read_file(c.dir + "/restore.out");
  pid_t master = spawn({BERTH_BINARY, "master", "--data-dir", restored, "--port",
                        std::to_string(c.port), "--admin-token-file", c.dir + "/admin-token"},
                       c.dir + "/restored-master.out");
  ASSERT_TRUE(Cluster::eventually([&] { return active_nodes(c.url, c.token) == 2; }, seconds(30)))
      << read_file(c.dir + "/restored-master.out");
  auto apps = nlohmann::json::parse(http::request(c.url, "GET", "/v2/apps", "", 5000, auth)->body);
  auto datasets = nlohmann::json::parse(
      http::request(c.url, "GET", "/v1/configuration/datasets", "", 5000, auth)->body);
  std::set<std::string> present;
  for (const auto& a : apps["apps"]) present.insert("app " + a.value("id", ""));
  for (const auto& d : datasets) present.insert("dataset " + d["metadata"].value("name", ""));
  size_t before = 0, after = 0, datasets_before = 0;
  for (const auto& a : acked) {
    if (a.at < backup_began) {
      ++before;
      datasets_before += a.what.rfind("dataset ", 0) == 0 ? 1 : 0;
      EXPECT_TRUE(present.count(a.what)) << a.what << " was acknowledged before the backup began";
    } else if (a.at > backup_ended) {
      ++after;
      EXPECT_FALSE(present.count(a.what)) << a.what << " was created after the backup ended";
    }
  }
  EXPECT_GT(before, 10u);
  EXPECT_GT(datasets_before, 5u);
  EXPECT_GT(after, 0u);
  // The task that ran through it all was adopted, not started again.
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        auto tasks = http::request(c.url, "GET", "/v2/apps/steady/tasks", "", 2000, auth);
        auto j = nlohmann::json::parse(tasks ? tasks->body : "", nullptr, false);
        return j.is_object() && j["tasks"].size() == 1 &&
               j["tasks"][0].value("id", "") == steady_task;
      },
      seconds(10)));
  stop_group(master);
  stop_group(c.pid);
  std::error_code ec;
  if (!std::getenv("BERTH_KEEP_TEST_DIRS")) std::filesystem::remove_all(c.dir, ec);
}

// `berth up --netns`: three agents, each on a host of its own. The seed demo once per driver:
// the counter's node is killed twice, the app comes back on another host, reached through the
// service router of a third (the demo keeps the app off it), and no click is lost. Stopping
// the cluster leaves no namespace, bridge, mount or loop device.
TEST(BerthUp, TheSeedDemoRunsAcrossHostsOnEveryDriver) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces, loop devices and mounts need root";
  for (const char* driver : {"shared", "loop"}) {
    SCOPED_TRACE(driver);
    UpCluster c = start_up("berth-up-netns", 3, {"--netns"});
    ASSERT_TRUE(c.started) << read_file(c.dir + "/up.out");
    EXPECT_EQ(c.url.rfind("http://10.249.", 0), 0u) << c.url;
    std::string out = read_file(c.dir + "/up.out");
    std::string bridge = first_word(out.substr(out.find("on bridge ") + 10));
    bridge = bridge.substr(0, bridge.find_first_of("):"));

    std::string output = run_demo(c, std::string("--clicks 10 --rounds 2 --driver ") + driver);
    EXPECT_NE(output.find("kept off agent-"), std::string::npos) << output;
    EXPECT_NE(output.find("first successful request through http://10.249."), std::string::npos)
        << output;
    EXPECT_NE(output.find("all 10 acknowledged clicks are there: none lost"), std::string::npos)
        << output;
    EXPECT_NE(output.find("all 15 acknowledged clicks are there: none lost"), std::string::npos)
        << output;
    EXPECT_NE(output.find("[exit 0]"), std::string::npos) << output;

    stop_group(c.pid);
    EXPECT_EQ(read_file("/proc/self/mountinfo").find(c.dir), std::string::npos);
    FILE* devices = ::popen(("losetup -a | grep -c " + c.dir).c_str(), "r");
    char count[16] = {};
    if (devices && std::fgets(count, sizeof count, devices)) {
      EXPECT_EQ(std::atoi(count), 0);
    }
    if (devices) ::pclose(devices);
    EXPECT_FALSE(std::filesystem::exists("/sys/class/net/" + bridge)) << bridge;
    std::error_code ec;
    if (!std::getenv("BERTH_KEEP_TEST_DIRS")) std::filesystem::remove_all(c.dir, ec);
  }
}

}  // namespace berth::testing
