// Datasets through Flocker's v1 API on a real cluster: agents attach what the master assigns
// them through the shared-directory driver, moves detach before they attach, data survives.
// Local datasets move by copying between the agents while both are up.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string node_id(Cluster& cluster, int index) {
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["hostname"].get<std::string>() == cluster.agent_hostname(index))
      return n["id"].get<std::string>();
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

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string node_state(Cluster& cluster, const std::string& id) {
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["id"].get<std::string>() == id) return n["state"].get<std::string>();
  }
  return "";
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

  auto created = cluster.call(
      "POST", "/v1/configuration/datasets",
      nlohmann::json{{"primary", a}, {"maximum_size", 67108864}, {"metadata", {{"name", "orders"}}}}
          .dump());
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

  auto moved = cluster.call("POST", "/v1/configuration/datasets/" + id,
                            nlohmann::json{{"primary", b}}.dump());
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(moved.body["primary"].get<std::string>(), b);
  nlohmann::json on_b;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        on_b = state_of(cluster, id);
        return !on_b.is_null() && on_b.contains("primary") &&
               on_b["primary"].get<std::string>() == b;
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
  auto after_delete = cluster.call("POST", "/v1/configuration/datasets/" + id,
                                   nlohmann::json{{"primary", a}}.dump());
  EXPECT_EQ(after_delete.status, 405);
  EXPECT_EQ(after_delete.body["description"], "The dataset has been deleted.");
}

TEST(Datasets, BadNamesSizesAndIdsGetClearErrorsAndChangeNothing) {
  Cluster cluster(1);
  std::string a = node_id(cluster, 1);
  auto tag_before =
      cluster.call("GET", "/v1/configuration/datasets").headers["x-configuration-tag"];
  auto expect_400 = [&](const nlohmann::json& body, const std::string& mentions) {
    auto r = cluster.call("POST", "/v1/configuration/datasets", body.dump());
    EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body.dump();
    ASSERT_TRUE(r.body.contains("description"));
    EXPECT_NE(r.body["description"].get<std::string>().find(mentions), std::string::npos)
        << r.body.dump();
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
  EXPECT_EQ(cluster
                .call("POST", "/v1/configuration/datasets/11111111-2222-4333-8444-555555555555",
                      nlohmann::json{{"primary", a}}.dump())
                .status,
            404);
  EXPECT_TRUE(cluster.call("GET", "/v1/configuration/datasets").body.empty());
  EXPECT_EQ(cluster.call("GET", "/v1/configuration/datasets").headers["x-configuration-tag"],
            tag_before);

  // Conditional writes: a stale tag is refused with 412.
  auto ok =
      cluster.call("POST", "/v1/configuration/datasets", nlohmann::json{{"primary", a}}.dump());
  ASSERT_EQ(ok.status, 201);
  auto tag = cluster.call("GET", "/v1/configuration/datasets").headers["x-configuration-tag"];
  auto stale =
      cluster.call("POST", "/v1/configuration/datasets", nlohmann::json{{"primary", a}}.dump(),
                   {{"X-If-Configuration-Matches", tag_before}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_NE(stale.body["description"].get<std::string>().find("Tag doesn't match"),
            std::string::npos);
  auto fresh =
      cluster.call("POST", "/v1/configuration/datasets", nlohmann::json{{"primary", a}}.dump(),
                   {{"X-If-Configuration-Matches", tag}});
  EXPECT_EQ(fresh.status, 201);
  EXPECT_EQ(cluster.call("GET", "/v1/configuration/datasets").body.size(), 2u);
}

TEST(Datasets, ALocalDatasetMovesByCopyingWhileBothNodesAreUp) {
  namespace fs = std::filesystem;
  Cluster cluster(2);
  std::string a = node_id(cluster, 1), b = node_id(cluster, 2);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto created = cluster.call("POST", "/v1/configuration/datasets",
                              nlohmann::json{{"primary", a},
                                             {"driver", "local"},
                                             {"maximum_size", 67108864},
                                             {"metadata", {{"name", "ledger"}}}}
                                  .dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["dataset_id"];
  EXPECT_EQ(created.body["driver"], "local");

  nlohmann::json on_a;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        on_a = state_of(cluster, id);
        return !on_a.is_null() && on_a.contains("path") && on_a["primary"].get<std::string>() == a;
      },
      seconds(10)));
  fs::path path_a = on_a["path"].get<std::string>();
  // The local driver keeps it in node 1's own directory, nowhere else.
  EXPECT_EQ(path_a, fs::path(cluster.dir()) / "agent-1" / "datasets" / id);
  std::string wal;
  for (uint32_t i = 0; i < 300000; ++i) wal.push_back(static_cast<char>((i * 7919u) % 251u));
  { std::ofstream(path_a / "ledger") << "acknowledged-1\nacknowledged-2\n"; }
  fs::create_directories(path_a / "db" / "wal");
  { std::ofstream(path_a / "db" / "wal" / "0001", std::ios::binary) << wal; }
  { std::ofstream(path_a / "db" / "empty"); }
  fs::create_symlink("wal/0001", path_a / "db" / "current");
  fs::permissions(path_a / "ledger", fs::perms(0600));

  auto moved = cluster.call("POST", "/v1/configuration/datasets/" + id,
                            nlohmann::json{{"primary", b}}.dump());
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(moved.body["primary"].get<std::string>(), b);
  EXPECT_FALSE(moved.body.contains("moving_from"));
  nlohmann::json on_b;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        on_b = state_of(cluster, id);
        return !on_b.is_null() && on_b.contains("primary") &&
               on_b["primary"].get<std::string>() == b;
      },
      seconds(20)))
      << "last state: " << on_b.dump();
  fs::path path_b = on_b["path"].get<std::string>();
  EXPECT_EQ(path_b, fs::path(cluster.dir()) / "agent-2" / "datasets" / id);
  EXPECT_EQ(read_all(path_b / "ledger"), "acknowledged-1\nacknowledged-2\n");
  EXPECT_EQ(read_all(path_b / "db" / "wal" / "0001"), wal);
  EXPECT_TRUE(fs::is_regular_file(path_b / "db" / "empty"));
  EXPECT_EQ(fs::file_size(path_b / "db" / "empty"), 0u);
  EXPECT_EQ(fs::read_symlink(path_b / "db" / "current"), "wal/0001");
  EXPECT_EQ(fs::status(path_b / "ledger").permissions(), fs::perms(0600));
  // Node 1's copy goes once node 2 has the dataset attached; node 2 alone reports it.
  EXPECT_TRUE(Cluster::eventually([&] { return !fs::exists(path_a); }, seconds(10)))
      << path_a << " is still there";
  EXPECT_FALSE(
      fs::exists(fs::path(cluster.dir()) / "agent-1" / "datasets" / ".berth" / (id + ".json")));
  int entries = 0;
  auto state = cluster.call("GET", "/v1/state/datasets");
  for (const auto& d : state.body) entries += d["dataset_id"] == id;
  EXPECT_EQ(entries, 1);

  // With node 1 down, moving it there is refused, naming node 1, and nothing changes.
  cluster.kill_agent(1);
  ASSERT_TRUE(Cluster::eventually([&] { return node_state(cluster, a) == "lost"; }, seconds(10)))
      << cluster.call("GET", "/berth/v1/nodes").body.dump();
  auto refused = cluster.call("POST", "/v1/configuration/datasets/" + id,
                              nlohmann::json{{"primary", a}}.dump());
  EXPECT_EQ(refused.status, 409) << refused.body.dump();
  std::string why = refused.body.value("description", "");
  EXPECT_NE(why.find(cluster.agent_hostname(1)), std::string::npos) << why;
  EXPECT_NE(why.find("down"), std::string::npos) << why;
  auto config = cluster.call("GET", "/v1/configuration/datasets/" + id);
  EXPECT_EQ(config.body["primary"].get<std::string>(), b);
  EXPECT_EQ(state_of(cluster, id)["primary"].get<std::string>(), b);
  EXPECT_EQ(read_all(path_b / "ledger"), "acknowledged-1\nacknowledged-2\n");
}

}  // namespace berth::testing
