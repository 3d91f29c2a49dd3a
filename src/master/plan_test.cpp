// The master's controller decisions (master/plan.h), tested as the pure functions they are: a
// hand-built state in, a plan out, no store, clock or threads.
#include "master/plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "master/test_support.h"

namespace berth::master {
namespace {

using testing::CountingIds;
using testing::parsed_app;

using std::chrono::milliseconds;

AgentRecord agent(const std::string& id) {
  AgentRecord a;
  a.id = id;
  a.hostname = id + ".example";
  a.address = "10.0.0." + id.substr(id.size() - 1);
  a.resources.cpus = 4;
  a.resources.mem = 4096;
  a.resources.disk = 10000;
  a.resources.ports = {{31000, 31099}};
  return a;
}

TaskRecord task_of(const model::App& app, const std::string& id, const std::string& on) {
  TaskRecord t;
  t.id = id;
  t.app_id = app.id;
  t.agent_id = on;
  t.state = protocol::TaskState::kRunning;
  t.version = app.version;
  t.config_version = app.version_info.last_config_change_at;
  t.cpus = app.cpus;
  t.mem = app.mem;
  return t;
}

MasterState two_agents() {
  MasterState state;
  state.agents["agent-a"] = agent("agent-a");
  state.agents["agent-b"] = agent("agent-b");
  return state;
}

TEST(Plan, AnAppShortOfInstancesIsPlacedAndItsTasksAreLaunchedAtOnce) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/web","cmd":"sleep 100","instances":3,"cpus":1})");
  state.apps[app.id].app = app;
  state.tasks["t1"] = task_of(app, "t1", "agent-a");

  AppDecisions apps = decide_apps(state, 0);
  ASSERT_EQ(apps.launch.size(), 1u);
  EXPECT_EQ(apps.launch[0], (std::pair<std::string, uint32_t>{"/web", 2}));
  EXPECT_TRUE(apps.kill.empty());

  CountingIds ids;
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  PlacementPlan plan = plan_placement(state, leases, apps.launch, ids, WallTime{});
  ASSERT_EQ(plan.tasks.size(), 2u);
  for (const auto& placed : plan.tasks) {
    EXPECT_EQ(placed.task.app_id, "/web");
    ASSERT_TRUE(placed.launch.has_value()) << "an app without datasets launches at once";
    EXPECT_EQ(placed.launch->task_id, placed.task.id);
    EXPECT_TRUE(placed.moves.empty());
  }
  EXPECT_NE(plan.tasks[0].task.id, plan.tasks[1].task.id);
  ASSERT_TRUE(plan.queue.count("/web"));
  EXPECT_FALSE(plan.queue.at("/web").has_value()) << "placed in full: nothing queued";
}

TEST(Plan, ANodeWhereAnAppKeepsFailingTakesItsTasksOnlyWhenNoOtherCan) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/web","cmd":"sleep 100","instances":1,"cpus":1})");
  AppRecord& record = state.apps[app.id];
  record.app = app;
  WallTime t0 = WallTime{} + std::chrono::hours(1);
  for (int i = 0; i < 2; ++i) record_node_failure(record, "agent-a", t0 + std::chrono::seconds(i));
  EXPECT_TRUE(nodes_to_avoid(record, t0).empty()) << "two failures are not yet a pattern";
  record_node_failure(record, "agent-a", t0 + std::chrono::seconds(2));
  EXPECT_EQ(nodes_to_avoid(record, t0 + std::chrono::seconds(3)),
            (std::vector<std::string>{"agent-a"}));
  CountingIds ids;
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  for (int round = 0; round < 3; ++round) {
    PlacementPlan plan =
        plan_placement(state, leases, {{"/web", 1}}, ids, t0 + std::chrono::seconds(3));
    ASSERT_EQ(plan.tasks.size(), 1u);
    EXPECT_EQ(plan.tasks[0].task.agent_id, "agent-b");
  }
  // With agent-b gone, agent-a still runs the app rather than none.
  state.agents.erase("agent-b");
  PlacementPlan only_a =
      plan_placement(state, leases, {{"/web", 1}}, ids, t0 + std::chrono::seconds(3));
  ASSERT_EQ(only_a.tasks.size(), 1u);
  EXPECT_EQ(only_a.tasks[0].task.agent_id, "agent-a");
  // Failures that stopped coming are forgotten after the window.
  EXPECT_TRUE(nodes_to_avoid(record, t0 + kNodeFailureWindow + std::chrono::minutes(1)).empty());
  record_node_failure(record, "agent-a", t0 + kNodeFailureWindow + std::chrono::minutes(1));
  EXPECT_EQ(record.failures_by_node.at("agent-a").count, 1u);
}

TEST(Plan, WhatCannotBePlacedIsQueuedWithWhy) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/big","cmd":"sleep 100","instances":1,"cpus":64})");
  state.apps[app.id].app = app;
  CountingIds ids;
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  PlacementPlan plan = plan_placement(state, leases, {{"/big", 1}}, ids, WallTime{});
  EXPECT_TRUE(plan.tasks.empty());
  ASSERT_TRUE(plan.queue.at("/big").has_value());
  EXPECT_EQ(plan.queue.at("/big")->count, 1u);
  EXPECT_EQ(plan.queue.at("/big")->nodes_considered, 2u);
  EXPECT_FALSE(plan.queue.at("/big")->reason_counts.empty());
}

TEST(Plan, TasksOfRemovedAppsAndOnDrainingNodesAreStopped) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/web","cmd":"sleep 100","instances":1})");
  state.apps[app.id].app = app;
  state.tasks["t1"] = task_of(app, "t1", "agent-a");
  model::App gone = parsed_app(R"({"id":"/gone","cmd":"sleep 100"})");
  state.tasks["t2"] = task_of(gone, "t2", "agent-b");
  EXPECT_EQ(decide_apps(state, 0).kill, std::vector<std::string>{"t2"});

  state.agents["agent-a"].draining = true;
  AppDecisions apps = decide_apps(state, 0);
  EXPECT_EQ(apps.kill, (std::vector<std::string>{"t1", "t2"}));
}

TEST(Plan, ALaunchWaitsOutItsBackoffAndADeletedAppIsErasedOnceItsTasksAreGone) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/crashy","cmd":"false","instances":1})");
  state.apps[app.id].app = app;
  state.apps[app.id].backoff = control::Backoff{2.0, 10000};  // may launch from 10 s
  AppDecisions early = decide_apps(state, 5000);
  EXPECT_TRUE(early.launch.empty());
  EXPECT_EQ(early.waiting, (std::vector<std::pair<std::string, uint32_t>>{{"/crashy", 1}}));
  EXPECT_EQ(decide_apps(state, 10000).launch.size(), 1u);

  state.apps[app.id].deleting = true;
  EXPECT_EQ(decide_apps(state, 10000).erase, std::vector<std::string>{"/crashy"});
}

TEST(Plan, AnAppsDatasetFollowsItsTaskAtTheNextEpochAndTheLaunchWaitsForTheAttach) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/db","cmd":"sleep 100","instances":1,
      "container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW",
      "external":{"name":"orders","provider":"dvdi","options":{"dvdi/driver":"berth"}}}]}})");
  state.apps[app.id].app = app;
  model::Dataset orders;
  orders.dataset_id = "d-orders";
  orders.metadata["name"] = "orders";
  orders.driver = "shared";
  orders.primary = "agent-b";
  orders.epoch = 4;
  state.put_dataset(orders);
  state.agents["agent-b"].draining = true;  // it has to move to agent-a
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  leases.restore_dataset("d-orders", lease::DatasetHolder{"agent-b", 4});

  CountingIds ids;
  PlacementPlan plan = plan_placement(state, leases, {{"/db", 1}}, ids, WallTime{});
  ASSERT_EQ(plan.tasks.size(), 1u);
  const NewTask& placed = plan.tasks[0];
  EXPECT_EQ(placed.task.agent_id, "agent-a");
  ASSERT_EQ(placed.moves.size(), 1u);
  EXPECT_EQ(placed.moves[0].primary, "agent-a");
  EXPECT_EQ(placed.moves[0].epoch, 5u) << "the epoch comes from the leases";
  EXPECT_FALSE(placed.launch.has_value());
  ASSERT_TRUE(placed.task.pending_launch.has_value());
  ASSERT_EQ(placed.task.pending_launch->volumes.size(), 1u);
  EXPECT_EQ(placed.task.pending_launch->volumes[0].epoch, 5u);

  // Applied: the move stored, the task waiting. Not ready until agent-a reports the dataset
  // attached at epoch 5, and not while another task still uses it.
  orders.primary = "agent-a";
  orders.epoch = 5;
  state.put_dataset(orders);
  state.tasks[placed.task.id] = placed.task;
  state.tasks_pending_launch.insert(placed.task.id);
  EXPECT_TRUE(ready_launches(state).empty());
  protocol::DatasetReport report;
  report.dataset_id = "d-orders";
  report.attached = true;
  report.epoch = 4;
  report.path = "/var/lib/berth/d-orders";
  state.agents["agent-a"].datasets = {report};
  EXPECT_TRUE(ready_launches(state).empty()) << "attached at an older epoch";
  state.agents["agent-a"].datasets[0].epoch = 5;
  TaskRecord old = task_of(app, "old", "agent-b");
  old.datasets = {"d-orders"};
  old.kill_requested = true;
  state.tasks["old"] = old;
  EXPECT_TRUE(ready_launches(state).empty()) << "the old instance still uses it";
  state.tasks.erase("old");
  auto ready = ready_launches(state);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].first, placed.task.id);
  EXPECT_EQ(ready[0].second.volumes[0].host_path, "/var/lib/berth/d-orders");
}

TEST(Plan, LaunchesUnconfirmedPastTheTimeoutFail) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/web","cmd":"sleep 100"})");
  TaskRecord sent = task_of(app, "t1", "agent-a");
  sent.launch_sent_at = MonoTime(milliseconds(1000));
  state.tasks["t1"] = sent;
  EXPECT_TRUE(
      unconfirmed_launches(state, MonoTime(milliseconds(6000)), milliseconds(5000)).empty());
  EXPECT_EQ(unconfirmed_launches(state, MonoTime(milliseconds(6001)), milliseconds(5000)),
            std::vector<std::string>{"t1"});
}

TEST(Plan, ADeploymentFinishesWhenItsAppsHaveConvergedAndRoutesListHealthyTasks) {
  MasterState state = two_agents();
  model::App app = parsed_app(
      R"({"id":"/web","cmd":"sleep 100","instances":1,"portDefinitions":[{"port":10001}]})");
  state.apps[app.id].app = app;
  DeploymentRecord dep;
  dep.id = "dep";
  dep.version = app.version;
  dep.affected_apps = {"/web"};
  dep.steps = {{{"StartApplication", "/web"}}};
  state.deployments["dep"] = dep;
  EXPECT_TRUE(deployment_progress(state).empty());
  EXPECT_EQ(nlohmann::json::parse(routing_table(state))[0]["backends"].size(), 0u);
  TaskRecord t = task_of(app, "t1", "agent-a");
  t.host = "10.0.0.1";
  t.ports = {31005};
  state.tasks["t1"] = t;
  auto progress = deployment_progress(state);
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].id, "dep");
  EXPECT_TRUE(progress[0].finished);
  auto routes = nlohmann::json::parse(routing_table(state));
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]["service_port"], 10001);
  EXPECT_EQ(routes[0]["backends"][0]["port"], 31005);
  // Another app's task and a task being killed are no backends of /web.
  model::App other = parsed_app(R"({"id":"/db","cmd":"sleep 100","portDefinitions":[]})");
  state.apps[other.id].app = other;
  TaskRecord db = task_of(other, "t0", "agent-b");
  db.ports = {31006};
  state.tasks["t0"] = db;
  TaskRecord leaving = task_of(app, "t2", "agent-b");
  leaving.ports = {31007};
  leaving.kill_requested = true;
  state.tasks["t2"] = leaving;
  routes = nlohmann::json::parse(routing_table(state));
  ASSERT_EQ(routes.size(), 1u);
  ASSERT_EQ(routes[0]["backends"].size(), 1u);
  EXPECT_EQ(routes[0]["backends"][0]["port"], 31005);
}

TEST(Plan, AMoveByTheApiTakesTheLeasesNextEpochAndIsRefusedWhileTheDatasetIsInUse) {
  MasterState state = two_agents();
  model::Dataset d;
  d.dataset_id = "d1";
  d.driver = "shared";
  d.primary = "agent-a";
  d.epoch = 2;
  state.put_dataset(d);
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  leases.restore_dataset("d1", lease::DatasetHolder{"agent-a", 2});
  model::DatasetUpdate to_b{std::string("agent-b"), std::nullopt};

  auto moved = plan_dataset_update(state, leases, "d1", to_b);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->primary, "agent-b");
  EXPECT_EQ(moved->epoch, 3u);
  EXPECT_EQ(state.datasets.at("d1").epoch, 2u) << "planning changes nothing";

  model::DatasetUpdate to_nowhere{std::string("agent-z"), std::nullopt};
  auto unknown = plan_dataset_update(state, leases, "d1", to_nowhere);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("agent-z"), std::string::npos);

  protocol::DatasetReport used;
  used.dataset_id = "d1";
  used.attached = true;
  used.in_use = true;
  state.agents["agent-a"].datasets = {used};
  auto busy = plan_dataset_update(state, leases, "d1", to_b);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  EXPECT_NE(busy.error().message.find("exclusive use on node agent-a.example"), std::string::npos)
      << busy.error().message;
  auto deleted = plan_dataset_delete(state, "d1");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, ErrorCode::kConflict);
}

TEST(Plan, ALocalDatasetMovesOnlyByCopyingWhileBothNodesAreUp) {
  MasterState state = two_agents();
  model::Dataset d;
  d.dataset_id = "d1";
  d.driver = "local";
  d.primary = "agent-a";
  d.epoch = 1;
  state.put_dataset(d);
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  leases.restore_dataset("d1", lease::DatasetHolder{"agent-a", 1});
  model::DatasetUpdate to_b{std::string("agent-b"), std::nullopt};

  auto no_data = plan_dataset_update(state, leases, "d1", to_b);
  ASSERT_FALSE(no_data.ok());
  EXPECT_NE(no_data.error().message.find("has no data of it yet"), std::string::npos);

  protocol::DatasetReport attached;
  attached.dataset_id = "d1";
  attached.attached = true;
  attached.epoch = 1;
  state.agents["agent-a"].datasets = {attached};
  auto copy = plan_dataset_update(state, leases, "d1", to_b);
  ASSERT_TRUE(copy.ok()) << copy.error().message;
  EXPECT_EQ(copy->moving_from, "agent-a");
  EXPECT_EQ(copy->epoch, 2u);

  state.agents["agent-a"].lost = true;
  auto holder_down = plan_dataset_update(state, leases, "d1", to_b);
  ASSERT_FALSE(holder_down.ok());
  EXPECT_NE(holder_down.error().message.find("which is down (lost)"), std::string::npos);
}

TEST(Plan, ARegisteringAgentsTasksAreAdoptedStoppedOrLost) {
  MasterState state = two_agents();
  model::App app = parsed_app(R"({"id":"/web","cmd":"sleep 100","instances":2})");
  state.apps[app.id].app = app;
  state.tasks["known"] = task_of(app, "known", "agent-a");
  state.tasks["known"].state = protocol::TaskState::kStaging;
  state.tasks["vanished"] = task_of(app, "vanished", "agent-a");
  state.agents["agent-a"].lost_task_ids = {"given-up"};
  auto report = [](const std::string& id, const std::string& app_id) {
    protocol::TaskReport t;
    t.task_id = id;
    t.app_id = app_id;
    t.state = protocol::TaskState::kRunning;
    return t;
  };
  protocol::TaskReport finished = report("finished", "/web");
  finished.state = protocol::TaskState::kFinished;
  TaskAdoption plan =
      plan_task_adoption(state, state.agents.at("agent-a"),
                         {report("known", "/web"), report("stranger", "/web"),
                          report("orphan", "/gone"), report("given-up", "/web"), finished});
  ASSERT_EQ(plan.known.size(), 1u);
  EXPECT_EQ(plan.known[0].task_id, "known");
  ASSERT_EQ(plan.adopted.size(), 2u);
  EXPECT_EQ(plan.adopted[0].id, "stranger");
  EXPECT_EQ(plan.adopted[0].agent_id, "agent-a");
  EXPECT_EQ(plan.adopted[1].id, "orphan");
  EXPECT_EQ(plan.kill, (std::vector<std::string>{"orphan", "given-up"}));
  EXPECT_EQ(plan.vanished, std::vector<std::string>{"vanished"});
  EXPECT_EQ(plan.running, 4u);
}

}  // namespace
}  // namespace berth::master

namespace berth::master {
namespace {

TEST(Plan, StatefulAppsSpreadOverTheLeastBusyNodes) {
  MasterState state = two_agents();
  lease::MasterLeases leases(lease::LeaseOptions{}, MonoTime{});
  std::vector<std::pair<std::string, uint32_t>> wanted;
  for (const char* name : {"orders", "users", "events"}) {
    model::App app = parsed_app(std::string(R"({"id":"/)") + name + R"(","cmd":"sleep 100",
        "container":{"type":"MESOS","volumes":[{"containerPath":"data","mode":"RW",
        "external":{"name":")" + name +
                                R"(","provider":"dvdi","options":{"dvdi/driver":"berth"}}}]}})");
    state.apps[app.id].app = app;
    model::Dataset d;
    d.dataset_id = std::string("d-") + name;
    d.metadata["name"] = name;
    d.driver = "shared";
    state.put_dataset(d);  // new: on no node yet
    wanted.emplace_back(app.id, 1);
  }
  CountingIds ids;
  PlacementPlan plan = plan_placement(state, leases, wanted, ids, WallTime{});
  ASSERT_EQ(plan.tasks.size(), 3u);
  std::map<std::string, int> per_node;
  for (const auto& placed : plan.tasks) ++per_node[placed.task.agent_id];
  EXPECT_EQ(per_node.size(), 2u) << "all on one node: one death takes every one of them";
  EXPECT_LE(per_node.begin()->second, 2);
}

}  // namespace
}  // namespace berth::master
