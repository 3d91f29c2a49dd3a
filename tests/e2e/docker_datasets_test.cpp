// Datasets through the real Docker CLI and engine on a real berth cluster. Two "nodes" on one
// machine: node A is the machine's dockerd with agent 1's plugin (driver berth-e2e-a); node B is
// a second dockerd started here (its own data root, containerd and volume store) with agent
// 2's plugin (driver berth-e2e-b). Data written through one node is there through the other; a
// volume in use on one node is refused on the other with a clear message.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tests/e2e/docker_env.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using e2e::run;

// Fixed driver names (dockerd remembers every driver it used until it restarts; see
// docs/compatibility.md §4.3), serialised between runs by a lock file.
const char* kDriverA = "berth-e2e-a";
const char* kDriverB = "berth-e2e-b";
const char* kDaemonB = "unix:///run/bdb.sock";

// A second Docker daemon for node B, stopped when the test ends.
class SecondDaemon {
 public:
  bool start(std::string* error) {
    // A fresh daemon each time: no volume records from earlier runs.
    run("rm -rf /var/lib/berth-e2e-docker-b", 60);
    run("mkdir -p /var/lib/berth-e2e-docker-b /run/bdb", 10);
    // Its own network namespace, like a separate host: whatever it does to network devices
    // (a daemon without a bridge removes docker0 when it stops) stays there.
    run("sh -c 'ip netns add berth-e2e-b 2>/dev/null; ip -n berth-e2e-b link set lo up'", 10);
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open("/tmp/berth-e2e-dockerd-b.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      // nsenter joins only the network namespace (`ip netns exec` would remount /sys and hide
      // the cgroup hierarchies dockerd needs).
      ::execlp("nsenter", "nsenter", "--net=/run/netns/berth-e2e-b", "dockerd", "--data-root",
               "/var/lib/berth-e2e-docker-b", "--exec-root", "/run/bdb", "--pidfile",
               "/run/bdb.pid", "-H", kDaemonB, "--bridge=none", "--iptables=false",
               "--ip-masq=false", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 120; ++i) {
      if (run(std::string("docker -H ") + kDaemonB + " info", 10).exit_code == 0) {
        auto loaded =
            run(std::string("sh -c 'docker save berth/busybox | docker -H ") + kDaemonB + " load'",
                120);
        if (loaded.exit_code != 0)
          *error = "loading berth/busybox into the second daemon failed: " + loaded.output;
        return loaded.exit_code == 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    *error = "the second dockerd did not start; see /tmp/berth-e2e-dockerd-b.log";
    return false;
  }
  ~SecondDaemon() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST(DockerDatasets, DataWrittenOnOneNodeIsSeenOnAnotherAndConcurrentUseIsRefused) {
  BERTH_REQUIRE_DOCKER();
  int lock_fd = ::open("/tmp/berth-e2e-datasets.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(::flock(lock_fd, LOCK_EX), 0);

  SecondDaemon daemon_b;
  std::string daemon_error;
  ASSERT_TRUE(daemon_b.start(&daemon_error)) << daemon_error;
  Cluster cluster(
      2, 1500,
      {{1, {"--plugin-socket", std::string("/run/docker/plugins/") + kDriverA + ".sock"}},
       {2, {"--plugin-socket", std::string("/run/docker/plugins/") + kDriverB + ".sock"}}});
  std::string volume = "e2e-ds-" + std::to_string(::getpid());
  std::string a =
      std::string(" --network none --volume-driver ") + kDriverA + " -v " + volume + ":/data ";
  std::string b =
      std::string(" --network none --volume-driver ") + kDriverB + " -v " + volume + ":/data ";
  std::string docker_b = std::string("docker -H ") + kDaemonB;

  auto created = run(std::string("docker volume create -d ") + kDriverA + " " + volume);
  ASSERT_EQ(created.exit_code, 0) << created.output;
  auto config = cluster.call("GET", "/v1/configuration/datasets");
  ASSERT_EQ(config.body.size(), 1u) << config.body.dump();
  EXPECT_EQ(config.body[0]["metadata"]["name"].get<std::string>(), volume);

  auto wrote = run("docker run --rm" + a + "berth/busybox sh -c 'echo acknowledged > /data/f'");
  ASSERT_EQ(wrote.exit_code, 0) << wrote.output;

  // The same volume through the other node's plugin: the dataset moves there, data intact.
  auto read = run(docker_b + " run --rm" + b + "berth/busybox cat /data/f");
  EXPECT_EQ(read.exit_code, 0) << read.output;
  EXPECT_NE(read.output.find("acknowledged"), std::string::npos) << read.output;

  // A long-running user on node B; node A must be refused while it runs.
  std::string name = "berth-e2e-holder-" + std::to_string(::getpid());
  auto holder = run(docker_b + " run -d --name " + name + b + "berth/busybox sleep 60");
  ASSERT_EQ(holder.exit_code, 0) << holder.output;
  // Let B's heartbeat report the volume in use.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto refused = run("docker run --rm" + a + "berth/busybox true", 130);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("in exclusive use on node"), std::string::npos) << refused.output;
  run(docker_b + " rm -f " + name, 60);

  // Once B's container is gone, A may take it again.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto again = run("docker run --rm" + a + "berth/busybox cat /data/f");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("acknowledged"), std::string::npos) << again.output;

  auto removed = run(std::string("docker volume rm ") + volume, 60);
  EXPECT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        auto datasets = cluster.call("GET", "/v1/configuration/datasets");
        return datasets.body.size() == 1 && datasets.body[0]["deleted"].get<bool>();
      },
      std::chrono::seconds(5)));
  ::close(lock_fd);
}

}  // namespace berth::testing
