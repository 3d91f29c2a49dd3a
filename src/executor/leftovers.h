// Finding task processes that outlived their agent: a process belongs to a sandbox when its
// environment says MESOS_SANDBOX=<dir>/... (every task gets that variable). Used by an agent
// at start-up (tasks of its previous incarnation cannot be re-adopted yet) and by `berth up`
// at shutdown (tasks of agents that were SIGKILLed), so nothing is left running.
#pragma once

#include <string>

namespace berth {

// SIGKILLs every process whose MESOS_SANDBOX lies under `dir`; returns how many it signalled.
int kill_tasks_under(const std::string& dir);

}  // namespace berth
