#include "scheduler/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace berth::scheduler {
namespace {

// "n" + std::to_string(i) trips a GCC 12 -Wrestrict false positive; this does not.
std::string numbered(const char* prefix, size_t i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

NodeView make_node(const std::string& name, std::map<std::string, std::string> attributes = {}) {
  NodeView node;
  node.id = name;
  node.hostname = name + ".example";
  node.attributes = std::move(attributes);
  node.cpus_free = 4;
  node.mem_free = 4096;
  node.disk_free = 10000;
  node.free_ports = {{31000, 31099}};
  return node;
}

PlacementRequest make_request(const std::string& app, uint32_t count,
                              std::vector<Constraint> constraints = {}) {
  PlacementRequest request;
  request.app_id = app;
  request.cpus = 0.1;
  request.mem = 16;
  request.count = count;
  request.constraints = std::move(constraints);
  return request;
}

Constraint constraint(const std::string& field, const std::string& op) {
  return Constraint{field, op, std::nullopt};
}
Constraint constraint(const std::string& field, const std::string& op, const std::string& value) {
  return Constraint{field, op, value};
}

// Racks r1..rN with `per_rack` nodes each, named n0, n1, ... in rack order.
ClusterSnapshot racked_cluster(int racks, int per_rack) {
  ClusterSnapshot snapshot;
  for (int r = 1; r <= racks; ++r) {
    for (int i = 0; i < per_rack; ++i) {
      snapshot.nodes.push_back(
          make_node(numbered("n", snapshot.nodes.size()), {{"rack", numbered("r", r)}}));
    }
  }
  return snapshot;
}

std::vector<int> tasks_per_node(const PlacementResult& result, size_t nodes) {
  std::vector<int> counts(nodes, 0);
  for (const Assignment& a : result.assignments) ++counts[a.node_index];
  return counts;
}

std::map<std::string, int> tasks_per_attribute(const PlacementResult& result,
                                               const ClusterSnapshot& snapshot,
                                               const std::string& attribute) {
  std::map<std::string, int> counts;
  for (const Assignment& a : result.assignments)
    ++counts[snapshot.nodes[a.node_index].attributes.at(attribute)];
  return counts;
}

const Rejection& rejection_for(const RequestOutcome& outcome, const std::string& node_id) {
  auto it = std::find_if(outcome.rejections.begin(), outcome.rejections.end(),
                         [&](const Rejection& r) { return r.node_id == node_id; });
  EXPECT_NE(it, outcome.rejections.end()) << "no rejection for " << node_id;
  return *it;
}

// ---- resources ----

TEST(Placement, PlacesEveryInstanceWhenThereIsRoom) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b")}, {}};
  PlacementResult result = place(snapshot, {make_request("/web", 4)});
  ASSERT_EQ(result.outcomes.size(), 1u);
  EXPECT_EQ(result.outcomes[0].placed, 4u);
  EXPECT_EQ(result.outcomes[0].unplaced, 0u);
  EXPECT_TRUE(result.outcomes[0].rejections.empty());
  EXPECT_EQ(result.assignments.size(), 4u);
  for (const Assignment& a : result.assignments) EXPECT_EQ(a.request_index, 0u);
}

TEST(Placement, AvoidedNodesTakeInstancesOnlyWhenNoOtherNodeCan) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b"), make_node("c")}, {}};
  snapshot.nodes[1].cpus_free = 2;
  PlacementRequest request = make_request("/web", 4);
  request.cpus = 1;
  request.avoid_nodes = {"a", "c"};
  PlacementResult result = place(snapshot, {request});
  EXPECT_EQ(result.outcomes[0].placed, 4u);
  // b takes what it has room for (2 cpus, 1 each); only then do the avoided nodes take the rest.
  std::vector<int> counts = tasks_per_node(result, 3);
  EXPECT_EQ(counts[1], 2);
  EXPECT_EQ(counts[0] + counts[2], 2);
  // Avoiding every node still places the app.
  request.avoid_nodes = {"a", "b", "c"};
  EXPECT_EQ(place(snapshot, {request}).outcomes[0].placed, 4u);
}

TEST(Placement, SpreadsInstancesAcrossEqualNodes) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b"), make_node("c")}, {}};
  PlacementResult result = place(snapshot, {make_request("/web", 5)});
  std::vector<int> counts = tasks_per_node(result, 3);
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<int>{1, 2, 2}));
}

TEST(Placement, RejectsNodesWithTooFewCpus) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  snapshot.nodes[0].cpus_free = 0.5;
  PlacementRequest request = make_request("/web", 1);
  request.cpus = 2;
  PlacementResult result = place(snapshot, {request});
  const RequestOutcome& outcome = result.outcomes[0];
  EXPECT_EQ(outcome.unplaced, 1u);
  ASSERT_EQ(outcome.rejections.size(), 1u);
  EXPECT_EQ(outcome.rejections[0].node_id, "a");
  EXPECT_EQ(outcome.rejections[0].reason, "InsufficientCpus");
  EXPECT_EQ(outcome.rejections[0].detail, "needs 2 cpus, 0.5 free");
}

TEST(Placement, RejectsNodesWithTooLittleMemory) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  PlacementRequest request = make_request("/web", 1);
  request.mem = 8192;
  PlacementResult result = place(snapshot, {request});
  ASSERT_EQ(result.outcomes[0].rejections.size(), 1u);
  EXPECT_EQ(result.outcomes[0].rejections[0].reason, "InsufficientMemory");
  EXPECT_EQ(result.outcomes[0].rejections[0].detail, "needs 8192 MiB memory, 4096 free");
}

TEST(Placement, RejectsNodesWithTooLittleDisk) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  PlacementRequest request = make_request("/web", 1);
  request.disk = 20000.5;
  PlacementResult result = place(snapshot, {request});
  ASSERT_EQ(result.outcomes[0].rejections.size(), 1u);
  EXPECT_EQ(result.outcomes[0].rejections[0].reason, "InsufficientDisk");
  EXPECT_EQ(result.outcomes[0].rejections[0].detail, "needs 20000.5 MiB disk, 10000 free");
}

TEST(Placement, SkipsNodesThatAreTooSmallAndUsesTheOthers) {
  ClusterSnapshot snapshot{{make_node("small"), make_node("big")}, {}};
  snapshot.nodes[0].cpus_free = 0.5;
  PlacementRequest request = make_request("/web", 3);
  request.cpus = 1;
  PlacementResult result = place(snapshot, {request});
  EXPECT_EQ(result.outcomes[0].placed, 3u);
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 3}));
}

TEST(Placement, CountsResourcesTakenByEarlierInstancesOfTheSameRequest) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  snapshot.nodes[0].cpus_free = 1;
  PlacementRequest request = make_request("/web", 3);
  request.cpus = 0.4;
  PlacementResult result = place(snapshot, {request});
  EXPECT_EQ(result.outcomes[0].placed, 2u);
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  ASSERT_EQ(result.outcomes[0].rejections.size(), 1u);
  EXPECT_EQ(result.outcomes[0].rejections[0].detail, "needs 0.4 cpus, 0.2 free");
}

TEST(Placement, CountsResourcesTakenByEarlierRequests) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b")}, {}};
  PlacementRequest first = make_request("/db", 2);
  first.mem = 3000;
  PlacementRequest second = make_request("/cache", 1);
  second.mem = 2000;
  PlacementResult result = place(snapshot, {first, second});
  EXPECT_EQ(result.outcomes[0].placed, 2u);
  EXPECT_EQ(result.outcomes[1].placed, 0u);
  EXPECT_EQ(result.outcomes[1].unplaced, 1u);
  EXPECT_EQ(result.outcomes[1].reason_counts.at("InsufficientMemory"), 2u);
}

TEST(Placement, FitsResourcesThatAddUpExactly) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  snapshot.nodes[0].cpus_free = 0.3;
  PlacementRequest request = make_request("/web", 3);
  request.cpus = 0.1;
  EXPECT_EQ(place(snapshot, {request}).outcomes[0].placed, 3u);
}

TEST(Placement, SkipsUnschedulableNodesAndSaysWhy) {
  ClusterSnapshot snapshot{{make_node("draining"), make_node("ok")}, {}};
  snapshot.nodes[0].schedulable = false;
  PlacementResult result = place(snapshot, {make_request("/web", 2)});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 2}));

  snapshot.nodes[1].schedulable = false;
  result = place(snapshot, {make_request("/web", 1)});
  EXPECT_EQ(result.outcomes[0].reason_counts.at("NodeUnschedulable"), 2u);
}

// ---- ports ----

TEST(Placement, AssignsTheLowestFreeDynamicPorts) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  snapshot.nodes[0].free_ports = {{31000, 31001}, {31005, 31010}};
  PlacementRequest request = make_request("/web", 2);
  request.dynamic_ports = 3;
  PlacementResult result = place(snapshot, {request});
  ASSERT_EQ(result.assignments.size(), 2u);
  EXPECT_EQ(result.assignments[0].ports, (std::vector<uint32_t>{31000, 31001, 31005}));
  EXPECT_EQ(result.assignments[1].ports, (std::vector<uint32_t>{31006, 31007, 31008}));
}

TEST(Placement, ListsFixedPortsBeforeDynamicOnes) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  PlacementRequest request = make_request("/web", 1);
  request.fixed_ports = {31001};
  request.dynamic_ports = 2;
  PlacementResult result = place(snapshot, {request});
  ASSERT_EQ(result.assignments.size(), 1u);
  EXPECT_EQ(result.assignments[0].ports, (std::vector<uint32_t>{31001, 31000, 31002}));
}

TEST(Placement, SkipsNodesWhereAFixedPortIsTaken) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b")}, {}};
  snapshot.nodes[0].free_ports = {{31000, 31049}, {31051, 31099}};
  PlacementRequest request = make_request("/web", 2);
  request.fixed_ports = {31050};
  PlacementResult result = place(snapshot, {request});
  EXPECT_EQ(result.outcomes[0].placed, 1u);
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 1}));
  const RequestOutcome& outcome = result.outcomes[0];
  EXPECT_EQ(outcome.reason_counts.at("InsufficientPorts"), 2u);
  EXPECT_EQ(rejection_for(outcome, "a").detail, "port 31050 is not free");
  EXPECT_EQ(rejection_for(outcome, "b").detail, "port 31050 is not free");
}

TEST(Placement, SkipsNodesWithoutFreePorts) {
  ClusterSnapshot snapshot{{make_node("none"), make_node("two")}, {}};
  snapshot.nodes[0].free_ports = {};
  snapshot.nodes[1].free_ports = {{31000, 31001}};
  PlacementRequest request = make_request("/web", 3);
  request.dynamic_ports = 1;
  PlacementResult result = place(snapshot, {request});
  EXPECT_EQ(result.outcomes[0].placed, 2u);
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 2}));
  EXPECT_EQ(rejection_for(result.outcomes[0], "two").detail, "needs 1 port, 0 free");
}

TEST(Placement, NeverHandsOutAPortTwice) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  snapshot.nodes[0].free_ports = {{31000, 31009}};
  PlacementRequest fixed = make_request("/fixed", 1);
  fixed.fixed_ports = {31000, 31005};
  PlacementRequest dynamic = make_request("/dynamic", 4);
  dynamic.dynamic_ports = 2;
  PlacementResult result = place(snapshot, {fixed, dynamic});
  EXPECT_EQ(result.outcomes[1].placed, 4u);
  std::set<uint32_t> seen;
  for (const Assignment& a : result.assignments) {
    for (uint32_t port : a.ports) EXPECT_TRUE(seen.insert(port).second) << port;
  }
  EXPECT_EQ(seen.size(), 10u);
}

// ---- UNIQUE ----

TEST(Placement, HostnameUniquePutsAtMostOneTaskOnEachHost) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b"), make_node("c")}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 4, {constraint("hostname", "UNIQUE")})});
  const RequestOutcome& outcome = result.outcomes[0];
  EXPECT_EQ(outcome.placed, 3u);
  EXPECT_EQ(outcome.unplaced, 1u);
  EXPECT_EQ(tasks_per_node(result, 3), (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(outcome.reason_counts.at("UnfulfilledConstraint"), 3u);
  EXPECT_EQ(rejection_for(outcome, "b").detail,
            "hostname:UNIQUE: hostname b.example already runs a task of this app");
}

TEST(Placement, UniqueCountsTasksAlreadyRunning) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b"), make_node("c")},
                           {{"/web", 1}, {"/other", 0}}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("@hostname", "UNIQUE")})});
  EXPECT_EQ(result.outcomes[0].placed, 2u);
  EXPECT_EQ(tasks_per_node(result, 3), (std::vector<int>{1, 0, 1}));
}

TEST(Placement, UniqueOnAnAttributePutsOneTaskPerValue) {
  ClusterSnapshot snapshot = racked_cluster(3, 4);
  PlacementResult result =
      place(snapshot, {make_request("/web", 4, {constraint("rack", "UNIQUE")})});
  EXPECT_EQ(result.outcomes[0].placed, 3u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r1", 1}, {"r2", 1}, {"r3", 1}}));
}

TEST(Placement, UniqueRejectsNodesWithoutTheAttribute) {
  ClusterSnapshot snapshot{{make_node("bare")}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 1, {constraint("rack", "UNIQUE")})});
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  EXPECT_EQ(result.outcomes[0].rejections[0].detail, "rack:UNIQUE: node has no attribute rack");
}

TEST(Placement, CountsTasksPlacedByAnEarlierRequestForTheSameApp) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b")}, {}};
  std::vector<PlacementRequest> requests = {
      make_request("/web", 1, {constraint("hostname", "UNIQUE")}),
      make_request("/web", 2, {constraint("hostname", "UNIQUE")})};
  PlacementResult result = place(snapshot, requests);
  EXPECT_EQ(result.outcomes[0].placed, 1u);
  EXPECT_EQ(result.outcomes[1].placed, 1u);
  EXPECT_EQ(result.outcomes[1].unplaced, 1u);
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{1, 1}));
}

// ---- CLUSTER ----

TEST(Placement, ClusterWithAValueUsesOnlyNodesWithThatValue) {
  ClusterSnapshot snapshot = racked_cluster(3, 2);
  PlacementResult result =
      place(snapshot, {make_request("/web", 5, {constraint("rack", "CLUSTER", "r2")})});
  EXPECT_EQ(result.outcomes[0].placed, 5u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"), (std::map<std::string, int>{{"r2", 5}}));
}

TEST(Placement, ClusterWithAnUnknownValueRejectsEveryNode) {
  ClusterSnapshot snapshot = racked_cluster(2, 1);
  snapshot.nodes.push_back(make_node("bare"));
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("rack", "CLUSTER", "r9")})});
  const RequestOutcome& outcome = result.outcomes[0];
  EXPECT_EQ(outcome.unplaced, 2u);
  EXPECT_EQ(outcome.rejections.size(), 3u);
  EXPECT_EQ(rejection_for(outcome, "n0").detail, "rack:CLUSTER:r9: rack is r1");
  EXPECT_EQ(rejection_for(outcome, "bare").detail, "rack:CLUSTER:r9: node has no attribute rack");
}

TEST(Placement, ClusterWithoutAValueKeepsEveryTaskOnTheFirstValueChosen) {
  ClusterSnapshot snapshot = racked_cluster(3, 2);
  PlacementResult result =
      place(snapshot, {make_request("/web", 4, {constraint("rack", "CLUSTER")})});
  EXPECT_EQ(result.outcomes[0].placed, 4u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack").size(), 1u);
}

TEST(Placement, ClusterWithoutAValueFollowsTasksAlreadyRunning) {
  ClusterSnapshot snapshot = racked_cluster(3, 2);
  snapshot.placed = {{"/web", 5}};  // n5 is in r3
  PlacementResult result =
      place(snapshot, {make_request("/web", 3, {constraint("rack", "CLUSTER", "")})});
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"), (std::map<std::string, int>{{"r3", 3}}));

  snapshot.nodes[4].cpus_free = 0;
  snapshot.nodes[5].cpus_free = 0;
  result = place(snapshot, {make_request("/web", 1, {constraint("rack", "CLUSTER")})});
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  EXPECT_EQ(rejection_for(result.outcomes[0], "n0").detail,
            "rack:CLUSTER: tasks of this app run on rack r3, this node's is r1");
}

// ---- GROUP_BY ----

TEST(Placement, GroupBySpreadsTasksEvenlyAcrossValues) {
  ClusterSnapshot snapshot;
  for (const char* rack : {"r1", "r1", "r1", "r2", "r3", "r3"}) {
    snapshot.nodes.push_back(make_node(numbered("n", snapshot.nodes.size()), {{"rack", rack}}));
  }
  PlacementResult result =
      place(snapshot, {make_request("/web", 6, {constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r1", 2}, {"r2", 2}, {"r3", 2}}));
}

TEST(Placement, GroupByFillsTheValuesWithFewestExistingTasksFirst) {
  ClusterSnapshot snapshot = racked_cluster(3, 2);
  snapshot.placed = {{"/web", 0}, {"/web", 1}};  // two tasks in r1
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r2", 1}, {"r3", 1}}));
}

TEST(Placement, GroupBySkipsValuesThatCannotTakeTheTask) {
  ClusterSnapshot snapshot = racked_cluster(3, 2);
  snapshot.nodes[0].cpus_free = 0;  // r1 is full
  snapshot.nodes[1].cpus_free = 0.05;
  PlacementResult result =
      place(snapshot, {make_request("/web", 4, {constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(result.outcomes[0].placed, 4u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r2", 2}, {"r3", 2}}));
}

TEST(Placement, GroupByKeepsSpreadingWhenAValueFillsUpMidway) {
  ClusterSnapshot snapshot = racked_cluster(3, 1);
  snapshot.nodes[0].cpus_free = 0.2;  // r1 takes two tasks
  PlacementResult result =
      place(snapshot, {make_request("/web", 8, {constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(result.outcomes[0].placed, 8u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r1", 2}, {"r2", 3}, {"r3", 3}}));
}

TEST(Placement, GroupBySpreadsOverTheValuesOtherConstraintsAllow) {
  ClusterSnapshot snapshot;
  for (int i = 0; i < 12; ++i) {
    int rack = i % 6;
    snapshot.nodes.push_back(make_node(
        numbered("n", i), {{"rack", numbered("r", rack)}, {"zone", rack < 3 ? "z1" : "z2"}}));
  }
  // Racks r0..r2 are in z1, whose nodes may not be used; they must not hold back r3..r5.
  PlacementResult result =
      place(snapshot,
            {make_request("/web", 12,
                          {constraint("zone", "CLUSTER", "z2"), constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(result.outcomes[0].placed, 12u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r3", 4}, {"r4", 4}, {"r5", 4}}));
}

TEST(Placement, GroupByWithAnExpectedCountFillsThatManyValuesFirst) {
  ClusterSnapshot snapshot = racked_cluster(2, 2);
  PlacementResult result =
      place(snapshot, {make_request("/web", 3, {constraint("rack", "GROUP_BY", "3")})});
  EXPECT_EQ(result.outcomes[0].placed, 2u);
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  EXPECT_EQ(rejection_for(result.outcomes[0], "n0").detail,
            "rack:GROUP_BY:3: rack r1 already runs a task of this app and only 2 of 3 expected "
            "values are in use");

  result = place(snapshot, {make_request("/web", 4, {constraint("rack", "GROUP_BY", "2")})});
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r1", 2}, {"r2", 2}}));
}

TEST(Placement, GroupByOnHostnameEvensOutTasksPerNode) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b"), make_node("c")},
                           {{"/web", 0}, {"/web", 0}, {"/web", 1}}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 3, {constraint("hostname", "GROUP_BY")})});
  EXPECT_EQ(tasks_per_node(result, 3), (std::vector<int>{0, 1, 2}));
}

TEST(Placement, GroupByRejectsNodesWithoutTheAttribute) {
  ClusterSnapshot snapshot{{make_node("bare"), make_node("racked", {{"rack", "r1"}})}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 3, {constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 3}));

  snapshot.nodes[1].cpus_free = 0;
  result = place(snapshot, {make_request("/web", 1, {constraint("rack", "GROUP_BY")})});
  EXPECT_EQ(rejection_for(result.outcomes[0], "bare").detail,
            "rack:GROUP_BY: node has no attribute rack");
  EXPECT_EQ(rejection_for(result.outcomes[0], "racked").reason, "InsufficientCpus");
}

// ---- LIKE / UNLIKE ----

TEST(Placement, LikeMatchesTheWholeValue) {
  ClusterSnapshot snapshot{
      {make_node("a", {{"zone", "us-east-1"}}), make_node("b", {{"zone", "eu-west-1"}})}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("zone", "LIKE", "us-east-.*")})});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{2, 0}));

  result = place(snapshot, {make_request("/web", 1, {constraint("zone", "LIKE", "us-east")})});
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  EXPECT_EQ(rejection_for(result.outcomes[0], "a").detail, "zone:LIKE:us-east: zone is us-east-1");
}

TEST(Placement, LikeRejectsNodesWithoutTheAttribute) {
  ClusterSnapshot snapshot{{make_node("bare")}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 1, {constraint("zone", "LIKE", ".*")})});
  EXPECT_EQ(result.outcomes[0].unplaced, 1u);
  EXPECT_EQ(result.outcomes[0].rejections[0].detail, "zone:LIKE:.*: node has no attribute zone");
}

TEST(Placement, LikeOnHostnameMatchesTheHostname) {
  ClusterSnapshot snapshot{{make_node("web1"), make_node("db1"), make_node("web2")}, {}};
  PlacementResult result = place(
      snapshot, {make_request("/web", 4, {constraint("hostname", "LIKE", "web[0-9]+\\.example")})});
  EXPECT_EQ(tasks_per_node(result, 3), (std::vector<int>{2, 0, 2}));
}

// A pattern that makes a backtracking engine run for ever ("(((.*)*)*)*x" on 30 characters
// without an x) must answer, and correctly, on both operators.
TEST(Placement, BacktrackingPatternsAnswerOnLongHostnames) {
  NodeView plain = make_node("a");
  plain.hostname = std::string(30, 'a');
  NodeView ending = make_node("b");
  ending.hostname = std::string(29, 'a') + "x";
  ClusterSnapshot snapshot{{plain, ending}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("hostname", "LIKE", "(((.*)*)*)*x")})});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 2}));
  result = place(snapshot,
                 {make_request("/web", 2, {constraint("hostname", "UNLIKE", "(((.*)*)*)*x")})});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{2, 0}));
}

TEST(Placement, UnlikeExcludesMatchingValues) {
  ClusterSnapshot snapshot{
      {make_node("a", {{"zone", "us-east-1"}}), make_node("b", {{"zone", "eu-west-1"}})}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("zone", "UNLIKE", "us-.*")})});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{0, 2}));

  snapshot.nodes[1].cpus_free = 0;
  result = place(snapshot, {make_request("/web", 1, {constraint("zone", "UNLIKE", "us-.*")})});
  EXPECT_EQ(rejection_for(result.outcomes[0], "a").detail,
            "zone:UNLIKE:us-.*: zone is us-east-1, which matches");
}

TEST(Placement, UnlikeAcceptsNodesWithoutTheAttribute) {
  ClusterSnapshot snapshot{{make_node("bare"), make_node("b", {{"zone", "us-east-1"}})}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("zone", "UNLIKE", "us-.*")})});
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{2, 0}));
}

// ---- MAX_PER / IS ----

TEST(Placement, MaxPerCapsTasksOnEachValue) {
  ClusterSnapshot snapshot = racked_cluster(2, 3);
  snapshot.placed = {{"/web", 0}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 4, {constraint("rack", "MAX_PER", "2")})});
  const RequestOutcome& outcome = result.outcomes[0];
  EXPECT_EQ(outcome.placed, 3u);
  EXPECT_EQ(outcome.unplaced, 1u);
  EXPECT_EQ(tasks_per_attribute(result, snapshot, "rack"),
            (std::map<std::string, int>{{"r1", 1}, {"r2", 2}}));
  EXPECT_EQ(outcome.reason_counts.at("UnfulfilledConstraint"), 6u);
  EXPECT_EQ(rejection_for(outcome, "n4").detail,
            "rack:MAX_PER:2: rack r2 already runs 2 tasks of this app");
}

TEST(Placement, MaxPerOnHostnameCapsTasksOnEachNode) {
  ClusterSnapshot snapshot{{make_node("a"), make_node("b")}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 5, {constraint("hostname", "MAX_PER", "2")})});
  EXPECT_EQ(result.outcomes[0].placed, 4u);
  EXPECT_EQ(tasks_per_node(result, 2), (std::vector<int>{2, 2}));
}

TEST(Placement, MaxPerRejectsNodesWithoutTheAttribute) {
  ClusterSnapshot snapshot{{make_node("bare")}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 1, {constraint("rack", "MAX_PER", "1")})});
  EXPECT_EQ(result.outcomes[0].rejections[0].detail, "rack:MAX_PER:1: node has no attribute rack");
}

TEST(Placement, IsRequiresAnExactMatch) {
  ClusterSnapshot snapshot{
      {make_node("a", {{"rack", "r10"}}), make_node("b", {{"rack", "r1"}}), make_node("bare")}, {}};
  PlacementResult result =
      place(snapshot, {make_request("/web", 2, {constraint("rack", "IS", "r1")})});
  EXPECT_EQ(tasks_per_node(result, 3), (std::vector<int>{0, 2, 0}));

  snapshot.nodes[1].cpus_free = 0;
  result = place(snapshot, {make_request("/web", 1, {constraint("rack", "IS", "r1")})});
  EXPECT_EQ(rejection_for(result.outcomes[0], "a").detail, "rack:IS:r1: rack is r10");
  EXPECT_EQ(rejection_for(result.outcomes[0], "b").reason, "InsufficientCpus");
  EXPECT_EQ(rejection_for(result.outcomes[0], "bare").detail,
            "rack:IS:r1: node has no attribute rack");
}

TEST(Placement, RejectsEveryNodeForAMalformedConstraint) {
  ClusterSnapshot snapshot{{make_node("a", {{"rack", "r1"}})}, {}};
  std::vector<PlacementRequest> requests = {
      make_request("/a", 1, {constraint("rack", "MAX_PER", "two")}),
      make_request("/b", 1, {constraint("rack", "LIKE", "(")}),
      make_request("/c", 1, {constraint("rack", "NEAR")})};
  PlacementResult result = place(snapshot, requests);
  for (const RequestOutcome& outcome : result.outcomes) {
    EXPECT_EQ(outcome.unplaced, 1u);
    EXPECT_EQ(outcome.reason_counts.at("UnfulfilledConstraint"), 1u);
  }
  EXPECT_EQ(result.outcomes[0].rejections[0].detail,
            "rack:MAX_PER:two: MAX_PER requires an integer value");
  EXPECT_EQ(result.outcomes[1].rejections[0].detail,
            "rack:LIKE:(: '(' is not a valid regular expression: missing ): (");
}

// ---- outcomes ----

TEST(Placement, StopsAtTheFirstInstanceThatDoesNotFitAndReportsEveryNode) {
  ClusterSnapshot snapshot{{make_node("draining"), make_node("small"), make_node("tiny-mem"),
                            make_node("r1", {{"rack", "r1"}})},
                           {}};
  snapshot.nodes[0].schedulable = false;
  snapshot.nodes[1].cpus_free = 0;
  snapshot.nodes[2].mem_free = 8;
  snapshot.nodes[3].cpus_free = 0.25;
  PlacementResult result =
      place(snapshot, {make_request("/web", 5, {constraint("rack", "UNLIKE", "r2")})});
  const RequestOutcome& outcome = result.outcomes[0];
  EXPECT_EQ(outcome.placed, 2u);
  EXPECT_EQ(outcome.unplaced, 3u);
  EXPECT_EQ(result.assignments.size(), 2u);
  ASSERT_EQ(outcome.rejections.size(), 4u);
  EXPECT_EQ(outcome.reason_counts,
            (std::map<std::string, uint32_t>{
                {"InsufficientCpus", 2}, {"InsufficientMemory", 1}, {"NodeUnschedulable", 1}}));
  EXPECT_EQ(rejection_for(outcome, "r1").detail, "needs 0.1 cpus, 0.05 free");
}

TEST(Placement, ReportsNothingForRequestsThatWereFullyPlacedOrEmpty) {
  ClusterSnapshot snapshot{{make_node("a")}, {}};
  PlacementResult result = place(snapshot, {make_request("/a", 0), make_request("/b", 1)});
  ASSERT_EQ(result.outcomes.size(), 2u);
  EXPECT_EQ(result.outcomes[0].placed + result.outcomes[0].unplaced, 0u);
  EXPECT_EQ(result.outcomes[1].placed, 1u);
  EXPECT_TRUE(result.outcomes[1].rejections.empty());
  EXPECT_TRUE(result.outcomes[1].reason_counts.empty());
  EXPECT_EQ(result.assignments[0].request_index, 1u);
}

// ---- determinism and invariants over random clusters ----

struct Scenario {
  ClusterSnapshot snapshot;
  std::vector<PlacementRequest> requests;
};

Scenario random_scenario(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  Scenario s;
  int nodes = 5 + pick(40);
  for (int i = 0; i < nodes; ++i) {
    std::map<std::string, std::string> attributes;
    if (pick(5) != 0) attributes["rack"] = numbered("r", pick(6));
    if (pick(4) != 0)
      attributes["zone"] = pick(2) ? numbered("us-", pick(3)) : numbered("eu-", pick(3));
    NodeView node = make_node(numbered("n", i), attributes);
    node.cpus_free = pick(9) * 0.5;
    node.mem_free = 256.0 * pick(9);
    uint32_t begin = 31000 + static_cast<uint32_t>(pick(5));
    node.free_ports = {{begin, begin + static_cast<uint32_t>(pick(6))},
                       {31010, 31010 + static_cast<uint32_t>(pick(4))}};
    node.schedulable = pick(10) != 0;
    s.snapshot.nodes.push_back(node);
  }
  const std::vector<std::vector<Constraint>> mixes = {
      {},
      {constraint("hostname", "UNIQUE")},
      {constraint("rack", "GROUP_BY")},
      {constraint("rack", "GROUP_BY", "3"), constraint("zone", "LIKE", "us-.*")},
      {constraint("zone", "UNLIKE", "eu-.*"), constraint("rack", "MAX_PER", "2")},
      {constraint("rack", "CLUSTER")},
      {constraint("zone", "CLUSTER", "us-1"), constraint("hostname", "MAX_PER", "2")},
      {constraint("rack", "IS", "r2"), constraint("zone", "GROUP_BY")},
      {constraint("rack", "UNIQUE")},
  };
  int apps = 1 + pick(8);
  for (int i = 0; i < 2 * apps; ++i) {
    int app = pick(apps);
    PlacementRequest r = make_request(numbered("/app", app), static_cast<uint32_t>(pick(12)),
                                      mixes[app % mixes.size()]);
    r.cpus = 0.25 * (1 + pick(3));
    r.mem = 64.0 * pick(4);
    r.dynamic_ports = static_cast<uint32_t>(pick(3));
    if (pick(6) == 0) r.fixed_ports = {31010};
    s.requests.push_back(r);
  }
  for (int i = 0; i < pick(20); ++i) {
    s.snapshot.placed.push_back({numbered("/app", pick(apps)), static_cast<uint32_t>(pick(nodes))});
  }
  return s;
}

TEST(Placement, GivesTheSameAnswerForTheSameInput) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(numbered("seed ", seed));
    Scenario s = random_scenario(seed);
    PlacementResult a = place(s.snapshot, s.requests);
    PlacementResult b = place(s.snapshot, s.requests);
    ASSERT_EQ(a.assignments.size(), b.assignments.size());
    for (size_t i = 0; i < a.assignments.size(); ++i) {
      EXPECT_EQ(a.assignments[i].node_index, b.assignments[i].node_index);
      EXPECT_EQ(a.assignments[i].ports, b.assignments[i].ports);
    }
    for (size_t r = 0; r < a.outcomes.size(); ++r) {
      EXPECT_EQ(a.outcomes[r].placed, b.outcomes[r].placed);
      EXPECT_EQ(a.outcomes[r].reason_counts, b.outcomes[r].reason_counts);
    }
  }
}

TEST(Placement, NeverOvercommitsAndHonoursConstraintsOnRandomClusters) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(numbered("seed ", seed));
    Scenario s = random_scenario(seed);
    PlacementResult result = place(s.snapshot, s.requests);
    const auto& nodes = s.snapshot.nodes;
    std::vector<double> cpus(nodes.size(), 0), mem(nodes.size(), 0);
    std::vector<std::set<uint32_t>> ports(nodes.size());
    std::map<std::pair<std::string, uint32_t>, int> per_host;  // (app, node) -> tasks
    for (const PlacedTask& t : s.snapshot.placed) ++per_host[{t.app_id, t.node_index}];
    for (const Assignment& a : result.assignments) {
      const PlacementRequest& r = s.requests[a.request_index];
      const NodeView& node = nodes[a.node_index];
      ASSERT_TRUE(node.schedulable);
      cpus[a.node_index] += r.cpus;
      mem[a.node_index] += r.mem;
      ASSERT_EQ(a.ports.size(), r.fixed_ports.size() + r.dynamic_ports);
      for (uint32_t p : a.ports) {
        ASSERT_TRUE(ports[a.node_index].insert(p).second) << "port " << p << " given twice";
        bool in_range =
            std::any_of(node.free_ports.begin(), node.free_ports.end(),
                        [&](const PortRange& pr) { return p >= pr.begin && p <= pr.end; });
        ASSERT_TRUE(in_range) << p;
      }
      int on_host = ++per_host[{r.app_id, a.node_index}];
      for (const Constraint& c : r.constraints) {
        bool hostname = c.field == "hostname";
        if (hostname && c.op == "UNIQUE") {
          EXPECT_LE(on_host, 1);
        }
        if (hostname && c.op == "MAX_PER") {
          EXPECT_LE(on_host, 2);
        }
        if (!hostname) {
          ASSERT_TRUE(node.attributes.count(c.field) || c.op == "UNLIKE") << c.field << " " << c.op;
        }
        if (c.op == "IS" || (c.op == "CLUSTER" && c.value)) {
          EXPECT_EQ(node.attributes.at(c.field), *c.value);
        }
        if (c.op == "LIKE") {
          EXPECT_EQ(node.attributes.at(c.field).substr(0, 3), "us-");
        }
        if (c.op == "UNLIKE" && node.attributes.count(c.field)) {
          EXPECT_NE(node.attributes.at(c.field).substr(0, 3), "eu-");
        }
      }
    }
    for (size_t n = 0; n < nodes.size(); ++n) {
      EXPECT_LE(cpus[n], nodes[n].cpus_free + 1e-6);
      EXPECT_LE(mem[n], nodes[n].mem_free + 1e-6);
    }
    for (size_t r = 0; r < s.requests.size(); ++r) {
      const RequestOutcome& outcome = result.outcomes[r];
      EXPECT_EQ(outcome.placed + outcome.unplaced, s.requests[r].count);
      if (outcome.unplaced == 0) continue;
      EXPECT_EQ(outcome.rejections.size(), nodes.size());
      uint32_t counted = 0;
      for (const auto& [reason, n] : outcome.reason_counts) counted += n;
      EXPECT_EQ(counted, nodes.size());
    }
  }
}

}  // namespace
}  // namespace berth::scheduler
