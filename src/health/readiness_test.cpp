#include "health/readiness.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::health {
namespace {

TEST(Readiness, ChecksBecomeProbesOfTheNamedPortThatNeverKill) {
  auto checks = nlohmann::json::parse(R"([{"name":"ready","protocol":"HTTP","path":"/ready",
      "portName":"api","intervalSeconds":2,"timeoutSeconds":1,
      "httpStatusCodesForReady":[200,204]}])");
  auto specs = readiness_specs(checks, {"admin", "api"});
  ASSERT_TRUE(specs.ok()) << specs.error().message;
  ASSERT_EQ(specs->size(), 1u);
  const HealthCheckSpec& s = (*specs)[0];
  EXPECT_EQ(s.path, "/ready");
  EXPECT_EQ(s.port_index, 1u);
  EXPECT_EQ(s.interval, std::chrono::seconds(2));
  EXPECT_EQ(s.timeout, std::chrono::seconds(1));
  EXPECT_EQ(s.grace_period, std::chrono::milliseconds(0));
  EXPECT_EQ(s.ok_statuses, (std::vector<int>{200, 204}));
}

TEST(Readiness, AnUnknownPortNameIsNamed) {
  auto specs = readiness_specs(nlohmann::json::parse(R"([{"portName":"web"}])"), {"api"});
  ASSERT_FALSE(specs.ok());
  EXPECT_NE(specs.error().message.find("'web'"), std::string::npos) << specs.error().message;
}

}  // namespace
}  // namespace berth::health
