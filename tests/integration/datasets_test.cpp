// Datasets through Flocker's v1 API on a real cluster: agents attach what the master assigns
// them through the shared-directory driver, moves detach before they attach, data survives.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string node_id(Cluster& cluster, int index) {
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["hostname"].get<std::string>() == cluster.agent_hostname(index)) return n["id"].get<std::string>();
  }
  return "";
}

// The /v1/state/datasets entry of a dataset, or null.
nlohmann::json state_of(Cluster& cluster, const std::string& id) {
  auto state = cluster.call("GET", "/v1/state/datasets");
  for (const auto& d : state.body) {
    if (d["dataset_id"].get<std::string>() == id) return d;
  }
  return nullptr;
}

}  // namespace

TEST(Datasets, CreateAttachMoveWithDataAndDestroy) {
  Cluster cluster(2);
  std::string a = node_id(cluster, 1), b = node_id(cluster, 2);
  ASSERT_FALSE(a.empty());
  auto version = cluster.call("GET", "/v1/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_TRUE(version.body.contains("flocker"));
  auto nodes = cluster.call("GET", "/v1/state/nodes");
  EXPECT_EQ(nodes.body.size(), 2u);

  auto created = cluster.call("POST", "/v1/configuration/datasets",
                              nlohmann::json{{"primary", a}, {"maximum_size", 67108864},
                                             {"metadata", {{"name", "orders"}}}}.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["dataset_id"];
  EXPECT_EQ(created.body["primary"].get<std::string>(), a);
  EXPECT_EQ(created.body["deleted"], false);
  EXPECT_EQ(created.body["metadata"]["name"], "orders");

  nlohmann::json on_a;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        on_a = state_of(cluster, id);
        return !on_a.is_null() && on_a.contains("path") && on_a["primary"].get<std::string>() == a;
      },
      seconds(10)));
  std::string path_a = on_a["path"];
  { std::ofstream(path_a + "/ledger") << "acknowledged-1\n"; }

  auto moved = cluster.call("POST", "/v1/configuration/datasets/" + id, nlohmann::json{{"primary", b}}.dump());
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(moved.body["primary"].get<std::string>(), b);
  nlohmann::json on_b;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        on_b = state_of(cluster, id);
        return !on_b.is_null() && on_b.contains("primary") && on_b["primary"].get<std::string>() == b;
      },
      seconds(10)));
  std::ifstream in(on_b["path"].get<std::string>() + "/ledger");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "acknowledged-1");
  // Only one node reports it attached.
  auto listed = cluster.call("GET", "/v1/configuration/datasets");
  EXPECT_FALSE(listed.headers["x-configuration-tag"].empty());

  auto deleted = cluster.call("DELETE", "/v1/configuration/datasets/" + id);
  ASSERT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body["deleted"], true);
  EXPECT_TRUE(Cluster::eventually([&] { return state_of(cluster, id).is_null(); }, seconds(10)));
  auto after_delete = cluster.call("POST", "/v1/configuration/datasets/" + id, nlohmann::json{{"primary", a}}.dump());
  EXPECT_EQ(after_delete.status, 405);
  EXPECT_EQ(after_delete.body["description"], "The dataset has been deleted.");
}

TEST(Datasets, BadNamesSizesAndIdsGetClearErrorsAndChangeNothing) {
  Cluster cluster(1);
  std::string a = node_id(cluster, 1);
  auto tag_before = cluster.call("GET", "/v1/configuration/datasets").headers["x-configuration-tag"];
  auto expect_400 = [&](const nlohmann::json& body, const std::string& mentions) {
    auto r = cluster.call("POST", "/v1/configuration/datasets", body.dump());
    EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body.dump();
    ASSERT_TRUE(r.body.contains("description"));
    EXPECT_NE(r.body["description"].get<std::string>().find(mentions), std::string::npos) << r.body.dump();
  };
  expect_400({{"primary", a}, {"maximum_size", 1000}}, "maximum_size");
  expect_400({{"primary", a}, {"maximum_size", 67108865}}, "1024");
  expect_400({{"primary", a}, {"dataset_id", "../../etc"}}, "dataset_id");
  expect_400({{"metadata", {{"name", "x"}}}}, "primary");
  expect_400({{"primary", "not-a-node"}}, "primary");
  expect_400({{"primary", "00000000-0000-4000-8000-000000000000"}}, "not a node");
  expect_400({{"primary", a}, {"metadata", {{"name", std::string(300, 'x')}}}}, "256");
  auto malformed = cluster.call("POST", "/v1/configuration/datasets", "{nope");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(cluster.call("POST", "/v1/configuration/datasets/11111111-2222-4333-8444-555555555555",
                         nlohmann::json{{"primary", a}}.dump()).status, 404);
  EXPECT_TRUE(cluster.call("GET", "/v1/configuration/datasets").body.empty());
  EXPECT_EQ(cluster.call("GET", "/v1/configuration/datasets").headers["x-configuration-tag"], tag_before);

  // Conditional writes: a stale tag is refused with 412.
  auto ok = cluster.call("POST", "/v1/configuration/datasets", nlohmann::json{{"primary", a}}.dump());
  ASSERT_EQ(ok.status, 201);
  auto tag = cluster.call("GET", "/v1/configuration/datasets").headers["x-configuration-tag"];
  auto stale = cluster.call("POST", "/v1/configuration/datasets", nlohmann::json{{"primary", a}}.dump(),
                            {{"X-If-Configuration-Matches", tag_before}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_NE(stale.body["description"].get<std::string>().find("Tag doesn't match"), std::string::npos);
  auto fresh = cluster.call("POST", "/v1/configuration/datasets", nlohmann::json{{"primary", a}}.dump(),
                            {{"X-If-Configuration-Matches", tag}});
  EXPECT_EQ(fresh.status, 201);
  EXPECT_EQ(cluster.call("GET", "/v1/configuration/datasets").body.size(), 2u);
}

}  // namespace berth::testing
