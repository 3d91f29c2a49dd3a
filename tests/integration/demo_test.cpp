// `berth demo` as an end-to-end test on a real cluster: the counter's node is killed (agent and
// tasks, SIGKILL), the app comes back elsewhere with its dataset, clients reach it at the same
// service port, and not one acknowledged click is lost.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "tests/integration/cluster.h"

namespace berth::testing {

TEST(Demo, FailsOverTheCounterWithoutLosingAnAcknowledgedClick) {
  Cluster cluster(3);
  std::string command = "BERTH_TOKEN=" + cluster.admin_token() + " " + std::string(BERTH_BINARY) +
                        " demo --master " + cluster.url() + " --service-port " +
                        std::to_string(cluster.service_port_begin() + 11) +
                        " --clicks 30 --rounds 2 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("none lost"), std::string::npos) << output;
  EXPECT_EQ(output.find("FAILED"), std::string::npos) << output;
  EXPECT_EQ(output.find("never"), std::string::npos) << output;
  std::printf("%s", output.c_str());
}

}  // namespace berth::testing
