// `berth up --netns`: every agent on a host of its own. Each agent runs in a network namespace
// with its own address, and the namespaces and the machine meet on a bridge, so nothing can
// lean on loopback: agents advertise their address, health checks and service routers reach
// tasks on other hosts, and `local` copies cross hosts (docs/architecture.md §1).
//
// Slot `s` of cmd/up_ports.h owns the bridge `bu<s>br` with 10.249.<s>.1/24 (the masters listen
// there) and, for agent i, the namespace `berth-up<s>-agent-<i>` at 10.249.<s>.<10+i>, joined
// by the veth pair `bu<s>h<i>`/`bu<s>n<i>`. Docker's iptables rules drop bridged traffic by
// default, so the bridge gets a FORWARD rule of its own while it exists.
#pragma once

#include <string>
#include <vector>

namespace berth::cmd {

struct UpNetwork {
  int slot = -1;
  std::string bridge;
  std::string gateway;                  // the machine's address on the bridge
  std::vector<std::string> namespaces;  // agent i's is namespaces[i - 1]
  std::vector<std::string> addresses;   // agent i's is addresses[i - 1]
};

// Why this process cannot make one ("" when it can): root and `ip` are needed.
std::string up_network_unavailable();

// The network of slot `slot` for `agents` agents, made afresh (whatever an earlier cluster of
// the slot left is removed first). false, having said why on stderr, when a step fails.
bool make_up_network(int slot, int agents, UpNetwork* network);

// Removes the namespaces, the bridge and its rule. Safe to call on a half-made network.
void remove_up_network(const UpNetwork& network);

// Runs the rest of this (forked) process in network namespace `netns`; false on failure.
bool enter_netns(const std::string& netns);

}  // namespace berth::cmd
