// The threads that keep leases (docs/fencing.md §9) ask the kernel to run them ahead of
// everything else the process and the node do, so that a busy machine delays a heartbeat as
// little as it can.
#pragma once

#include <string>

namespace berth {

// Raises the calling thread: the real-time policy SCHED_RR at priority 1, reset for anything
// the thread forks or creates, so no other thread or process inherits it; where that is not
// allowed, nice -10; where neither is, nothing. Returns what it got, for the log:
// "SCHED_RR", "nice -10" or "normal (<why>)".
std::string raise_thread_priority();

// Gives the calling thread nice `nice` (negative: ahead of the normal threads, still under the
// fair scheduler). The master's controller runs so: it holds the state lock for a whole plan,
// and every request that waits for the lock waits longer while the controller is preempted.
// Returns what it got, for the log: "nice -5" or "normal (<why>)".
std::string favour_thread(int nice);

}  // namespace berth
