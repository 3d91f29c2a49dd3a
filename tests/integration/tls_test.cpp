// TLS end to end (docs/security.md §5): `berth up --tls` makes a throwaway CA, the master and
// the agents serve HTTPS only, agents reach the master and the master reaches agents over
// HTTPS, and the CLI verifies the master against the CA. Real processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string run(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  std::string output;
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  output += "\n[exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "]";
  return output;
}

int free_port() {
  auto probe = http::serve({"127.0.0.1", 0}, [](const http::Request&) { return http::Response{}; });
  return probe ? (*probe)->port() : 18080;
}

}  // namespace

TEST(Tls, BerthUpServesHttpsEndToEnd) {
  char tmpl[] = "/tmp/berth-tls-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  int port = free_port();
  std::string https = "https://127.0.0.1:" + std::to_string(port);
  pid_t up = ::fork();
  if (up == 0) {
    ::setpgid(0, 0);
    std::string log = dir + "/up.out";
    std::FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    ::dup2(1, 2);
    ::execl(BERTH_BINARY, BERTH_BINARY, "up", "--tls", "--agents", "2", "--port",
            std::to_string(port).c_str(), "--data-dir", dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto read_file = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  bool started = Cluster::eventually(
      [&] { return read_file(dir + "/up.out").find("berth is up") != std::string::npos; },
      seconds(40));
  ASSERT_TRUE(started) << read_file(dir + "/up.out") << read_file(dir + "/logs/master.log");
  std::string token = read_file(dir + "/admin-token");
  token.erase(token.find_last_not_of("\n") + 1);
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer " + token}};

  // Without the CA the master's certificate is not trusted; plain HTTP gets no API answer.
  auto untrusted = http::request(https, "GET", "/v2/apps", "", 5000, auth);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().message.find("certificate verification"), std::string::npos)
      << untrusted.error().message;
  auto plain =
      http::request("http://127.0.0.1:" + std::to_string(port), "GET", "/v2/apps", "", 5000, auth);
  EXPECT_TRUE(!plain.ok() || plain->status == 400);

  http::set_client_ca_file(dir + "/tls/ca.pem");
  auto apps = http::request(https, "GET", "/v2/apps", "", 5000, auth);
  ASSERT_TRUE(apps.ok()) << apps.error().message;
  EXPECT_EQ(apps->status, 200);
  EXPECT_EQ(http::request(https, "GET", "/v2/apps", "", 5000)->status, 401);

  // Both agents registered over HTTPS; the CLI finds the CA and the token in the data dir.
  std::string env = "BERTH_DATA_DIR=" + dir + " BERTH_MASTER=" + https + " ";
  std::string nodes = run(env + BERTH_BINARY + " node list");
  EXPECT_NE(nodes.find("agent-1"), std::string::npos) << nodes;
  EXPECT_NE(nodes.find("agent-2"), std::string::npos) << nodes;
  std::ofstream(dir + "/app.json")
      << R"({"id":"/tls-echo","cmd":"echo over-tls; sleep 1000","cpus":0.1,"mem":16})";
  std::string deployed = run(env + BERTH_BINARY + " app deploy " + dir + "/app.json --timeout 30");
  ASSERT_NE(deployed.find("[exit 0]"), std::string::npos) << deployed;
  std::string tasks = run(env + BERTH_BINARY + " task list tls-echo --json");
  auto listed = nlohmann::json::parse(tasks.substr(0, tasks.rfind("\n[exit")), nullptr, false);
  ASSERT_TRUE(listed.is_object() && !listed["tasks"].empty()) << tasks;
  std::string task = listed["tasks"][0]["id"];
  // Task logs travel CLI -> master -> agent, each hop HTTPS.
  bool logged = Cluster::eventually(
      [&] {
        return run(env + BERTH_BINARY + " task logs " + task).find("over-tls") != std::string::npos;
      },
      seconds(10));
  EXPECT_TRUE(logged) << run(env + BERTH_BINARY + " task logs " + task);

  ::kill(up, SIGTERM);
  int status = 0;
  for (int i = 0; i < 300 && ::waitpid(up, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(-up, SIGKILL);
  ::waitpid(up, &status, WNOHANG);
  std::error_code ec;
  if (!std::getenv("BERTH_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir, ec);
}

}  // namespace berth::testing
