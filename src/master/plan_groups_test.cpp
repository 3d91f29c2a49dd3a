// Group changes as plans (master/plan.h plan_group_change), and how the controller holds the
// apps of later deployment steps (held_apps, deployment_progress).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "master/plan.h"
#include "master/test_support.h"
#include "model/group.h"

namespace berth::master {
namespace {

using testing::CountingIds;
using testing::parsed_app;

const char* kVersion = "2026-12-04T10:00:00.000Z";

model::GroupUpdate parsed_group(const std::string& body, const std::string& at = "/") {
  auto outcome = model::parse_group(nlohmann::json::parse(body), at, kVersion);
  EXPECT_TRUE(outcome.errors.empty()) << model::validation_error_body(outcome.errors).dump();
  return outcome.group.value_or(model::GroupUpdate{});
}

// The whole update as a target (a new group: nothing there before).
void add_to(const model::GroupUpdate& u, GroupTarget* t) {
  if (u.id != "/")
    t->groups[u.id] = GroupRecord{u.id, u.dependencies.value_or(std::vector<std::string>{}), ""};
  for (const auto& app : u.apps.value_or(std::vector<model::App>{})) t->apps[app.id] = app;
  for (const auto& sub : u.groups.value_or(std::vector<model::GroupUpdate>{})) add_to(sub, t);
}

std::vector<std::vector<std::string>> step_apps(const DeploymentRecord& d) {
  std::vector<std::vector<std::string>> out;
  for (const auto& step : d.steps) {
    std::vector<std::string> apps;
    for (const auto& a : step) apps.push_back(a.action + " " + a.app);
    out.push_back(apps);
  }
  return out;
}

Result<GroupChange> plan(const MasterState& state, const GroupTarget& target, bool force = false) {
  CountingIds ids;
  AppChangeSettings settings;
  return plan_group_change(state, target, force, GroupChangeStore{}, kVersion, ids, settings);
}

const char* kStack = R"({"id":"/stack","groups":[
  {"id":"db","apps":[{"id":"pg","cmd":"sleep 100","cpus":0.1,"mem":16},
                     {"id":"redis","cmd":"sleep 100","cpus":0.1,"mem":16}]},
  {"id":"web","dependencies":["/stack/db"],
   "apps":[{"id":"front","cmd":"sleep 100","cpus":0.1,"mem":16,"dependencies":["api"]},
           {"id":"api","cmd":"sleep 100","cpus":0.1,"mem":16}]}]})";

// A state holding kStack as its creation stored it (no tasks yet).
MasterState created_stack() {
  MasterState state;
  GroupTarget target;
  target.group = "/stack";
  add_to(parsed_group(kStack), &target);
  auto created = plan(state, target);
  EXPECT_TRUE(created.ok());
  if (!created) return state;
  for (const auto& app : created->apps) state.apps[app.id].app = app;
  for (const auto& g : created->groups) state.groups[g.id] = g;
  return state;
}

TEST(GroupPlan, NestedGroupsStartInDependencyOrder) {
  MasterState state;
  GroupTarget target;
  target.group = "/stack";
  add_to(parsed_group(kStack), &target);
  ASSERT_EQ(target.apps.size(), 4u);
  EXPECT_TRUE(target.apps.count("/stack/web/front"));
  EXPECT_EQ(target.apps.at("/stack/web/front").dependencies,
            std::vector<std::string>{"/stack/web/api"});

  auto change = plan(state, target);
  ASSERT_TRUE(change.ok()) << change.error().message;
  // The databases first (web depends on their group), then the api, then the front.
  EXPECT_EQ(step_apps(change->deployment),
            (std::vector<std::vector<std::string>>{
                {"StartApplication /stack/db/pg", "StartApplication /stack/db/redis"},
                {"StartApplication /stack/web/api"},
                {"StartApplication /stack/web/front"}}));
  EXPECT_EQ(change->apps.size(), 4u);
  // Each app got its own service port.
  std::set<uint32_t> ports;
  for (const auto& app : change->apps) {
    for (uint32_t p : model::service_ports(app)) EXPECT_TRUE(ports.insert(p).second) << p;
  }
  // One transaction: apps, versions, group records, the group's version and the deployment.
  size_t deployments = 0, groups = 0;
  for (const auto& op : change->ops) {
    if (op.key.rfind("/deployments/", 0) == 0) ++deployments;
    if (op.key.rfind("/groups/", 0) == 0) ++groups;
  }
  EXPECT_EQ(deployments, 1u);
  EXPECT_EQ(groups, 3u);  // /stack, /stack/db, /stack/web
}

TEST(GroupPlan, DeletingAGroupStopsDependentsFirst) {
  MasterState state = created_stack();

  GroupTarget empty;
  empty.group = "/stack";
  auto deleted = plan(state, empty);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(step_apps(deleted->deployment),
            (std::vector<std::vector<std::string>>{
                {"StopApplication /stack/web/front"},
                {"StopApplication /stack/web/api"},
                {"StopApplication /stack/db/pg", "StopApplication /stack/db/redis"}}));
  EXPECT_EQ(deleted->deleted_groups.size(), 3u);
  // What it stopped is kept for a rollback.
  EXPECT_FALSE(deleted->deployment.original_apps.at("/stack/db/pg").empty());
}

TEST(GroupPlan, UnchangedAppsAreLeftAloneAndAScaleIsAScale) {
  MasterState state = created_stack();

  GroupTarget scaled = current_subtree(state, "/stack");
  scaled.apps.at("/stack/db/pg").instances = 3;
  auto change = plan(state, scaled);
  ASSERT_TRUE(change.ok()) << change.error().message;
  EXPECT_EQ(step_apps(change->deployment),
            (std::vector<std::vector<std::string>>{{"ScaleApplication /stack/db/pg"}}));
  EXPECT_TRUE(change->groups.empty()) << "no group record changed";
}

TEST(GroupPlan, ACycleIsRefusedAndNamesItself) {
  MasterState state;
  GroupTarget target;
  target.group = "/c";
  add_to(parsed_group(R"({"id":"/c","apps":[
      {"id":"a","cmd":"sleep 1","dependencies":["b"]},
      {"id":"b","cmd":"sleep 1","dependencies":["a"]}]})"),
         &target);
  auto change = plan(state, target);
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(change.error().message.find("cyclic"), std::string::npos) << change.error().message;
}

TEST(GroupPlan, AnAppOutsideItsGroupIsRefused) {
  auto outcome = model::parse_group(
      nlohmann::json::parse(R"({"id":"/g","apps":[{"id":"/elsewhere/a","cmd":"sleep 1"}]})"), "/",
      kVersion);
  ASSERT_FALSE(outcome.group.has_value());
  ASSERT_EQ(outcome.errors.size(), 1u);
  EXPECT_EQ(outcome.errors[0].path, "/apps(0)/id");
  EXPECT_NE(outcome.errors[0].errors[0].find("is not child of /g"), std::string::npos);
}

TEST(GroupPlan, LaterStepsAreHeldUntilTheirTurn) {
  MasterState state;
  GroupTarget target;
  target.group = "/stack";
  add_to(parsed_group(kStack), &target);
  auto created = plan(state, target);
  ASSERT_TRUE(created.ok());
  for (const auto& app : created->apps) state.apps[app.id].app = app;
  state.deployments[created->deployment.id] = created->deployment;

  std::set<std::string> held = held_apps(state);
  EXPECT_EQ(held, (std::set<std::string>{"/stack/web/api", "/stack/web/front"}));
  AppDecisions decisions = decide_apps(state, 0);
  std::set<std::string> launched;
  for (const auto& [app, n] : decisions.launch) launched.insert(app);
  EXPECT_EQ(launched, (std::set<std::string>{"/stack/db/pg", "/stack/db/redis"}));
  // Nothing runs yet: the step is not done.
  EXPECT_TRUE(deployment_progress(state).empty());

  // The databases run (no health checks: running counts as healthy): the next step comes.
  for (const char* id : {"/stack/db/pg", "/stack/db/redis"}) {
    const model::App& app = state.apps.at(id).app;
    TaskRecord t;
    t.id = std::string(id) + ".t";
    t.app_id = id;
    t.state = protocol::TaskState::kRunning;
    t.config_version = app.version_info.last_config_change_at;
    t.healthy = true;
    state.tasks[t.id] = t;
  }
  auto progress = deployment_progress(state);
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].next_step, 1u);
  EXPECT_FALSE(progress[0].finished);
  state.deployments.begin()->second.current_step = 1;
  EXPECT_EQ(held_apps(state), (std::set<std::string>{"/stack/web/front"}));
}

TEST(GroupPlan, StoredDeploymentsReadBackWithTheirSteps) {
  DeploymentRecord d;
  d.id = "d1";
  d.version = kVersion;
  d.affected_apps = {"/a", "/b"};
  d.steps = {{{"StopApplication", "/a"}}, {{"StartApplication", "/b"}}};
  d.current_step = 1;
  d.original_apps = {{"/a", "{}"}, {"/b", ""}};
  auto back = parse_deployment(deployment_json(d));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->steps, d.steps);
  EXPECT_EQ(back->current_step, 1u);
  EXPECT_EQ(back->original_apps, d.original_apps);
  // A deployment stored before steps existed: one step.
  auto old = parse_deployment(
      R"({"id":"d0","version":"v","affectedApps":["/x"],"action":"ScaleApplication"})");
  ASSERT_TRUE(old.has_value());
  ASSERT_EQ(old->steps.size(), 1u);
  EXPECT_EQ(old->steps[0][0], (DeploymentAction{"ScaleApplication", "/x"}));
}

}  // namespace
}  // namespace berth::master
