// The ports of one `berth up` cluster (docs/architecture.md §1). Clusters on one machine must
// not share them: a task port another cluster's task holds cannot be bound, and service routers
// sharing a port (SO_REUSEPORT) would hand one cluster's clients to the other's tasks. So each
// running `berth up` holds a slot, an flock on <tmp>/berth-up-slots/<n>.lock kept until it
// exits, and takes that slot's ranges. Slot 0 has the ranges a lone cluster always had.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace berth::cmd {

struct PortSlot {
  int index = -1;
  uint32_t service_begin = 0, service_end = 0;  // the masters' --service-ports, end exclusive
  uint32_t task_begin = 0, task_end = 0;        // shared out among the agents, end inclusive
  int lock_fd = -1;                             // held while the cluster runs
};

inline constexpr int kPortSlots = 4;

// The ranges of slot `index` (0 to kPortSlots - 1): service ports 10000-13999 for slot 0, then
// 2,000 each up to 19999; task ports 31000-32767 (below Linux's ephemeral ports) for slot 0,
// then 1,500 each from 61000 (above them).
PortSlot port_slot(int index);

// Takes the first free slot for the cluster in `data_dir` on `port`; nullopt, having said
// which clusters hold every slot, when none is free.
std::optional<PortSlot> claim_port_slot(const std::string& data_dir, uint32_t port);

}  // namespace berth::cmd
