// GET /berth/v1/nodes is rendered in batches (append_nodes), so a fleet of thousands is not one
// long hold of the master's lock: batches of any size give the same answer as one, and each
// node's use is the sum of its own tasks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api/views.h"

namespace berth::api {
namespace {

master::MasterState fleet() {
  master::MasterState state;
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    master::AgentRecord& agent = state.agents[id];
    agent.id = id;
    agent.hostname = std::string("node-") + id;
  }
  state.agents["d"].lost = true;
  for (int i = 0; i < 9; ++i) {
    master::TaskRecord& task = state.tasks["t" + std::to_string(i)];
    task.id = "t" + std::to_string(i);
    task.agent_id = i % 3 == 0 ? "a" : i % 3 == 1 ? "c" : "e";
    task.cpus = 0.5;
    task.mem = 64;
  }
  return state;
}

nlohmann::json render(const master::MasterState& state, size_t batch, int* batches) {
  nlohmann::json nodes = nlohmann::json::array();
  std::string after;
  *batches = 0;
  for (bool done = false; !done; ++*batches)
    done = append_nodes(state, MonoTime{}, batch, &after, &nodes);
  return nodes;
}

TEST(NodesView, BatchesOfAnySizeGiveTheWholeFleetInOrder) {
  const master::MasterState state = fleet();
  int batches = 0;
  const nlohmann::json whole = render(state, 500, &batches);
  EXPECT_EQ(batches, 1);
  ASSERT_EQ(whole.size(), 5u);
  for (size_t batch : {size_t{1}, size_t{2}, size_t{5}}) {
    EXPECT_EQ(render(state, batch, &batches), whole) << batch;
  }
  render(state, 2, &batches);
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(whole[0]["id"], "a");
  EXPECT_EQ(whole[3]["state"], "lost");
}

TEST(NodesView, EachNodeShowsWhatItsOwnTasksUse) {
  int batches = 0;
  const nlohmann::json nodes = render(fleet(), 2, &batches);
  for (const auto& node : nodes) {
    const bool has_tasks = node["id"] == "a" || node["id"] == "c" || node["id"] == "e";
    EXPECT_EQ(node["tasks"], has_tasks ? 3 : 0) << node["id"];
    EXPECT_DOUBLE_EQ(node["used"]["cpus"].get<double>(), has_tasks ? 1.5 : 0.0) << node["id"];
    EXPECT_DOUBLE_EQ(node["used"]["mem"].get<double>(), has_tasks ? 192.0 : 0.0) << node["id"];
  }
}

TEST(NodesView, AnEmptyFleetIsOneEmptyBatch) {
  master::MasterState state;
  int batches = 0;
  EXPECT_TRUE(render(state, 500, &batches).empty());
  EXPECT_EQ(batches, 1);
}

}  // namespace
}  // namespace berth::api
