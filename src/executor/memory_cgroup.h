// Cgroup v1 memory controller plumbing for ProcessExecutor: finding out whether limits can be
// enforced, one cgroup per task, signalling everything inside it, reading its OOM counter and
// removing it. Only ProcessExecutor uses this; it calls these functions with its mutex held.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace berth {

// What the executor can do with memory cgroups on this machine.
struct MemoryCgroupProbe {
  // <root>/<prefix>, created by the probe, when the controller is there and writable;
  // empty otherwise.
  std::string dir;
  // Why `dir` is empty, for isolation_summary(): "<root> not writable: Permission denied".
  std::string reason;
};

// Checks that `root` is a cgroup v1 memory hierarchy and creates <root>/<prefix> in it
// (an existing one is fine). Never fails: an unusable controller is reported in `reason`.
MemoryCgroupProbe probe_memory_cgroups(const std::string& root, const std::string& prefix);

// Creates the task's cgroup at `path` and, when `limit_bytes` > 0, sets memory.limit_in_bytes
// (and memory.memsw.limit_in_bytes where the kernel has swap accounting, so swap cannot lift
// the limit). An empty cgroup left at `path` by an earlier run is replaced; one that still
// holds processes is kConflict. Other failures are kInternal; nothing is left behind on error.
Status create_memory_cgroup(const std::string& path, std::uint64_t limit_bytes);

// Sends `sig` to every process in the cgroup at `path`, except those whose process group is
// `skip_pgid` (they were already signalled through their group; a second SIGTERM can mean
// "quit now" to some programs). Returns how many processes it found, 0 when it is empty or gone.
// A pid read from cgroup.procs could in theory exit and be reused before kill(); that needs
// the whole pid space to wrap within microseconds, and is the same window runc accepted on v1.
int signal_memory_cgroup(const std::string& path, int sig, int skip_pgid);

// How many processes the kernel OOM-killed in this cgroup (memory.oom_control's oom_kill,
// kernel 4.13+). On older kernels, memory.failcnt > 0 is returned as 1: the limit was hit,
// which is the best evidence there. nullopt when neither can be read.
std::optional<std::uint64_t> read_oom_kill_count(const std::string& path);

// rmdir of the cgroup. True when it is gone (or was already); false while processes are still
// in it (EBUSY) or on another error, in which case the caller retries later.
bool remove_memory_cgroup(const std::string& path);

}  // namespace berth
