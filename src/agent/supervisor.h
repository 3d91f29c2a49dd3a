// The task supervisor (docs/fencing.md §3): a small process per task that writes exclusive
// datasets. It holds the lease deadline the agent last wrote to a file and SIGKILLs the task's
// whole tree when the deadline passes, so the task dies on time even when its agent is paused, hung
// or dead. It outlives the agent (its own session, not the agent's child) and ends when the task
// ends or the deadline file is removed. `berth supervise` runs it; the agent starts it.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace berth::agent {

// Replaces the agent's file `path` in a task's sandbox with `text` atomically: writes
// `path`.tmp, then renames it. A task running as another user may create files in its sandbox,
// so whatever it put at `path`.tmp (a link to /etc/shadow, say) is removed, never followed;
// should it win that race, the write fails (kInternal) and nothing outside the sandbox changes.
Status write_sandbox_file(const std::string& path, const std::string& text);

// The deadline file holds CLOCK_MONOTONIC nanoseconds as decimal text, replaced atomically
// (write_sandbox_file). CLOCK_MONOTONIC is one clock for every process of the host.
Status write_deadline_file(const std::string& path, std::chrono::steady_clock::time_point deadline);

// Runs the supervisor loop: returns 0 after the task ended or the file went away, 1 after it
// killed the task. `cgroup_procs` (may be empty) lists processes that left the process group.
int run_supervisor(int task_pid, const std::string& deadline_file, const std::string& cgroup_procs);

// Starts a supervisor for `task_pid`, detached from the calling process (double fork, setsid)
// by exec'ing `self_exe supervise ...`.
Status start_supervisor(const std::string& self_exe, int task_pid, const std::string& deadline_file,
                        const std::string& cgroup_procs);

}  // namespace berth::agent
