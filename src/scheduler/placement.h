// Placement: the pure function that decides where new task instances run (docs/architecture.md §4).
// Called by the master's app controller once per reconcile pass and by bench/. It reads no
// clock, mints no ids and does no I/O; the same input always gives the same output.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::scheduler {

struct PortRange {
  uint32_t begin = 0;  // inclusive
  uint32_t end = 0;    // inclusive
};

// A Marathon constraint, already validated by model/: op is upper case and one of UNIQUE,
// CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS; field is "hostname" (or "@hostname") or an
// attribute name.
struct Constraint {
  std::string field;
  std::string op;
  std::optional<std::string> value;
};

// What a node has free right now (its capacity minus what its tasks use).
struct NodeView {
  std::string id;
  std::string hostname;
  std::map<std::string, std::string> attributes;
  double cpus_free = 0;
  double mem_free = 0;                // MiB
  double disk_free = 0;               // MiB
  std::vector<PortRange> free_ports;  // sorted, disjoint
  bool schedulable = true;            // false while draining or lost
};

// A task already running (or being launched) somewhere; constraints count these.
struct PlacedTask {
  std::string app_id;
  uint32_t node_index = 0;  // index into ClusterSnapshot::nodes
};

struct ClusterSnapshot {
  std::vector<NodeView> nodes;
  std::vector<PlacedTask> placed;
};

// `count` identical instances of one app to place.
struct PlacementRequest {
  std::string app_id;
  double cpus = 0;
  double mem = 0;
  double disk = 0;
  uint32_t dynamic_ports = 0;         // host ports picked from the node's free ranges
  std::vector<uint32_t> fixed_ports;  // host ports that must be free on the node
  std::vector<Constraint> constraints;
  uint32_t count = 1;
  // Nodes (ids) where the app's tasks keep failing: used only when no other node can take an
  // instance, so a node that cannot run the app does not take every relaunch.
  std::vector<std::string> avoid_nodes;
};

struct Assignment {
  uint32_t request_index = 0;
  uint32_t node_index = 0;
  std::vector<uint32_t> ports;  // fixed ports first, in order, then dynamic ones
};

// Why a node could not take an instance. Reasons use Marathon's names: InsufficientCpus,
// InsufficientMemory, InsufficientDisk, InsufficientPorts, UnfulfilledConstraint,
// NodeUnschedulable. `detail` says which constraint or how much was missing.
struct Rejection {
  std::string node_id;
  std::string reason;
  std::string detail;
};

struct RequestOutcome {
  uint32_t placed = 0;
  uint32_t unplaced = 0;
  // Filled only when unplaced > 0: one entry per node for the first instance that failed.
  std::vector<Rejection> rejections;
  std::map<std::string, uint32_t> reason_counts;  // reason -> number of nodes
};

struct PlacementResult {
  std::vector<Assignment> assignments;
  std::vector<RequestOutcome> outcomes;  // one per request, same order
};

// Places every request in order. Later requests see the resources taken by earlier ones.
//
// Each instance goes to the first node, from a cursor that rotates through the nodes for the
// whole call, that is schedulable, has the resources free and meets every constraint; so
// equal nodes fill evenly (5 instances on 3 nodes land 2/2/1). Constraints count the app's
// tasks in snapshot.placed plus those assigned earlier in this call, including by earlier
// requests for the same app. Field semantics follow Marathon:
// - a node that lacks the attribute fails every operator except UNLIKE; tasks on such nodes
//   count toward no value;
// - LIKE/UNLIKE fully match the attribute's text (ECMAScript syntax); IS and CLUSTER compare
//   text exactly; an empty CLUSTER value means no value;
// - GROUP_BY puts each instance on a value with the fewest tasks of the app among the values
//   that still have a node able to take it; with a count n it first fills n distinct values,
//   and leaves instances unplaced if fewer than n values can take one (Marathon waits for
//   offers from new values then).
// When an instance cannot be placed, its request's outcome gets one Rejection per node and
// its remaining instances are unplaced; later requests are still tried. Costs: about
// O(nodes + snapshot.placed) to set up, O(1) node checks per placement in the common case, and
// O(nodes) per request that leaves instances unplaced (the rejection list).
PlacementResult place(const ClusterSnapshot& snapshot,
                      const std::vector<PlacementRequest>& requests);

}  // namespace berth::scheduler
