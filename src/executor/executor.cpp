#include "executor/executor.h"

#include <string.h>

#include <sstream>

namespace berth {

const std::string& task_id_of(const TaskLaunch& launch) {
  return std::visit([](const auto& l) -> const std::string& { return l.task_id; }, launch);
}

const std::string& sandbox_of(const TaskLaunch& launch) {
  return std::visit([](const auto& l) -> const std::string& { return l.sandbox_dir; }, launch);
}

std::string describe_exit(bool signaled, int code, bool oom, double mem_mib) {
  std::string text;
  if (signaled) {
    const char* name = sigabbrev_np(code);
    text = "killed by signal " + std::to_string(code) +
           (name != nullptr ? " (SIG" + std::string(name) + ")" : "");
  } else {
    text = "exited with code " + std::to_string(code);
  }
  if (oom) {
    // The cgroup counts global OOM kills of its processes too, so this names the limit rather
    // than claiming it was the cause.
    std::ostringstream limit;
    limit << mem_mib;
    text += mem_mib > 0 ? "; OOM-killed (memory limit " + limit.str() + " MiB)" : "; OOM-killed";
  }
  return text;
}

}  // namespace berth
