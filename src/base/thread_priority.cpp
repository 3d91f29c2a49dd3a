#include "base/thread_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth {

std::string raise_thread_priority() {
  sched_param param{};
  param.sched_priority = 1;
  // Policy and priority of this thread only (tid 0 = the caller).
  if (::sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &param) == 0) return "SCHED_RR";
  const int rr_errno = errno;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, -10) == 0) return "nice -10";
  return std::string("normal (") + std::strerror(rr_errno) + ")";
}

std::string favour_thread(int nice) {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, nice) == 0) return "nice " + std::to_string(nice);
  return std::string("normal (") + std::strerror(errno) + ")";
}

}  // namespace berth
