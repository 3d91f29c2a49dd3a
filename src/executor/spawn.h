// Starting one task process for ProcessExecutor: a child that shares the agent's memory until it
// execs (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does), and in it only
// async-signal-safe calls (new session, join the memory cgroup, stdio to the sandbox files, reset
// signals, close inherited fds, become the task's user, exec). Everything the child needs is
// prepared before, because the agent is multi-threaded and the child may not allocate or take
// locks.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "executor/task_user.h"

namespace berth {

struct SpawnRequest {
  std::string sandbox_dir;  // absolute and existing; the working directory of the task
  // argv of the program as the task sees it.
  std::vector<std::string> argv;
  // Paths execve() tries in order, as execvp() walks PATH; a candidate the kernel cannot run as
  // a binary (ENOEXEC) is run with /bin/sh, as execvp() does.
  std::vector<std::string> exec_candidates;
  std::vector<std::string> envp;  // "KEY=value": the whole environment
  // An open cgroup.procs of the task's cgroup, which the child joins before exec (so the
  // program and everything it forks is inside from the first instruction); -1 for none.
  // Stays owned by the caller.
  int cgroup_procs_fd = -1;
  // How to name the program in errors, e.g. "'foo' (looked in PATH=/usr/bin:/bin)".
  std::string program_description;
  // True when the program comes from the task's spec (args): failing to exec it is then the
  // spec's fault (kInvalidArgument), not the node's (kInternal).
  bool program_from_spec = false;
  // host path -> target: the child unshares its mount namespace (made private, so nothing
  // propagates back to the host), creates each target and bind-mounts the source there.
  std::vector<std::pair<std::string, std::string>> bind_mounts;
  // Who the program runs as. With user.switch_identity the child sets its groups, gid and uid
  // (after the mounts and chdir, which need root, and before exec); for a user other than the
  // caller's, stdout/stderr get the user's group and mode 0660 so the task can write them by
  // name too.
  TaskUser user;
};

// Starts the process and returns its pid once the program has been exec'd: the child is then
// a session and process group leader (pgid == sid == pid) with stdin from /dev/null and
// stdout/stderr appended to <sandbox>/stdout and <sandbox>/stderr. When any step before exec
// fails, the child is reaped, the reason is appended to <sandbox>/stderr and returned
// ("cannot execute 'foo': No such file or directory (...)"); nothing is left running.
Result<int> spawn_task_process(const SpawnRequest& request);

}  // namespace berth
