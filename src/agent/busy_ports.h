// Ports of the agent's range that something other than its own tasks listens on (another
// cluster's task, a database installed beside berth): the agent reports them with every
// heartbeat and the master gives them to no task on this node (docs/protocol.md §3), so a task
// is never placed on a port it cannot bind.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace berth::agent {

// The local ports in [begin, end] of the listening sockets (state 0A) in the text of
// /proc/net/tcp or /proc/net/tcp6. Lines it cannot read are skipped.
std::set<uint32_t> listening_ports(const std::string& proc_net_tcp, uint32_t begin, uint32_t end);

// listening_ports() of this host's /proc/net/tcp and /proc/net/tcp6 (of the agent's network
// namespace), less the ports of `own` (those its tasks were given).
std::set<uint32_t> busy_ports(uint32_t begin, uint32_t end, const std::set<uint32_t>& own);

}  // namespace berth::agent
