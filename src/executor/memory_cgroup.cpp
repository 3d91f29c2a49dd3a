#include "executor/memory_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sstream>
#include <vector>

namespace berth {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Writes `value` to a cgroup control file. Returns 0 or the errno.
int write_control(const std::string& file, const std::string& value) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) err = errno;
  ::close(fd);
  return err;
}

// Reads a small control file whole. nullopt when it cannot be opened or read.
std::optional<std::string> read_control(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

MemoryCgroupProbe probe_memory_cgroups(const std::string& root, const std::string& prefix) {
  MemoryCgroupProbe probe;
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) {
    probe.reason = root + " " + (errno == ENOENT ? "does not exist" : errno_text(errno));
    return probe;
  }
  if (!exists(root + "/memory.limit_in_bytes")) {
    probe.reason = root + " is not a cgroup v1 memory hierarchy (no memory.limit_in_bytes)";
    return probe;
  }
  std::string dir = root + "/" + prefix;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    probe.reason = root + " not writable: " + errno_text(errno);
    return probe;
  }
  if (::access((dir + "/cgroup.procs").c_str(), W_OK) != 0) {
    probe.reason = dir + "/cgroup.procs not writable: " + errno_text(errno);
    return probe;
  }
  probe.dir = dir;
  return probe;
}

Status create_memory_cgroup(const std::string& path, std::uint64_t limit_bytes) {
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (errno != EEXIST) {
      return make_error(ErrorCode::kInternal,
                        "cannot create memory cgroup " + path + ": " + errno_text(errno));
    }
    // An empty leftover (e.g. from an agent that crashed) is replaced; a busy one is not ours
    // to take over.
    if (::rmdir(path.c_str()) != 0) {
      int err = errno;
      return make_error(err == EBUSY ? ErrorCode::kConflict : ErrorCode::kInternal,
                        "cannot create memory cgroup " + path + ": it already exists and " +
                            (err == EBUSY ? std::string("still has processes in it; kill them "
                                                        "or remove it by hand")
                                          : "cannot be removed: " + errno_text(err)));
    }
    if (::mkdir(path.c_str(), 0755) != 0) {
      return make_error(ErrorCode::kInternal,
                        "cannot create memory cgroup " + path + ": " + errno_text(errno));
    }
  }
  if (limit_bytes == 0) return {};
  std::string value = std::to_string(limit_bytes);
  if (int err = write_control(path + "/memory.limit_in_bytes", value); err != 0) {
    ::rmdir(path.c_str());
    return make_error(ErrorCode::kInternal, "cannot set " + path + "/memory.limit_in_bytes to " +
                                                value + ": " + errno_text(err));
  }
  // Swap accounting is optional (swapaccount=1); without it there is no memsw file.
  std::string memsw = path + "/memory.memsw.limit_in_bytes";
  if (exists(memsw)) {
    if (int err = write_control(memsw, value); err != 0) {
      ::rmdir(path.c_str());
      return make_error(ErrorCode::kInternal,
                        "cannot set " + memsw + " to " + value + ": " + errno_text(err));
    }
  }
  return {};
}

int signal_memory_cgroup(const std::string& path, int sig, int skip_pgid) {
  std::optional<std::string> procs = read_control(path + "/cgroup.procs");
  if (!procs) return 0;
  std::istringstream in(*procs);
  int found = 0;
  pid_t pid;
  while (in >> pid) {
    if (pid <= 0) continue;
    ++found;
    if (skip_pgid > 0 && ::getpgid(pid) == skip_pgid) continue;
    ::kill(pid, sig);
  }
  return found;
}

std::optional<std::uint64_t> read_oom_kill_count(const std::string& path) {
  if (std::optional<std::string> oom = read_control(path + "/memory.oom_control")) {
    std::istringstream in(*oom);
    std::string key;
    std::uint64_t value;
    while (in >> key >> value) {
      if (key == "oom_kill") return value;
    }
  }
  if (std::optional<std::string> failcnt = read_control(path + "/memory.failcnt")) {
    std::istringstream in(*failcnt);
    std::uint64_t value;
    if (in >> value) return value > 0 ? 1 : 0;
  }
  return std::nullopt;
}

bool remove_memory_cgroup(const std::string& path) {
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}

}  // namespace berth
