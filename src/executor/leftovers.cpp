#include "executor/leftovers.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace berth {

void for_each_process(const std::function<void(int pid)>& visit) {
  DIR* proc = ::opendir("/proc");
  if (!proc) return;
  pid_t self = ::getpid();
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid > 0 && pid != self) visit(pid);
  }
  ::closedir(proc);
}

std::vector<std::string> proc_entries(int pid, const char* file) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file, std::ios::binary);
  std::vector<std::string> out;
  for (std::string item; std::getline(in, item, '\0');) out.push_back(item);
  return out;
}

std::optional<std::string> env_value(const std::vector<std::string>& environ,
                                     const std::string& name) {
  std::string prefix = name + "=";
  for (const auto& entry : environ) {
    if (entry.rfind(prefix, 0) == 0) return entry.substr(prefix.size());
  }
  return std::nullopt;
}

namespace {

// The fields of /proc/<pid>/stat after the command name's closing parenthesis (the state
// first); empty when the process is gone.
std::vector<std::string> stat_fields(int pid) {
  auto stat = proc_entries(pid, "stat");
  std::vector<std::string> fields;
  size_t paren = stat.empty() ? std::string::npos : stat[0].rfind(')');
  if (paren == std::string::npos) return fields;
  std::istringstream in(stat[0].substr(paren + 1));
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

// Exited means gone or a zombie: a zombie holds no mount, and has no environment to read.
bool exited(int pid) {
  auto fields = stat_fields(pid);
  return fields.empty() || fields[0] == "Z";
}

// PF_KTHREAD in the flags field (the ninth of /proc/<pid>/stat, the seventh after the name).
bool is_kernel_thread(int pid) {
  auto fields = stat_fields(pid);
  constexpr unsigned long kPfKthread = 0x00200000;
  return fields.size() > 6 && (std::strtoul(fields[6].c_str(), nullptr, 10) & kPfKthread) != 0;
}

}  // namespace

int kill_tasks_under(const std::string& dir, const std::set<std::string>& keep) {
  std::string prefix = dir;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  std::vector<int> killed;
  std::vector<int> unread;
  auto consider = [&](int pid) {
    auto environ = proc_entries(pid, "environ");
    if (environ.empty()) {
      unread.push_back(pid);
      return;
    }
    auto sandbox = env_value(environ, "MESOS_SANDBOX");
    if (!sandbox || sandbox->rfind(prefix, 0) != 0) return;
    auto task_id = env_value(environ, "MESOS_TASK_ID");
    if (task_id && keep.count(*task_id)) return;
    if (::kill(pid, SIGKILL) == 0) killed.push_back(pid);
  };
  for_each_process(consider);
  // A process in the middle of execve() shows an empty environment until its new program's
  // stack is set up (a task's `sh -c '...; exec server'` does this as it starts): such a
  // process is read again a little later rather than taken for one outside the sandboxes.
  // Kernel threads have no environment at all and are not waited for.
  std::erase_if(unread, [](int pid) { return is_kernel_thread(pid) || exited(pid); });
  for (int attempt = 0; attempt < 20 && !unread.empty(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<int> again = std::exchange(unread, {});
    for (int pid : again) consider(pid);
    std::erase_if(unread, exited);
  }
  std::vector<int> waiting = killed;
  for (int i = 0; i < 100; ++i) {
    std::erase_if(waiting, exited);
    if (waiting.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return static_cast<int>(killed.size());
}

std::vector<int> signal_agents_under(const std::string& dir, int signal) {
  std::string prefix = dir;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  std::vector<int> pids;
  for_each_process([&](int pid) {
    auto args = proc_entries(pid, "cmdline");
    if (args.size() < 2 || args[1] != "agent") return;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--work-dir" && args[i + 1].rfind(prefix, 0) == 0) {
        if (::kill(pid, signal) == 0) pids.push_back(pid);
        return;
      }
    }
  });
  return pids;
}

}  // namespace berth
