// berth-bench-placement: how fast scheduler::place() puts 100,000 tasks of ~1,000 apps onto
// 10,000 nodes with a realistic mix of constraints (none, hostname UNIQUE, rack GROUP_BY,
// zone LIKE, rack MAX_PER, zone CLUSTER). Only the place() calls are timed.
//
//   berth-bench-placement [runs]
//
// Prints placements/s for one call placing everything, then for 100 successive calls of
// 1,000 tasks each (a master's reconcile passes, where each call also pays for indexing the
// snapshot). Exits non-zero if clearly fewer tasks were placed than the cluster has room for.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "scheduler/placement.h"

namespace berth::scheduler {
namespace {

constexpr int kNodes = 10000;
constexpr int kRacks = 100;
constexpr int kApps = 1000;
constexpr uint32_t kInstancesPerApp = 100;
constexpr uint64_t kTasks = uint64_t{kApps} * kInstancesPerApp;
const char* const kZones[] = {"us-east-1a", "us-east-1b", "us-west-2a", "eu-west-1a", "eu-west-1b"};

std::string numbered(const char* prefix, int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%05d", prefix, i);
  return buf;
}

// Racks are contiguous in node order, as they would be with hostnames sorted by rack, which
// is the harder case for a search that walks nodes in order.
ClusterSnapshot make_cluster() {
  ClusterSnapshot snapshot;
  snapshot.nodes.reserve(kNodes);
  const double cpus[] = {16, 32, 48, 64};
  for (int i = 0; i < kNodes; ++i) {
    NodeView node;
    node.id = numbered("agent-", i);
    node.hostname = numbered("node-", i) + ".dc.example";
    int rack = i / (kNodes / kRacks);
    node.attributes["rack"] = numbered("rack-", rack);
    node.attributes["zone"] = kZones[rack % 5];
    node.cpus_free = cpus[i % 4];
    node.mem_free = node.cpus_free * 4096;
    node.disk_free = 500000;
    node.free_ports = {{31000, 32000}};
    node.schedulable = i % 100 != 99;  // 1% draining
    snapshot.nodes.push_back(std::move(node));
  }
  return snapshot;
}

std::vector<PlacementRequest> make_requests() {
  std::mt19937 rng(42);
  auto pick = [&](uint32_t n) { return rng() % n; };
  std::vector<PlacementRequest> requests;
  requests.reserve(kApps);
  for (int app = 0; app < kApps; ++app) {
    PlacementRequest r;
    r.app_id = numbered("/team/app-", app);
    r.cpus = 0.1 * (1 + pick(15));
    r.mem = 128.0 * (1 + pick(24));
    r.disk = 64.0 * pick(4);
    r.dynamic_ports = pick(4);
    r.count = kInstancesPerApp;
    switch (app % 6) {
      case 0:
        break;
      case 1:
        r.constraints = {{"hostname", "UNIQUE", std::nullopt}};
        r.fixed_ports = {31900 + static_cast<uint32_t>(app % 100)};
        break;
      case 2:
        r.constraints = {{"rack", "GROUP_BY", std::nullopt}};
        break;
      case 3:
        r.constraints = {{"zone", "LIKE", "us-.*"}};
        break;
      case 4:
        r.constraints = {{"rack", "MAX_PER", "2"}};
        break;
      case 5:
        r.constraints = {{"zone", "CLUSTER", std::string(kZones[app % 5])}};
        break;
    }
    requests.push_back(std::move(r));
  }
  return requests;
}

// Applies a result to the snapshot, as the master would before its next pass.
void apply(ClusterSnapshot& snapshot, const std::vector<PlacementRequest>& requests,
           const PlacementResult& result) {
  for (const Assignment& a : result.assignments) {
    const PlacementRequest& r = requests[a.request_index];
    NodeView& node = snapshot.nodes[a.node_index];
    node.cpus_free -= r.cpus;
    node.mem_free -= r.mem;
    node.disk_free -= r.disk;
    for (uint32_t port : a.ports) {
      std::vector<PortRange>& ranges = node.free_ports;
      auto it = std::find_if(ranges.begin(), ranges.end(),
                             [&](const PortRange& pr) { return port <= pr.end; });
      if (it == ranges.end() || port < it->begin) std::abort();
      if (it->begin == it->end) {
        ranges.erase(it);
      } else if (port == it->begin) {
        ++it->begin;
      } else if (port == it->end) {
        --it->end;
      } else {
        PortRange tail{port + 1, it->end};
        it->end = port - 1;
        ranges.insert(it + 1, tail);
      }
    }
    snapshot.placed.push_back({r.app_id, a.node_index});
  }
}

// Checks the single-call result outside the timing: no node overcommitted and every app's
// constraint honoured. Returns a description of the first problem, or "".
std::string verify(const ClusterSnapshot& snapshot, const std::vector<PlacementRequest>& requests,
                   const PlacementResult& result) {
  std::vector<double> cpus(snapshot.nodes.size(), 0), mem(snapshot.nodes.size(), 0);
  std::vector<std::vector<uint32_t>> nodes_of(requests.size());
  for (const Assignment& a : result.assignments) {
    cpus[a.node_index] += requests[a.request_index].cpus;
    mem[a.node_index] += requests[a.request_index].mem;
    nodes_of[a.request_index].push_back(a.node_index);
  }
  for (size_t n = 0; n < snapshot.nodes.size(); ++n) {
    if (cpus[n] > snapshot.nodes[n].cpus_free + 1e-6 ||
        mem[n] > snapshot.nodes[n].mem_free + 1e-6) {
      return "node " + snapshot.nodes[n].id + " is overcommitted";
    }
  }
  for (size_t r = 0; r < requests.size(); ++r) {
    if (requests[r].constraints.empty()) continue;
    const Constraint& c = requests[r].constraints[0];
    std::map<std::string, int> per_value;
    for (uint32_t n : nodes_of[r]) {
      const NodeView& node = snapshot.nodes[n];
      ++per_value[c.field == "hostname" ? node.hostname : node.attributes.at(c.field)];
    }
    int most = 0, fewest = 1 << 30;
    for (const auto& [value, tasks] : per_value) {
      most = std::max(most, tasks);
      fewest = std::min(fewest, tasks);
      if (c.op == "LIKE" && value.rfind("us-", 0) != 0)
        return requests[r].app_id + " runs in zone " + value;
      if (c.op == "CLUSTER" && value != *c.value)
        return requests[r].app_id + " runs in zone " + value;
    }
    if (c.op == "UNIQUE" && most > 1) return requests[r].app_id + " has two tasks on one host";
    if (c.op == "MAX_PER" && most > 2)
      return requests[r].app_id + " has more than 2 tasks in a rack";
    // 100 instances over 100 racks: one per rack.
    if (c.op == "GROUP_BY" && (most != 1 || per_value.size() != kRacks)) {
      return requests[r].app_id + " is spread unevenly over racks";
    }
  }
  return "";
}

struct Run {
  double seconds = 0;
  uint64_t placed = 0;
  uint64_t unplaced = 0;
};

Run one_call(const ClusterSnapshot& snapshot, const std::vector<PlacementRequest>& requests) {
  auto start = std::chrono::steady_clock::now();
  PlacementResult result = place(snapshot, requests);
  auto stop = std::chrono::steady_clock::now();
  Run run;
  run.seconds = std::chrono::duration<double>(stop - start).count();
  for (const RequestOutcome& o : result.outcomes) {
    run.placed += o.placed;
    run.unplaced += o.unplaced;
  }
  return run;
}

Run many_calls(ClusterSnapshot snapshot, const std::vector<PlacementRequest>& requests) {
  constexpr int kCalls = 100;
  constexpr uint32_t kPerCall = kTasks / kCalls;
  Run run;
  // Each call places 10 instances of every app, as repeated reconcile passes would.
  std::vector<PlacementRequest> batch = requests;
  for (PlacementRequest& r : batch) r.count = kPerCall / kApps;
  for (int call = 0; call < kCalls; ++call) {
    auto start = std::chrono::steady_clock::now();
    PlacementResult result = place(snapshot, batch);
    auto stop = std::chrono::steady_clock::now();
    run.seconds += std::chrono::duration<double>(stop - start).count();
    for (const RequestOutcome& o : result.outcomes) {
      run.placed += o.placed;
      run.unplaced += o.unplaced;
    }
    apply(snapshot, batch, result);
  }
  return run;
}

void report(const char* name, std::vector<Run> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
  const Run& best = runs.front();
  const Run& median = runs[runs.size() / 2];
  std::printf(
      "%-34s placed %llu/%llu  best %.1f ms (%.0f placements/s)  median %.1f ms (%.0f "
      "placements/s)\n",
      name, static_cast<unsigned long long>(best.placed),
      static_cast<unsigned long long>(best.placed + best.unplaced), best.seconds * 1e3,
      static_cast<double>(best.placed) / best.seconds, median.seconds * 1e3,
      static_cast<double>(median.placed) / median.seconds);
}

}  // namespace
}  // namespace berth::scheduler

int main(int argc, char** argv) {
  using namespace berth::scheduler;
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  if (runs < 1) runs = 1;
  ClusterSnapshot snapshot = make_cluster();
  std::vector<PlacementRequest> requests = make_requests();
  std::printf("%d nodes, %d apps, %llu tasks, %d runs\n", kNodes, kApps,
              static_cast<unsigned long long>(kTasks), runs);

  std::string problem = verify(snapshot, requests, place(snapshot, requests));
  if (!problem.empty()) {
    std::fprintf(stderr, "FAIL: %s\n", problem.c_str());
    return 1;
  }

  std::vector<Run> single, incremental;
  for (int i = 0; i < runs; ++i) single.push_back(one_call(snapshot, requests));
  for (int i = 0; i < runs; ++i) incremental.push_back(many_calls(snapshot, requests));
  report("1 call of 100,000:", single);
  report("100 calls of 1,000:", incremental);

  // The cluster has room for every task; losing more than 1% means placement is broken.
  bool ok = true;
  for (const std::vector<Run>* set : {&single, &incremental}) {
    for (const Run& run : *set) {
      if (run.placed < kTasks * 99 / 100) ok = false;
    }
  }
  if (!ok) {
    std::fprintf(stderr, "FAIL: placed implausibly few tasks (expected at least %llu)\n",
                 static_cast<unsigned long long>(kTasks * 99 / 100));
    return 1;
  }
  return 0;
}
