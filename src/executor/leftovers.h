// Finding task processes that outlived their agent: a process belongs to a sandbox when its
// environment says MESOS_SANDBOX=<dir>/... (every task gets that variable). Used by an agent
// at start-up (tasks of its previous incarnation cannot be re-adopted yet) and by `berth up`
// at shutdown (tasks of agents that were SIGKILLed), so nothing is left running.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth {

// Calls `visit(pid)` for every process of the host except the calling one.
void for_each_process(const std::function<void(int pid)>& visit);
// The NUL-separated entries of /proc/<pid>/<file> ("cmdline" or "environ"); empty when the
// process is gone or not readable.
std::vector<std::string> proc_entries(int pid, const char* file);
// The value of NAME in environ entries ("NAME=value"), or nullopt.
std::optional<std::string> env_value(const std::vector<std::string>& environ,
                                     const std::string& name);

// SIGKILLs every process whose MESOS_SANDBOX lies under `dir`, except those whose
// MESOS_TASK_ID is in `keep`, and waits (up to 5 s) until they have exited, so that their
// datasets can be unmounted; returns how many it signalled.
int kill_tasks_under(const std::string& dir, const std::set<std::string>& keep = {});

// Sends `signal` to every `berth agent` process whose --work-dir lies under `dir` (agents that
// `berth up` did not start itself, e.g. restarted by `berth demo`); returns their pids.
std::vector<int> signal_agents_under(const std::string& dir, int signal);

}  // namespace berth
