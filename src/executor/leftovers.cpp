#include "executor/leftovers.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace berth {

int kill_tasks_under(const std::string& dir, const std::set<std::string>& keep) {
  std::string needle = "MESOS_SANDBOX=" + dir;
  if (!needle.empty() && needle.back() != '/') needle += '/';
  int killed = 0;
  DIR* proc = ::opendir("/proc");
  if (!proc) return 0;
  pid_t self = ::getpid();
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == self) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/environ", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string env = ss.str();
    // Variables are NUL-separated; match whole entries only.
    size_t at = env.find(needle);
    if (at != std::string::npos && (at == 0 || env[at - 1] == '\0')) {
      size_t id_at = env.find("MESOS_TASK_ID=");
      if (id_at != std::string::npos && (id_at == 0 || env[id_at - 1] == '\0')) {
        size_t start = id_at + 14;
        std::string task_id = env.substr(start, env.find('\0', start) - start);
        if (keep.count(task_id)) continue;
      }
      if (::kill(pid, SIGKILL) == 0) ++killed;
    }
  }
  ::closedir(proc);
  return killed;
}

std::vector<int> signal_agents_under(const std::string& dir, int signal) {
  std::string prefix = dir;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  std::vector<int> pids;
  DIR* proc = ::opendir("/proc");
  if (!proc) return pids;
  pid_t self = ::getpid();
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == self) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::vector<std::string> args;
    for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
    bool agent = args.size() > 1 && args[1] == "agent";
    for (size_t i = 0; agent && i + 1 < args.size(); ++i) {
      if (args[i] == "--work-dir" && args[i + 1].rfind(prefix, 0) == 0) {
        if (::kill(pid, signal) == 0) pids.push_back(pid);
        break;
      }
    }
  }
  ::closedir(proc);
  return pids;
}

}  // namespace berth
