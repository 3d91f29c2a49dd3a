#include "health/health_check.h"

#include <gtest/gtest.h>

namespace berth::health {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const WallTime kStart{std::chrono::seconds(1700000000)};

HealthCheckSpec parse_ok(const json& j) {
  auto spec = parse_health_check(j);
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  return spec.ok() ? *spec : HealthCheckSpec{};
}

std::string parse_error(const json& j) {
  auto spec = parse_health_check(j);
  EXPECT_FALSE(spec.ok()) << "accepted " << j.dump();
  if (spec.ok()) return "";
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
  return spec.error().message;
}

TEST(HealthCheckParse, FillsMarathonDefaults) {
  HealthCheckSpec spec = parse_ok(json::object());
  EXPECT_EQ(spec.protocol, "HTTP");
  EXPECT_EQ(spec.path, "/");
  EXPECT_FALSE(spec.port_index.has_value());
  EXPECT_FALSE(spec.port.has_value());
  EXPECT_EQ(spec.grace_period, 300s);
  EXPECT_EQ(spec.interval, 60s);
  EXPECT_EQ(spec.timeout, 20s);
  EXPECT_EQ(spec.delay, 15s);
  EXPECT_EQ(spec.max_consecutive_failures, 3u);
  EXPECT_FALSE(spec.ignore_http_1xx);
}

TEST(HealthCheckParse, ReadsEveryField) {
  HealthCheckSpec spec = parse_ok(json::parse(R"({
    "protocol": "MESOS_HTTP", "path": "/health?deep=1", "portIndex": 1, "port": 8080,
    "gracePeriodSeconds": 0, "intervalSeconds": 5, "timeoutSeconds": 2, "delaySeconds": 1,
    "maxConsecutiveFailures": 0, "ignoreHttp1xx": true, "ipProtocol": "IPv6"})"));
  EXPECT_EQ(spec.protocol, "MESOS_HTTP");
  EXPECT_EQ(spec.path, "/health?deep=1");
  EXPECT_EQ(spec.port_index, 1u);
  EXPECT_EQ(spec.port, 8080u);
  EXPECT_EQ(spec.grace_period, 0s);
  EXPECT_EQ(spec.interval, 5s);
  EXPECT_EQ(spec.timeout, 2s);
  EXPECT_EQ(spec.delay, 1s);
  EXPECT_EQ(spec.max_consecutive_failures, 0u);
  EXPECT_TRUE(spec.ignore_http_1xx);
}

TEST(HealthCheckParse, ReadsTheCommandValue) {
  HealthCheckSpec spec = parse_ok(
      json::parse(R"({"protocol":"COMMAND","command":{"value":"curl -f http://$HOST:$PORT0/"}})"));
  EXPECT_EQ(spec.command, "curl -f http://$HOST:$PORT0/");
  EXPECT_EQ(probe_kind(spec), ProbeKind::kCommand);
  EXPECT_TRUE(is_mesos_level(spec));
}

TEST(HealthCheckParse, TreatsNullFieldsAsMissing) {
  HealthCheckSpec spec = parse_ok(json::parse(R"({"portIndex":null,"intervalSeconds":null})"));
  EXPECT_FALSE(spec.port_index.has_value());
  EXPECT_EQ(spec.interval, 60s);
}

TEST(HealthCheckParse, MapsProtocolsToProbes) {
  EXPECT_EQ(probe_kind(parse_ok({{"protocol", "HTTP"}})), ProbeKind::kHttp);
  EXPECT_EQ(probe_kind(parse_ok({{"protocol", "MESOS_HTTP"}})), ProbeKind::kHttp);
  EXPECT_EQ(probe_kind(parse_ok({{"protocol", "TCP"}})), ProbeKind::kTcp);
  EXPECT_EQ(probe_kind(parse_ok({{"protocol", "MESOS_TCP"}})), ProbeKind::kTcp);
  // No TLS client: HTTPS is probed with a plain connect.
  EXPECT_EQ(probe_kind(parse_ok({{"protocol", "HTTPS"}})), ProbeKind::kTcp);
  EXPECT_EQ(probe_kind(parse_ok({{"protocol", "MESOS_HTTPS"}})), ProbeKind::kTcp);
  EXPECT_FALSE(is_mesos_level(parse_ok({{"protocol", "TCP"}})));
  EXPECT_TRUE(is_mesos_level(parse_ok({{"protocol", "MESOS_TCP"}})));
}

TEST(HealthCheckParse, RejectsBadValuesNamingTheField) {
  EXPECT_NE(parse_error({{"protocol", "UDP"}}).find("protocol: got 'UDP'"), std::string::npos);
  EXPECT_NE(parse_error({{"intervalSeconds", -1}}).find("intervalSeconds"), std::string::npos);
  EXPECT_NE(parse_error({{"timeoutSeconds", "20"}}).find("timeoutSeconds"), std::string::npos);
  EXPECT_NE(parse_error({{"gracePeriodSeconds", 1.5}}).find("gracePeriodSeconds"),
            std::string::npos);
  EXPECT_NE(parse_error({{"port", 70000}}).find("port"), std::string::npos);
  EXPECT_NE(parse_error({{"portIndex", -1}}).find("portIndex"), std::string::npos);
  EXPECT_NE(parse_error({{"path", "health"}}).find("path"), std::string::npos);
  EXPECT_NE(parse_error({{"ignoreHttp1xx", "yes"}}).find("ignoreHttp1xx"), std::string::npos);
  EXPECT_NE(parse_error({{"ipProtocol", "IPX"}}).find("ipProtocol"), std::string::npos);
  EXPECT_NE(parse_error({{"protocol", "COMMAND"}}).find("command"), std::string::npos);
  EXPECT_NE(parse_error({{"protocol", "COMMAND"}, {"command", {{"value", 3}}}}).find("command"),
            std::string::npos);
  EXPECT_NE(parse_error(json::array()).find("object"), std::string::npos);
}

TEST(HealthCheckParse, PrefixesArrayErrorsWithTheIndex) {
  auto specs = parse_health_checks(json::parse(R"([{"protocol":"TCP"},{"protocol":"NOPE"}])"));
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(specs.error().message.rfind("healthChecks(1): protocol", 0), 0u)
      << specs.error().message;
  auto none = parse_health_checks(json());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(HealthCheckPort, DefaultsToTheOnlyPort) {
  auto port = resolve_health_check_port(parse_ok({{"protocol", "HTTP"}}), {31005});
  ASSERT_TRUE(port.ok()) << port.error().message;
  EXPECT_EQ(*port, 31005);
}

TEST(HealthCheckPort, UsesPortIndexIntoTheTaskPorts) {
  auto port = resolve_health_check_port(parse_ok({{"portIndex", 2}}), {31000, 31001, 31002});
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(*port, 31002);
}

TEST(HealthCheckPort, ExplicitPortWinsOverPortIndex) {
  auto port = resolve_health_check_port(parse_ok({{"portIndex", 0}, {"port", 9000}}), {31000});
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(*port, 9000);
  // An explicit port needs no task port at all.
  auto alone = resolve_health_check_port(parse_ok({{"port", 9000}}), {});
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(*alone, 9000);
}

TEST(HealthCheckPort, RejectsAnIndexOutOfRange) {
  auto port = resolve_health_check_port(parse_ok({{"portIndex", 1}}), {31000});
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(port.error().message.find("portIndex: got 1"), std::string::npos)
      << port.error().message;
}

TEST(HealthCheckPort, NeedsAnIndexWhenTheTaskHasSeveralPorts) {
  auto port = resolve_health_check_port(parse_ok(json::object()), {31000, 31001});
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message.find("portIndex is required"), std::string::npos);
}

TEST(HealthCheckPort, NeedsAPortWhenTheTaskHasNone) {
  auto port = resolve_health_check_port(parse_ok({{"protocol", "TCP"}}), {});
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().message.find("has none"), std::string::npos);
}

HealthCheckSpec spec_with(uint32_t max_failures, std::chrono::seconds grace = 10s,
                          std::string protocol = "HTTP") {
  HealthCheckSpec spec;
  spec.protocol = std::move(protocol);
  spec.grace_period = grace;
  spec.max_consecutive_failures = max_failures;
  return spec;
}

TEST(HealthState, IsUnknownUntilAResultCounts) {
  HealthState state(spec_with(3), kStart);
  EXPECT_FALSE(state.alive().has_value());
  EXPECT_FALSE(state.should_kill());
  EXPECT_EQ(state.consecutive_failures(), 0u);
}

TEST(HealthState, IgnoresFailuresDuringTheGracePeriod) {
  HealthState state(spec_with(1, 10s), kStart);
  state.on_result(false, "500 Internal Server Error", kStart + 1s);
  state.on_result(false, "500 Internal Server Error", kStart + 9s);
  EXPECT_FALSE(state.alive().has_value());
  EXPECT_EQ(state.consecutive_failures(), 0u);
  EXPECT_FALSE(state.last_failure().has_value());
  EXPECT_FALSE(state.should_kill());
}

TEST(HealthState, CountsFailuresOnceTheGracePeriodEnds) {
  HealthState state(spec_with(3, 10s), kStart);
  state.on_result(false, "connection refused", kStart + 10s);
  EXPECT_EQ(state.alive(), false);
  EXPECT_EQ(state.consecutive_failures(), 1u);
  EXPECT_EQ(state.last_failure(), kStart + 10s);
  EXPECT_EQ(state.last_failure_cause(), "connection refused");
}

TEST(HealthState, FirstSuccessEndsTheGracePeriod) {
  HealthState state(spec_with(2, 300s), kStart);
  state.on_result(true, "", kStart + 5s);
  EXPECT_EQ(state.alive(), true);
  EXPECT_EQ(state.first_success(), kStart + 5s);
  state.on_result(false, "503 Service Unavailable", kStart + 6s);
  EXPECT_EQ(state.alive(), false);
  EXPECT_EQ(state.consecutive_failures(), 1u);
  state.on_result(false, "503 Service Unavailable", kStart + 7s);
  EXPECT_TRUE(state.should_kill());
}

TEST(HealthState, SuccessResetsTheFailureCountButKeepsTheFirstSuccess) {
  HealthState state(spec_with(3, 0s), kStart);
  state.on_result(true, "", kStart + 1s);
  state.on_result(false, "a", kStart + 2s);
  state.on_result(false, "b", kStart + 3s);
  EXPECT_EQ(state.consecutive_failures(), 2u);
  state.on_result(true, "", kStart + 4s);
  EXPECT_EQ(state.consecutive_failures(), 0u);
  EXPECT_EQ(state.alive(), true);
  EXPECT_EQ(state.first_success(), kStart + 1s);
  EXPECT_EQ(state.last_success(), kStart + 4s);
  EXPECT_EQ(state.last_failure(), kStart + 3s);
  EXPECT_EQ(state.last_failure_cause(), "b");
}

TEST(HealthState, ShouldKillExactlyAtTheThreshold) {
  HealthState state(spec_with(3, 0s), kStart);
  state.on_result(false, "x", kStart + 1s);
  state.on_result(false, "x", kStart + 2s);
  EXPECT_FALSE(state.should_kill());
  state.on_result(false, "x", kStart + 3s);
  EXPECT_TRUE(state.should_kill());
  state.on_result(true, "", kStart + 4s);
  EXPECT_FALSE(state.should_kill());
}

TEST(HealthState, ZeroMaxFailuresNeverKillsAMarathonLevelCheck) {
  for (const char* protocol : {"HTTP", "HTTPS", "TCP"}) {
    HealthState state(spec_with(0, 0s, protocol), kStart);
    for (int i = 1; i <= 100; ++i) state.on_result(false, "x", kStart + std::chrono::seconds(i));
    EXPECT_EQ(state.consecutive_failures(), 100u);
    EXPECT_FALSE(state.should_kill()) << protocol;
  }
}

TEST(HealthState, ZeroMaxFailuresKillsAMesosLevelCheckOnTheFirstFailure) {
  for (const char* protocol : {"COMMAND", "MESOS_HTTP", "MESOS_TCP"}) {
    HealthState state(spec_with(0, 0s, protocol), kStart);
    state.on_result(false, "x", kStart + 1s);
    EXPECT_TRUE(state.should_kill()) << protocol;
  }
}

TEST(HealthState, WritesMarathonsResultShape) {
  HealthState state(spec_with(3, 0s), kStart);
  json fresh = state.to_json("web.instance-1");
  EXPECT_EQ(fresh, json::parse(R"({"alive":false,"consecutiveFailures":0,"firstSuccess":null,
      "lastSuccess":null,"lastFailure":null,"lastFailureCause":null,"instanceId":"web.instance-1"})"));

  state.on_result(true, "", kStart + 1s);
  state.on_result(false, "500 Internal Server Error", kStart + 2s + 250ms);
  json j = state.to_json("web.instance-1");
  EXPECT_EQ(j, json::parse(R"({"alive":false,"consecutiveFailures":1,
      "firstSuccess":"2023-11-14T22:13:21.000Z","lastSuccess":"2023-11-14T22:13:21.000Z",
      "lastFailure":"2023-11-14T22:13:22.250Z","lastFailureCause":"500 Internal Server Error",
      "instanceId":"web.instance-1"})"));
  state.on_result(true, "", kStart + 3s);
  EXPECT_EQ(state.to_json("i")["alive"], true);
}

}  // namespace
}  // namespace berth::health
