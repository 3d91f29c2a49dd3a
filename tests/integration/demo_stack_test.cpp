// `berth demo --stack` as an end-to-end test on a real cluster: one group of four counter
// databases (each with its own dataset and service port) and a front that depends on them;
// the databases deploy first, the node holding the most members is killed (agent and tasks,
// SIGKILL), every member on it comes back elsewhere, and no database loses an acknowledged
// click. The test checks the demo's claims against the cluster itself afterwards.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>

#include "http/http.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

constexpr int kDatabases = 4;
constexpr int kClicks = 15;

std::string run(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return "";
  std::string output;
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  return output;
}

// One summary line of a database: "/berth-stack/db/NAME  WHERE  A acknowledged, P present, L lost".
struct DatabaseLine {
  std::string where;
  int acknowledged = 0, present = 0, lost = -1;
};

std::map<std::string, DatabaseLine> database_lines(const std::string& output) {
  static const std::regex line(
      R"(^\s+/berth-stack/db/(\w+)\s+(.*?)\s+(\d+) acknowledged, (\d+) present, (\d+) lost\s*$)");
  std::map<std::string, DatabaseLine> lines;
  std::istringstream in(output);
  std::string text;
  std::smatch m;
  while (std::getline(in, text)) {
    if (std::regex_match(text, m, line)) {
      lines[m[1]] = {m[2], std::stoi(m[3]), std::stoi(m[4]), std::stoi(m[5])};
    }
  }
  return lines;
}

// The line of `output` that starts with `prefix` (after spaces), else "".
std::string line_starting(const std::string& output, const std::string& prefix) {
  std::istringstream in(output);
  std::string text;
  while (std::getline(in, text)) {
    if (text.find_first_not_of(' ') != std::string::npos &&
        text.compare(text.find_first_not_of(' '), prefix.size(), prefix) == 0)
      return text;
  }
  return "";
}

TEST(DemoStack, EveryDatabaseOfTheKilledNodeComesBackWithEveryAcknowledgedClick) {
  Cluster cluster(3);
  uint32_t first_port = cluster.service_port_begin() + 20;
  std::string output =
      run("BERTH_TOKEN=" + cluster.admin_token() + " " + std::string(BERTH_BINARY) +
          " demo --stack --master " + cluster.url() + " --service-port " +
          std::to_string(first_port) + " --databases " + std::to_string(kDatabases) + " --clicks " +
          std::to_string(kClicks) + " 2>&1");
  std::printf("%s", output.c_str());

  // The deployment's plan: every database in step 1, the front alone in step 2.
  std::string step1 = line_starting(output, "step 1:"), step2 = line_starting(output, "step 2:");
  for (const char* db : {"orders", "users", "events", "billing"}) {
    EXPECT_NE(step1.find("/berth-stack/db/" + std::string(db)), std::string::npos) << output;
  }
  EXPECT_EQ(step1.find("front"), std::string::npos) << output;
  EXPECT_NE(step2.find("/berth-stack/web/front"), std::string::npos) << output;

  // Every database kept every acknowledged click; at least one was on the killed node and
  // came back; nothing stayed down.
  auto lines = database_lines(output);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kDatabases)) << output;
  int moved = 0;
  for (const auto& [name, line] : lines) {
    EXPECT_EQ(line.lost, 0) << name << "\n" << output;
    EXPECT_GE(line.acknowledged, kClicks) << name;
    EXPECT_GE(line.present, line.acknowledged) << name;
    if (line.where.find("(killed), back in") != std::string::npos) ++moved;
  }
  EXPECT_GE(moved, 1) << output;
  EXPECT_NE(output.find("none lost"), std::string::npos) << output;
  EXPECT_EQ(output.find("FAILED"), std::string::npos) << output;
  EXPECT_EQ(output.find("never"), std::string::npos) << output;

  // The cluster agrees: each database runs healthy again and serves at least the clicks the
  // demo saw acknowledged, through its service port.
  int port = static_cast<int>(first_port);
  for (const char* db : {"orders", "users", "events", "billing"}) {
    auto app = cluster.call("GET", "/v2/apps/berth-stack/db/" + std::string(db)).body;
    EXPECT_EQ(app["app"].value("tasksHealthy", 0), 1) << db << ": " << app.dump();
    auto clicks =
        http::request("http://127.0.0.1:" + std::to_string(port++), "GET", "/v1/clicks", "", 5000);
    ASSERT_TRUE(clicks.ok() && clicks->status == 200) << db;
    EXPECT_GE(static_cast<int>(nlohmann::json::parse(clicks->body).size()), lines[db].acknowledged)
        << db;
  }
}

}  // namespace
}  // namespace berth::testing
