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

// Whether `dir` can be trusted with lock files: a real directory (not a symlink) owned by root
// or by us, so nobody else can have planted a link there that we would open and truncate.
bool trusted_dir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) return false;
  // Writable by others only with the sticky bit, as /tmp: then they cannot replace our files.
  return (st.st_mode & S_IWOTH) == 0 || (st.st_mode & S_ISVTX) != 0;
}

std::optional<PortSlot> claim_port_slot(const std::string& data_dir, uint32_t port) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec) / "berth-up-slots";
  if (::mkdir(dir.c_str(), 0755) == 0) {
    // Shared by every user's clusters, like /tmp itself.
    ::chmod(dir.c_str(), 01777);
  }
  if (!trusted_dir(dir.string())) {
    std::cerr << "berth up: " << dir.string()
              << " is not a directory owned by root or by you (or is writable by others without "
                 "the sticky bit); remove it and start again\n";
    return std::nullopt;
  }
  std::string holders;
  for (int k = 0; k < kPortSlots; ++k) {
    std::string path = (dir / (std::to_string(k) + ".lock")).string();
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      continue;
    }
    if (st.st_uid == ::geteuid()) ::fchmod(fd, 0666);  // other users' clusters lock it too
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
