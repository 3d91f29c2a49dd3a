// NodePool: the free cpus, memory, disk and ports of every node during one place() call. It
// starts from the snapshot and shrinks as instances are assigned, so later instances see what
// earlier ones took. Internal to scheduler/; only place() creates one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "scheduler/placement.h"

namespace berth::scheduler {

// What one instance needs from a node.
struct Demand {
  double cpus = 0;
  double mem = 0;   // MiB
  double disk = 0;  // MiB
  uint32_t dynamic_ports = 0;
  std::span<const uint32_t> fixed_ports;
};

// The smallest demand of any request in the call. A node that cannot fit it can take nothing
// more in this call; searches skip it without looking at constraints.
struct DemandFloor {
  double cpus = 0;
  double mem = 0;
  double disk = 0;
  uint64_t ports = 0;
};

// Why a node cannot take a demand, in the order they are checked.
enum class Shortfall : uint8_t { kNone, kUnschedulable, kCpus, kMemory, kDisk, kPorts };

class NodePool {
 public:
  // `nodes` must outlive the pool. Each node's free_ports must be sorted and disjoint.
  NodePool(const std::vector<NodeView>& nodes, const DemandFloor& floor);

  size_t size() const { return nodes_.size(); }
  bool schedulable(uint32_t node) const { return nodes_[node].schedulable; }
  // False once the node cannot fit the call's smallest demand (or was never schedulable).
  bool alive(uint32_t node) const { return free_[node].alive; }

  // The first reason `node` cannot take `demand` now, or kNone.
  Shortfall check(uint32_t node, const Demand& demand) const;

  // Takes `demand` from `node`, which must pass check(). Appends the ports it took to `ports`:
  // the fixed ones in order, then the lowest free ones for the dynamic ports. Returns true if
  // the node just stopped being alive.
  bool take(uint32_t node, const Demand& demand, std::vector<uint32_t>& ports);

  // A sentence saying how `node` falls short, e.g. "needs 2 cpus, 0.5 free".
  std::string describe(uint32_t node, const Demand& demand, Shortfall shortfall) const;

 private:
  struct Free {
    double cpus = 0;
    double mem = 0;
    double disk = 0;
    uint64_t ports = 0;   // number of free ports
    int32_t ranges = -1;  // index into owned_ranges_ once ports were taken, else the snapshot's
    bool alive = false;
  };

  std::span<const PortRange> ranges(uint32_t node) const;
  std::vector<PortRange>& owned_ranges(uint32_t node);
  bool fits_floor(const Free& free) const;

  const std::vector<NodeView>& nodes_;
  DemandFloor floor_;
  std::vector<Free> free_;
  // Copies of the port ranges of nodes that gave out ports; untouched nodes use the snapshot's.
  std::vector<std::vector<PortRange>> owned_ranges_;
};

}  // namespace berth::scheduler
