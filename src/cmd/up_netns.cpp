#include "cmd/up_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace berth::cmd {
namespace {

bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// The rule that lets the bridge's hosts reach each other through Docker's FORWARD policy.
std::string forward_rule(const std::string& bridge) {
  return "FORWARD -i " + bridge + " -o " + bridge + " -j ACCEPT";
}

}  // namespace

std::string up_network_unavailable() {
  if (::geteuid() != 0) return "--netns needs root (it makes network namespaces and a bridge)";
  if (!run("ip netns list")) return "--netns needs `ip` with network namespaces (iproute2)";
  return "";
}

bool make_up_network(int slot, int agents, UpNetwork* network) {
  const std::string s = std::to_string(slot);
  const std::string net = "10.249." + s + ".";
  network->slot = slot;
  network->bridge = "bu" + s + "br";
  network->gateway = net + "1";
  network->namespaces.clear();
  network->addresses.clear();
  for (int i = 1; i <= agents; ++i) {
    network->namespaces.push_back("berth-up" + s + "-agent-" + std::to_string(i));
    network->addresses.push_back(net + std::to_string(10 + i));
  }
  remove_up_network(*network);  // what a cluster of this slot that died may have left
  auto step = [&](const std::string& command) {
    if (run(command)) return true;
    std::cerr << "berth up --netns: `" << command << "` failed\n";
    return false;
  };
  if (!step("ip link add " + network->bridge + " type bridge") ||
      !step("ip addr add " + network->gateway + "/24 dev " + network->bridge) ||
      !step("ip link set " + network->bridge + " up")) {
    remove_up_network(*network);
    return false;
  }
  run("iptables -I " + forward_rule(network->bridge));  // absent without Docker's rules: fine
  for (int i = 1; i <= agents; ++i) {
    const std::string& ns = network->namespaces[static_cast<size_t>(i - 1)];
    const std::string host_if = "bu" + s + "h" + std::to_string(i);
    const std::string ns_if = "bu" + s + "n" + std::to_string(i);
    if (!step("ip netns add " + ns) ||
        !step("ip link add " + host_if + " type veth peer name " + ns_if) ||
        !step("ip link set " + ns_if + " netns " + ns) ||
        !step("ip link set " + host_if + " master " + network->bridge) ||
        !step("ip link set " + host_if + " up") ||
        !step("ip -n " + ns + " addr add " + network->addresses[static_cast<size_t>(i - 1)] +
              "/24 dev " + ns_if) ||
        !step("ip -n " + ns + " link set " + ns_if + " up") ||
        !step("ip -n " + ns + " link set lo up")) {
      remove_up_network(*network);
      return false;
    }
  }
  return true;
}

void remove_up_network(const UpNetwork& network) {
  for (size_t i = 0; i < network.namespaces.size(); ++i) {
    run("ip link del bu" + std::to_string(network.slot) + "h" + std::to_string(i + 1));
    run("ip netns del " + network.namespaces[i]);
  }
  if (network.bridge.empty()) return;
  while (run("iptables -D " + forward_rule(network.bridge))) {
  }
  run("ip link del " + network.bridge);
}

bool enter_netns(const std::string& netns) {
  int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool entered = ::setns(fd, CLONE_NEWNET) == 0;
  ::close(fd);
  return entered;
}

}  // namespace berth::cmd
