#include "agent/busy_ports.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace berth::agent {
namespace {

const char* kProcNetTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:7A18 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "1 1 0 100 0 0 10 0\n"  // 31256, listening
    "   1: 00000000:7A19 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2 1\n"  // 31257
    "   2: 0100007F:7A1A 0100007F:9C40 01 00000000:00000000 00:00000000 00000000 0 0 3 1\n"  // est.
    "   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4 1\n"  // 8080
    "   4: garbage\n";

TEST(BusyPorts, ListeningSocketsInTheRangeOnly) {
  EXPECT_EQ(listening_ports(kProcNetTcp, 31000, 32000), (std::set<uint32_t>{31256, 31257}));
  EXPECT_EQ(listening_ports(kProcNetTcp, 1, 65535), (std::set<uint32_t>{8080, 31256, 31257}));
  EXPECT_TRUE(listening_ports("", 1, 65535).empty());
}

TEST(BusyPorts, SeesAListenerOfThisHostButNotTheTasksOwn) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  uint32_t port = ntohs(addr.sin_port);
  EXPECT_TRUE(busy_ports(port, port, {}).count(port));
  EXPECT_FALSE(busy_ports(port, port, {port}).count(port));
  ::close(fd);
  EXPECT_FALSE(busy_ports(port, port, {}).count(port));
}

}  // namespace
}  // namespace berth::agent
