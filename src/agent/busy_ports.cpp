#include "agent/busy_ports.h"

#include <fstream>
#include <sstream>

namespace berth::agent {

std::set<uint32_t> listening_ports(const std::string& proc_net_tcp, uint32_t begin, uint32_t end) {
  std::set<uint32_t> ports;
  std::istringstream lines(proc_net_tcp);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    // "  0: 0100007F:A97D 00000000:0000 0A ...": slot, local address:port, remote, state.
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state) || state != "0A") continue;
    size_t colon = local.rfind(':');
    if (colon == std::string::npos || colon + 1 >= local.size()) continue;
    uint32_t port = 0;
    try {
      port = static_cast<uint32_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
    } catch (const std::exception&) {
      continue;
    }
    if (port >= begin && port <= end) ports.insert(port);
  }
  return ports;
}

std::set<uint32_t> busy_ports(uint32_t begin, uint32_t end, const std::set<uint32_t>& own) {
  std::set<uint32_t> busy;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    for (uint32_t port : listening_ports(text.str(), begin, end)) {
      if (!own.count(port)) busy.insert(port);
    }
  }
  return busy;
}

}  // namespace berth::agent
