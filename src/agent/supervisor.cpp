#include "agent/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace berth::agent {
namespace {

bool read_deadline(const std::string& path, int64_t* ns) {
  std::ifstream in(path);
  return static_cast<bool>(in >> *ns);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void kill_tree(int pid, const std::string& cgroup_procs) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  if (cgroup_procs.empty()) return;
  std::ifstream in(cgroup_procs);
  for (int p; in >> p;) ::kill(p, SIGKILL);
}

}  // namespace

Status write_sandbox_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  auto failed = [&](const std::string& what) {
    return make_error(ErrorCode::kInternal, what + ": " + std::strerror(errno));
  };
  // Whatever is at `tmp` may have been put there by the task: never follow it or write into it.
  if (::unlink(tmp.c_str()) < 0 && errno != ENOENT) return failed("cannot remove " + tmp);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return failed("cannot create " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status error = failed("cannot write " + tmp);
      ::close(fd);
      return error;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) < 0) return failed("cannot write " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return failed("cannot replace " + path);
  return {};
}

Status write_deadline_file(const std::string& path,
                           std::chrono::steady_clock::time_point deadline) {
  return write_sandbox_file(
      path, std::to_string(
                std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                    .count()) +
                "\n");
}

int run_supervisor(int task_pid, const std::string& deadline_file,
                   const std::string& cgroup_procs) {
  while (true) {
    if (::kill(task_pid, 0) != 0) {  // the task is gone
      std::fprintf(stderr, "berth supervise: task pid %d ended\n", task_pid);
      return 0;
    }
    int64_t deadline = 0;
    if (!read_deadline(deadline_file, &deadline)) {
      // Removed: the agent stopped supervising it (the task ended or was handed over).
      if (::access(deadline_file.c_str(), F_OK) != 0) {
        std::fprintf(stderr, "berth supervise: %s removed: no longer supervising pid %d\n",
                     deadline_file.c_str(), task_pid);
        return 0;
      }
    } else if (now_ns() >= deadline) {
      kill_tree(task_pid, cgroup_procs);
      std::fprintf(stderr,
                   "berth supervise: lease deadline passed without renewal: killed task pid %d\n",
                   task_pid);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status start_supervisor(const std::string& self_exe, int task_pid, const std::string& deadline_file,
                        const std::string& cgroup_procs) {
  // Everything the child needs is prepared here: only async-signal-safe calls after fork.
  std::string pid_text = std::to_string(task_pid);
  std::string log = deadline_file + ".log";
  pid_t child = ::fork();
  if (child < 0) return make_error(ErrorCode::kInternal, "cannot fork a supervisor");
  if (child == 0) {
    if (::fork() != 0) ::_exit(0);
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execl(self_exe.c_str(), self_exe.c_str(), "supervise", "--pid", pid_text.c_str(),
            "--deadline-file", deadline_file.c_str(), "--cgroup-procs", cgroup_procs.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::waitpid(child, nullptr, 0);
  return {};
}

}  // namespace berth::agent
