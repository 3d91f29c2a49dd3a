#include "cmd/up_ports.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

namespace berth::cmd {

PortSlot port_slot(int index) {
  PortSlot s;
  s.index = index;
  if (index == 0) {
    s.service_begin = 10000;
    s.service_end = 14000;
    s.task_begin = 31000;
    s.task_end = 32767;
    return s;
  }
  s.service_begin = 14000 + static_cast<uint32_t>(index - 1) * 2000;
  s.service_end = s.service_begin + 2000;
  s.task_begin = 61000 + static_cast<uint32_t>(index - 1) * 1500;
  s.task_end = s.task_begin + 1499;
  return s;
}

namespace {

std::string read_all(int fd) {
  std::string text(512, '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

}  // namespace

std::optional<PortSlot> claim_port_slot(const std::string& data_dir, uint32_t port) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec) / "berth-up-slots";
  if (std::filesystem::create_directory(dir, ec)) {
    // Shared by every user's clusters, like /tmp itself.
    ::chmod(dir.c_str(), 01777);
  }
  std::string holders;
  for (int k = 0; k < kPortSlots; ++k) {
    std::string path = (dir / (std::to_string(k) + ".lock")).string();
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    ::fchmod(fd, 0666);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      holders += "\n  slot " + std::to_string(k) + ": " + read_all(fd);
      ::close(fd);
      continue;
    }
    std::string who = "pid " + std::to_string(::getpid()) + ", --port " + std::to_string(port) +
                      ", data in " + data_dir + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, who.data(), who.size(), 0) != static_cast<ssize_t>(who.size())) {
      // Only the message of a later cluster suffers: the lock is what counts.
    }
    PortSlot slot = port_slot(k);
    slot.lock_fd = fd;
    return slot;
  }
  std::cerr << "berth up: " << kPortSlots
            << " clusters already run on this machine, and each has its own service and task "
               "ports; stop one of them first:"
            << holders << "\n";
  return std::nullopt;
}

}  // namespace berth::cmd
