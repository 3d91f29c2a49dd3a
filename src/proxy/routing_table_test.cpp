#include "proxy/routing_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::proxy {
namespace {

using std::chrono::milliseconds;

const Backend kA{"10.0.0.1", 31000};
const Backend kB{"10.0.0.2", 31000};
const Backend kC{"10.0.0.3", 31001};

RoutingTable table_of(std::vector<Route> routes, uint64_t version = 1) {
  return RoutingTable{version, std::move(routes)};
}

TEST(RoutingTable, RoundTripsThroughJson) {
  RoutingTable table = table_of({Route{10000, "/web", {kA, kB}}, Route{10001, "/db", {}}}, 7);
  nlohmann::json j = table;
  EXPECT_EQ(j["routes"][0]["backends"][1]["host"], "10.0.0.2");
  auto back = routing_table_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->version, 7u);
  ASSERT_EQ(back->routes.size(), 2u);
  EXPECT_EQ(back->routes[0].service_port, 10000);
  EXPECT_EQ(back->routes[0].app_id, "/web");
  EXPECT_EQ(back->routes[0].backends, (std::vector<Backend>{kA, kB}));
  EXPECT_TRUE(back->routes[1].backends.empty());
}

TEST(RoutingTable, RejectsAPortOutOfRangeNamingIt) {
  auto j = nlohmann::json::parse(
      R"({"version":1,"routes":[{"service_port":10000,"app_id":"/web",
          "backends":[{"host":"10.0.0.1","port":70000}]}]})");
  auto parsed = routing_table_from_json(j);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find("routes[0].backends[0]"), std::string::npos);
  EXPECT_NE(parsed.error().message.find("70000"), std::string::npos);
}

TEST(RoutingTable, RejectsMalformedJsonWithoutThrowing) {
  EXPECT_FALSE(routing_table_from_json(nlohmann::json::array()).ok());
  EXPECT_FALSE(routing_table_from_json(nlohmann::json::parse(R"({"routes":[]})")).ok());
  EXPECT_FALSE(routing_table_from_json(nlohmann::json::parse(R"({"version":-1})")).ok());
  EXPECT_FALSE(routing_table_from_json(
                   nlohmann::json::parse(R"({"version":1,"routes":[{"service_port":1}]})"))
                   .ok());
  EXPECT_FALSE(
      routing_table_from_json(
          nlohmann::json::parse(R"({"version":1,"routes":[{"service_port":"80","app_id":"/a"}]})"))
          .ok());
}

TEST(RoutingTable, RejectsAServicePortRoutedTwice) {
  Status status = validate(table_of({Route{10000, "/a", {}}, Route{10000, "/b", {}}}));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("10000"), std::string::npos);
}

TEST(RoutingTable, RejectsABackendListedTwiceOrWithoutHost) {
  EXPECT_FALSE(validate(table_of({Route{10000, "/a", {kA, kA}}})).ok());
  EXPECT_FALSE(validate(table_of({Route{10000, "/a", {Backend{"", 80}}}})).ok());
  EXPECT_FALSE(validate(table_of({Route{10000, "", {kA}}})).ok());
  EXPECT_TRUE(validate(table_of({Route{10000, "/a", {kA, kB}}})).ok());
}

TEST(RoutingDiff, OpensClosesAndMarksChangedPorts) {
  RoutingTable before =
      table_of({Route{1, "/a", {kA}}, Route{2, "/b", {kA}}, Route{3, "/c", {kA}}});
  RoutingTable after = table_of({Route{2, "/b", {kA}}, Route{3, "/c", {kB}}, Route{4, "/d", {}}});
  RoutingDiff diff = diff_routes(before, after);
  EXPECT_EQ(diff.open, std::vector<uint16_t>{4});
  EXPECT_EQ(diff.close, std::vector<uint16_t>{1});
  EXPECT_EQ(diff.changed, std::vector<uint16_t>{3});
}

TEST(RoutingDiff, IgnoresBackendOrderButNotTheAppId) {
  RoutingTable before = table_of({Route{1, "/a", {kA, kB}}});
  EXPECT_TRUE(diff_routes(before, table_of({Route{1, "/a", {kB, kA}}})).empty());
  EXPECT_EQ(diff_routes(before, table_of({Route{1, "/z", {kA, kB}}})).changed,
            std::vector<uint16_t>{1});
  EXPECT_EQ(diff_routes(before, table_of({Route{1, "/a", {kA}}})).changed,
            std::vector<uint16_t>{1});
}

TEST(BackendPicker, RoundRobinsAcrossBackends) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA, kB, kC});
  MonoTime now{};
  std::vector<Backend> firsts;
  for (int i = 0; i < 6; ++i) firsts.push_back(picker.attempt_order(now, 4).front());
  EXPECT_EQ(firsts, (std::vector<Backend>{kA, kB, kC, kA, kB, kC}));
}

TEST(BackendPicker, OffersTheOthersAfterTheFirstChoice) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA, kB, kC});
  EXPECT_EQ(picker.attempt_order(MonoTime{}, 4), (std::vector<Backend>{kA, kB, kC}));
  EXPECT_EQ(picker.attempt_order(MonoTime{}, 2), (std::vector<Backend>{kB, kC}));
}

TEST(BackendPicker, SkipsAFailedBackendUntilItsCooldownEnds) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA, kB});
  MonoTime now{};
  picker.mark_failed(kA, now);
  EXPECT_TRUE(picker.cooling_down(kA, now));
  for (int i = 0; i < 3; ++i) {
    // Still offered, but only as a last resort behind the healthy one.
    EXPECT_EQ(picker.attempt_order(now + milliseconds(100 * i), 4), (std::vector<Backend>{kB, kA}));
  }
  now += milliseconds(2000);
  EXPECT_FALSE(picker.cooling_down(kA, now));
  std::vector<Backend> firsts;
  for (int i = 0; i < 2; ++i) firsts.push_back(picker.attempt_order(now, 4).front());
  EXPECT_EQ(firsts.size(), 2u);
  EXPECT_NE(firsts[0], firsts[1]);
}

TEST(BackendPicker, WhenAllAreCoolingTriesTheSoonestToRecoverFirst) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA, kB});
  MonoTime now{};
  picker.mark_failed(kB, now);
  picker.mark_failed(kA, now + milliseconds(500));
  EXPECT_EQ(picker.attempt_order(now + milliseconds(600), 4), (std::vector<Backend>{kB, kA}));
}

TEST(BackendPicker, ASuccessEndsTheCooldown) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA});
  picker.mark_failed(kA, MonoTime{});
  picker.mark_connected(kA);
  EXPECT_FALSE(picker.cooling_down(kA, MonoTime{}));
}

TEST(BackendPicker, NewBackendSetKeepsCooldownsOfBackendsStillListed) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA, kB});
  MonoTime now{};
  picker.mark_failed(kA, now);
  picker.mark_failed(kB, now);
  picker.set_backends({kA, kC});
  EXPECT_TRUE(picker.cooling_down(kA, now));
  EXPECT_FALSE(picker.cooling_down(kB, now));
  picker.set_backends({kA, kB, kC});
  EXPECT_FALSE(picker.cooling_down(kB, now));  // forgotten when it left the set
  EXPECT_EQ(picker.attempt_order(now, 4).back(), kA);
}

TEST(BackendPicker, IgnoresFailuresOfBackendsNotInTheSet) {
  BackendPicker picker(milliseconds(2000));
  picker.set_backends({kA});
  picker.mark_failed(kB, MonoTime{});
  picker.set_backends({kA, kB});
  EXPECT_FALSE(picker.cooling_down(kB, MonoTime{}));
}

TEST(BackendPicker, NoBackendsMeansNothingToTry) {
  BackendPicker picker(milliseconds(2000));
  EXPECT_TRUE(picker.attempt_order(MonoTime{}, 4).empty());
  picker.set_backends({kA, kB});
  picker.set_backends({});
  EXPECT_TRUE(picker.attempt_order(MonoTime{}, 4).empty());
}

}  // namespace
}  // namespace berth::proxy
