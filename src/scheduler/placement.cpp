// place(): walks the requests in order and, for each instance, takes the first feasible node
// from a rotating cursor. Counts per (app, field value) make each constraint check O(1), and
// per-value node lists let constrained requests skip straight to the racks or zones they can
// use, so the common case never scans all nodes. A full scan happens only when an instance
// cannot be placed, to record why every node refused it.
#include "scheduler/placement.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "base/check.h"
#include "scheduler/attribute_index.h"
#include "scheduler/node_pool.h"
#include "scheduler/regex_cache.h"
#include "scheduler/request_constraints.h"

namespace berth::scheduler {
namespace {

// Rejection reasons, indexed by Shortfall with UnfulfilledConstraint last.
constexpr const char* kReasonNames[] = {"",
                                        "NodeUnschedulable",
                                        "InsufficientCpus",
                                        "InsufficientMemory",
                                        "InsufficientDisk",
                                        "InsufficientPorts",
                                        "UnfulfilledConstraint"};
constexpr size_t kReasons = std::size(kReasonNames);
constexpr size_t kConstraintReason = kReasons - 1;
static_assert(static_cast<size_t>(Shortfall::kPorts) + 1 == kConstraintReason);

DemandFloor floor_of(const std::vector<PlacementRequest>& requests) {
  DemandFloor floor;
  bool any = false;
  for (const PlacementRequest& r : requests) {
    if (r.count == 0) continue;
    uint64_t ports = uint64_t{r.dynamic_ports} + r.fixed_ports.size();
    if (!any) {
      floor = DemandFloor{r.cpus, r.mem, r.disk, ports};
      any = true;
      continue;
    }
    floor.cpus = std::min(floor.cpus, r.cpus);
    floor.mem = std::min(floor.mem, r.mem);
    floor.disk = std::min(floor.disk, r.disk);
    floor.ports = std::min(floor.ports, ports);
  }
  return floor;
}

// Drops the nodes that died from `list`, keeping the order and the cursor's place.
void compact(NodeList& list, const NodePool& pool) {
  size_t kept = 0;
  size_t cursor = 0;
  for (size_t i = 0; i < list.nodes.size(); ++i) {
    if (i == list.cursor) cursor = kept;
    if (pool.alive(list.nodes[i])) list.nodes[kept++] = list.nodes[i];
  }
  if (list.cursor >= list.nodes.size()) cursor = kept;
  list.nodes.resize(kept);
  list.cursor = cursor;
}

// The first node of `list`, from its cursor round to just before it, that is alive and
// `feasible`. Moves the cursor past the node found.
template <typename Feasible>
std::optional<uint32_t> scan(NodeList& list, const NodePool& pool, Feasible&& feasible) {
  const size_t n = list.nodes.size();
  if (n == 0) return std::nullopt;
  size_t pos = list.cursor < n ? list.cursor : 0;
  size_t dead = 0;
  std::optional<uint32_t> found;
  for (size_t k = 0; k < n; ++k, pos = pos + 1 == n ? 0 : pos + 1) {
    uint32_t node = list.nodes[pos];
    if (!pool.alive(node)) {
      ++dead;
      continue;
    }
    if (feasible(node)) {
      found = node;
      list.cursor = pos + 1;
      break;
    }
  }
  // Dead nodes never come back within a call; dropping them keeps later scans short.
  if (dead > 8 && dead * 4 > n) compact(list, pool);
  return found;
}

class Placer {
 public:
  Placer(const ClusterSnapshot& snapshot, const std::vector<PlacementRequest>& requests)
      : snapshot_(snapshot),
        requests_(requests),
        pool_(snapshot.nodes, floor_of(requests)),
        index_(snapshot.nodes, pool_),
        regexes_(index_),
        constraints_(index_, regexes_) {
    for (uint32_t node = 0; node < pool_.size(); ++node) {
      if (pool_.alive(node)) all_nodes_.nodes.push_back(node);
    }
    for (const PlacementRequest& r : requests) app_nodes_.try_emplace(r.app_id);
    // The snapshot usually lists an app's tasks together; comparing with the previous app id
    // is much cheaper than hashing every one.
    const std::string* previous = nullptr;
    std::vector<uint32_t>* nodes = nullptr;
    for (const PlacedTask& task : snapshot.placed) {
      BERTH_CHECK(task.node_index < snapshot.nodes.size());
      if (previous == nullptr || task.app_id != *previous) {
        previous = &task.app_id;
        auto it = app_nodes_.find(task.app_id);
        nodes = it == app_nodes_.end() ? nullptr : &it->second;
      }
      if (nodes != nullptr) nodes->push_back(task.node_index);
    }
  }

  PlacementResult run() {
    uint64_t total = 0;
    for (const PlacementRequest& r : requests_) total += r.count;
    result_.assignments.reserve(static_cast<size_t>(std::min<uint64_t>(total, uint64_t{1} << 24)));
    result_.outcomes.resize(requests_.size());
    for (uint32_t r = 0; r < requests_.size(); ++r) place_request(r);
    return std::move(result_);
  }

 private:
  void place_request(uint32_t r) {
    const PlacementRequest& request = requests_[r];
    RequestOutcome& outcome = result_.outcomes[r];
    if (request.count == 0) return;
    demand_ =
        Demand{request.cpus, request.mem, request.disk, request.dynamic_ports, request.fixed_ports};
    std::vector<uint32_t>& app_nodes = app_nodes_[request.app_id];
    constraints_.begin(request.constraints, app_nodes);
    avoid_.clear();
    for (uint32_t node = 0; node < snapshot_.nodes.size() && !request.avoid_nodes.empty(); ++node) {
      const std::string& id = snapshot_.nodes[node].id;
      if (std::find(request.avoid_nodes.begin(), request.avoid_nodes.end(), id) !=
          request.avoid_nodes.end())
        avoid_.insert(node);
    }
    for (uint32_t k = 0; k < request.count; ++k) {
      std::optional<uint32_t> node = find_node_preferring();
      if (!node) {
        outcome.unplaced = request.count - k;
        reject_all(outcome);
        return;
      }
      Assignment assignment{r, *node, {}};
      assignment.ports.reserve(request.fixed_ports.size() + request.dynamic_ports);
      constraints_.record(*node);
      if (pool_.take(*node, demand_, assignment.ports)) {
        index_.node_died(*node);
        constraints_.node_died(*node);
      }
      app_nodes.push_back(*node);
      result_.assignments.push_back(std::move(assignment));
      ++outcome.placed;
    }
  }

  bool feasible(uint32_t node, bool* monotone) {
    if (avoiding_ && avoid_.count(node)) {
      *monotone = false;  // the node is passed over, not out of reach: prune nothing
      return false;
    }
    int unmet = constraints_.first_unmet(node);
    if (unmet >= 0) {
      if (!constraints_.monotone(unmet)) *monotone = false;
      return false;
    }
    return pool_.check(node, demand_) == Shortfall::kNone;
  }

  // A node the request does not avoid, else any node.
  std::optional<uint32_t> find_node_preferring() {
    if (!avoid_.empty()) {
      avoiding_ = true;
      std::optional<uint32_t> node = find_node();
      avoiding_ = false;
      if (node) return node;
    }
    return find_node();
  }

  // A search can fail only because a GROUP_BY level was stale (a candidate value filled up);
  // the level then grows and the search is retried. Levels only grow, so this ends.
  std::optional<uint32_t> find_node() {
    for (;;) {
      uint64_t version = constraints_.levels_version();
      std::optional<uint32_t> node = search();
      if (node) return node;
      constraints_.refresh_levels();
      if (constraints_.levels_version() == version) return std::nullopt;
    }
  }

  std::optional<uint32_t> search() {
    Driver driver = constraints_.driver();
    bool monotone = true;
    auto check = [&](uint32_t node) { return feasible(node, &monotone); };
    switch (driver.kind) {
      case Driver::Kind::kAllNodes:
        return scan(all_nodes_, pool_, check);
      case Driver::Kind::kOneValue:
        if (driver.value == kNoValue) return std::nullopt;
        return scan(index_.nodes_with(driver.field, driver.value), pool_, check);
      case Driver::Kind::kValues:
        break;
    }
    const uint32_t values = index_.value_count(driver.field);
    size_t& cursor = index_.value_cursor(driver.field);
    for (uint32_t k = 0; k < values; ++k) {
      int32_t v = static_cast<int32_t>((cursor + k) % values);
      if (!constraints_.accepts(driver.constraint, v)) continue;
      monotone = true;
      std::optional<uint32_t> node = scan(index_.nodes_with(driver.field, v), pool_, check);
      if (node) {
        cursor = static_cast<size_t>(v) + 1 == values ? 0 : static_cast<size_t>(v) + 1;
        return node;
      }
      if (monotone) constraints_.prune(driver.constraint, v);
    }
    return std::nullopt;
  }

  // Records why every node refused the instance that could not be placed.
  // This is the one O(nodes) step per failed request, so it counts reasons in an array and
  // fills the map once.
  void reject_all(RequestOutcome& outcome) {
    outcome.rejections.reserve(pool_.size());
    uint32_t counts[kReasons] = {};
    for (uint32_t node = 0; node < pool_.size(); ++node) {
      Rejection rejection;
      rejection.node_id = snapshot_.nodes[node].id;
      int unmet = -1;
      size_t reason = 0;
      if (!pool_.schedulable(node)) {
        reason = static_cast<size_t>(Shortfall::kUnschedulable);
        rejection.detail = pool_.describe(node, demand_, Shortfall::kUnschedulable);
      } else if ((unmet = constraints_.first_unmet(node)) >= 0) {
        reason = kConstraintReason;
        rejection.detail = constraints_.describe(unmet, node);
      } else {
        Shortfall shortfall = pool_.check(node, demand_);
        // The search found no node, so a node that meets everything means the search is wrong.
        BERTH_CHECK(shortfall != Shortfall::kNone);
        reason = static_cast<size_t>(shortfall);
        rejection.detail = pool_.describe(node, demand_, shortfall);
      }
      rejection.reason = kReasonNames[reason];
      ++counts[reason];
      outcome.rejections.push_back(std::move(rejection));
    }
    for (size_t reason = 0; reason < kReasons; ++reason) {
      if (counts[reason] > 0) outcome.reason_counts[kReasonNames[reason]] = counts[reason];
    }
  }

  const ClusterSnapshot& snapshot_;
  const std::vector<PlacementRequest>& requests_;
  NodePool pool_;
  AttributeIndex index_;
  RegexCache regexes_;
  RequestConstraints constraints_;
  NodeList all_nodes_;
  std::unordered_map<std::string, std::vector<uint32_t>> app_nodes_;  // app -> nodes of its tasks
  Demand demand_;
  std::unordered_set<uint32_t> avoid_;  // the current request's avoid_nodes, as indices
  bool avoiding_ = false;               // whether feasible() passes over avoid_
  PlacementResult result_;
};

}  // namespace

PlacementResult place(const ClusterSnapshot& snapshot,
                      const std::vector<PlacementRequest>& requests) {
  return Placer(snapshot, requests).run();
}

}  // namespace berth::scheduler
