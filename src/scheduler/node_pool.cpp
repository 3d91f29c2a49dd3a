#include "scheduler/node_pool.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/check.h"

namespace berth::scheduler {
namespace {

// Resources are summed and subtracted as doubles; a little slack keeps 0.1 + 0.2 from failing
// to fit into 0.3.
constexpr double kSlack = 1e-9;

// Formats an amount with at most three decimals, the precision Marathon uses for scalars.
// Rejection lists hold one of these per node, so this avoids printf.
std::string amount(double x) {
  double milli = std::round(x * 1000);
  if (!(std::fabs(milli) < 1e15)) return std::to_string(x);
  int64_t value = static_cast<int64_t>(milli);
  uint64_t magnitude = value < 0 ? static_cast<uint64_t>(-value) : static_cast<uint64_t>(value);
  char buf[32];
  char* p = buf;
  if (value < 0) *p++ = '-';
  p = std::to_chars(p, buf + sizeof buf, magnitude / 1000).ptr;
  uint32_t fraction = static_cast<uint32_t>(magnitude % 1000);
  if (fraction != 0) {
    *p++ = '.';
    for (uint32_t unit = 100; fraction != 0; unit /= 10) {
      *p++ = static_cast<char>('0' + fraction / unit);
      fraction %= unit;
    }
  }
  return std::string(buf, p);
}

// The range holding `port`, or end.
template <typename Ranges>
auto find_range(Ranges& ranges, uint32_t port) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), port,
                             [](uint32_t p, const PortRange& r) { return p < r.begin; });
  if (it == ranges.begin()) return ranges.end();
  --it;
  return port <= it->end ? it : ranges.end();
}

bool contains(std::span<const PortRange> ranges, uint32_t port) {
  return find_range(ranges, port) != ranges.end();
}

bool remove_port(std::vector<PortRange>& ranges, uint32_t port) {
  auto it = find_range(ranges, port);
  if (it == ranges.end()) return false;
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
  return true;
}

}  // namespace

NodePool::NodePool(const std::vector<NodeView>& nodes, const DemandFloor& floor)
    : nodes_(nodes), floor_(floor), free_(nodes.size()) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeView& node = nodes[i];
    Free& free = free_[i];
    free.cpus = node.cpus_free;
    free.mem = node.mem_free;
    free.disk = node.disk_free;
    for (size_t r = 0; r < node.free_ports.size(); ++r) {
      const PortRange& range = node.free_ports[r];
      BERTH_CHECK(range.begin <= range.end);
      BERTH_CHECK(r == 0 || node.free_ports[r - 1].end < range.begin);
      free.ports += uint64_t{range.end} - range.begin + 1;
    }
    free.alive = node.schedulable && fits_floor(free);
  }
}

bool NodePool::fits_floor(const Free& free) const {
  return free.cpus + kSlack >= floor_.cpus && free.mem + kSlack >= floor_.mem &&
         free.disk + kSlack >= floor_.disk && free.ports >= floor_.ports;
}

std::span<const PortRange> NodePool::ranges(uint32_t node) const {
  int32_t owned = free_[node].ranges;
  if (owned >= 0) return owned_ranges_[owned];
  return nodes_[node].free_ports;
}

std::vector<PortRange>& NodePool::owned_ranges(uint32_t node) {
  Free& free = free_[node];
  if (free.ranges < 0) {
    free.ranges = static_cast<int32_t>(owned_ranges_.size());
    owned_ranges_.push_back(nodes_[node].free_ports);
  }
  return owned_ranges_[free.ranges];
}

Shortfall NodePool::check(uint32_t node, const Demand& demand) const {
  const Free& free = free_[node];
  if (!nodes_[node].schedulable) return Shortfall::kUnschedulable;
  if (demand.cpus > free.cpus + kSlack) return Shortfall::kCpus;
  if (demand.mem > free.mem + kSlack) return Shortfall::kMemory;
  if (demand.disk > free.disk + kSlack) return Shortfall::kDisk;
  uint64_t ports = uint64_t{demand.dynamic_ports} + demand.fixed_ports.size();
  if (ports > 0) {
    if (ports > free.ports) return Shortfall::kPorts;
    std::span<const PortRange> have = ranges(node);
    for (uint32_t port : demand.fixed_ports) {
      if (!contains(have, port)) return Shortfall::kPorts;
    }
  }
  return Shortfall::kNone;
}

bool NodePool::take(uint32_t node, const Demand& demand, std::vector<uint32_t>& ports) {
  Free& free = free_[node];
  free.cpus -= demand.cpus;
  free.mem -= demand.mem;
  free.disk -= demand.disk;
  if (demand.dynamic_ports > 0 || !demand.fixed_ports.empty()) {
    std::vector<PortRange>& have = owned_ranges(node);
    for (uint32_t port : demand.fixed_ports) {
      ports.push_back(port);
      // A port listed twice is taken once; validation normally rejects such requests.
      if (remove_port(have, port)) --free.ports;
    }
    uint32_t left = demand.dynamic_ports;
    size_t used_up = 0;
    while (left > 0) {
      BERTH_CHECK(used_up < have.size());
      PortRange& range = have[used_up];
      uint64_t available = uint64_t{range.end} - range.begin + 1;
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(available, left));
      for (uint32_t k = 0; k < n; ++k) ports.push_back(range.begin + k);
      left -= n;
      free.ports -= n;
      if (n == available) {
        ++used_up;
      } else {
        range.begin += n;
      }
    }
    have.erase(have.begin(), have.begin() + static_cast<ptrdiff_t>(used_up));
  }
  bool was_alive = free.alive;
  free.alive = was_alive && fits_floor(free);
  return was_alive && !free.alive;
}

std::string NodePool::describe(uint32_t node, const Demand& demand, Shortfall shortfall) const {
  const Free& free = free_[node];
  switch (shortfall) {
    case Shortfall::kNone:
      return "";
    case Shortfall::kUnschedulable:
      return "node is not schedulable (draining or lost)";
    case Shortfall::kCpus:
      return "needs " + amount(demand.cpus) + " cpus, " + amount(free.cpus) + " free";
    case Shortfall::kMemory:
      return "needs " + amount(demand.mem) + " MiB memory, " + amount(free.mem) + " free";
    case Shortfall::kDisk:
      return "needs " + amount(demand.disk) + " MiB disk, " + amount(free.disk) + " free";
    case Shortfall::kPorts: {
      std::span<const PortRange> have = ranges(node);
      for (uint32_t port : demand.fixed_ports) {
        if (!contains(have, port)) return "port " + std::to_string(port) + " is not free";
      }
      uint64_t ports = uint64_t{demand.dynamic_ports} + demand.fixed_ports.size();
      return "needs " + std::to_string(ports) + (ports == 1 ? " port, " : " ports, ") +
             std::to_string(free.ports) + " free";
    }
  }
  return "";
}

}  // namespace berth::scheduler
