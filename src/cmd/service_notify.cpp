#include "cmd/service_notify.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace berth::cmd {

void notify_service_ready() {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0') return;
  const std::string path = name;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) {
    spdlog::warn("NOTIFY_SOCKET '{}' is not a socket path; systemd is not told of readiness", path);
    return;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';  // an abstract name
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  static constexpr char kReady[] = "READY=1";
  if (fd < 0 ||
      ::sendto(fd, kReady, sizeof kReady - 1, 0, reinterpret_cast<sockaddr*>(&addr), length) < 0) {
    spdlog::warn("cannot tell systemd at {} that berth is ready: {}", path, std::strerror(errno));
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace berth::cmd
