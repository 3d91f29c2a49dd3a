// A network namespace joined to the host by a veth pair: a separate "host" whose link can be cut.
// Used by tests that run an agent or a master there (Cluster::set_agent_netns, MasterSetup).
// Needs root and `ip netns`; removed on destruction, whatever the test did.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace berth::testing {

class IsolatedHost {
 public:
  // Whether this process can make one: root, and an `ip` that knows network namespaces; else
  // false with the reason in *why.
  static bool possible(std::string* why) {
    if (::geteuid() != 0) {
      *why = "network namespaces need root";
      return false;
    }
    if (!sh("ip netns list")) {
      *why = "`ip netns` is not available (install iproute2)";
      return false;
    }
    if (::access("/usr/bin/nsenter", X_OK) != 0) {
      *why = "no /usr/bin/nsenter (install util-linux)";
      return false;
    }
    return true;
  }

  // Names come from `tag` and this process's id, so parallel test processes do not collide: the
  // namespace "berth-<tag>-<pid>", the veth ends "b<tag[0]>h<pid>" (host) and "b<tag[0]>n<pid>".
  // Addresses: a /30 of 10.<second_octet>.0.0/16 picked by the pid, .1 on the host's end and .2
  // in the namespace. The namespace has no other route: only its /30 and its own loopback.
  explicit IsolatedHost(const std::string& tag = "part", int second_octet = 231) {
    const int pid = static_cast<int>(::getpid());
    const int slot = pid % 16384;  // 16384 /30s in a /16
    const std::string net =
        "10." + std::to_string(second_octet) + "." + std::to_string(slot / 64) + ".";
    ns_ = "berth-" + tag + "-" + std::to_string(pid);
    host_if_ = "b" + tag.substr(0, 1) + "h" + std::to_string(pid % 100000);
    ns_if_ = "b" + tag.substr(0, 1) + "n" + std::to_string(pid % 100000);
    host_ip_ = net + std::to_string(slot % 64 * 4 + 1);
    ns_ip_ = net + std::to_string(slot % 64 * 4 + 2);
    ok_ = sh("ip netns add " + ns_) &&
          sh("ip link add " + host_if_ + " type veth peer name " + ns_if_) &&
          sh("ip link set " + ns_if_ + " netns " + ns_) &&
          sh("ip addr add " + host_ip_ + "/30 dev " + host_if_) &&
          sh("ip link set " + host_if_ + " up") &&
          sh("ip -n " + ns_ + " addr add " + ns_ip_ + "/30 dev " + ns_if_) &&
          sh("ip -n " + ns_ + " link set " + ns_if_ + " up") &&
          sh("ip -n " + ns_ + " link set lo up");
  }
  ~IsolatedHost() {
    sh("ip link del " + host_if_);
    sh("ip netns del " + ns_);
  }
  IsolatedHost(const IsolatedHost&) = delete;
  IsolatedHost& operator=(const IsolatedHost&) = delete;

  bool ok() const { return ok_; }
  const std::string& netns() const { return ns_; }
  const std::string& host_ip() const { return host_ip_; }  // the host's end of the pair
  const std::string& ns_ip() const { return ns_ip_; }      // the namespace's end
  // The host's end down and up again: the host loses its route to the namespace.
  void cut() { sh("ip link set " + host_if_ + " down"); }
  void heal() { sh("ip link set " + host_if_ + " up"); }
  // The namespace's end down and up again. The host keeps its route to the /30 (the pair has no
  // carrier, so nothing for the namespace leaves the host another way) and the namespace has no
  // route out at all.
  bool cut_inside() { return sh("ip -n " + ns_ + " link set " + ns_if_ + " down"); }
  bool heal_inside() { return sh("ip -n " + ns_ + " link set " + ns_if_ + " up"); }

 private:
  static bool sh(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string ns_, host_if_, ns_if_, host_ip_, ns_ip_;
  bool ok_ = false;
};

}  // namespace berth::testing
