#include "executor/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

namespace berth {
namespace {

// The step of the child's set-up that failed, sent to the parent with its errno.
enum class ChildStage : int { kSession, kJoinCgroup, kStdio, kSandbox, kExec, kMount, kUser };

struct ChildFailure {
  ChildStage stage;
  int error;
};

// Everything the child touches, as plain pointers and fds built before fork.
struct ChildPlan {
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
  int cgroup_procs_fd;
  int report_fd;  // write end of the CLOEXEC pipe: EOF at the parent means exec succeeded
  int max_fd;     // for closing fds one by one where close_range() is missing
  const char* sandbox_dir;
  char* const* argv;
  char* const* envp;
  const char* const* candidates;    // null-terminated
  char** sh_argv;                   // {"sh", <candidate>, argv[1..], null} for ENOEXEC
  const char* const* mkdirs;        // null-terminated: every directory of every bind target
  const char* const* bind_sources;  // null-terminated, paired with bind_targets
  const char* const* bind_targets;
  bool switch_identity;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t group_count;
};

[[noreturn]] void fail_in_child(const ChildPlan& plan, ChildStage stage, int error) {
  ChildFailure failure{stage, error};
  // A pipe write this small is atomic; if it fails the parent still sees exit code 127.
  ssize_t ignored = ::write(plan.report_fd, &failure, sizeof failure);
  (void)ignored;
  ::_exit(127);
}

bool dup_to(int from, int to) {
  while (::dup2(from, to) < 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

// In the forked child: a private mount namespace with the task's bind mounts.
void bind_mounts(ChildPlan& plan) {
  if (::unshare(CLONE_NEWNS) < 0) fail_in_child(plan, ChildStage::kMount, errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    fail_in_child(plan, ChildStage::kMount, errno);
  }
  for (const char* const* dir = plan.mkdirs; *dir != nullptr; ++dir) {
    if (::mkdir(*dir, 0755) < 0 && errno != EEXIST) fail_in_child(plan, ChildStage::kMount, errno);
  }
  for (size_t i = 0; plan.bind_sources[i] != nullptr; ++i) {
    if (::mount(plan.bind_sources[i], plan.bind_targets[i], nullptr, MS_BIND | MS_REC, nullptr) <
        0) {
      fail_in_child(plan, ChildStage::kMount, errno);
    }
  }
}

// Runs in the child: async-signal-safe calls only. The child shares the agent's memory until
// it execs (spawn_task_process), so it writes nothing but its own stack and, before a failing
// exec through sh, plan.sh_argv.
[[noreturn]] void run_child(ChildPlan& plan) {
  // Handlers the agent installed mean nothing after exec, but ignored signals would stay
  // ignored; every signal goes back to its default. All signals are still blocked here (the
  // parent blocked them around fork), so none can arrive half-way.
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &default_action, nullptr);
  }
  // Own session and process group: the tree can be signalled as one, and a SIGINT or SIGHUP
  // from the agent's terminal does not reach it.
  if (::setsid() < 0) fail_in_child(plan, ChildStage::kSession, errno);
  // "0" means the writing process, in both cgroup v1 and v2.
  if (plan.cgroup_procs_fd >= 0 && ::write(plan.cgroup_procs_fd, "0", 1) != 1) {
    fail_in_child(plan, ChildStage::kJoinCgroup, errno);
  }
  if (plan.bind_sources[0] != nullptr) bind_mounts(plan);
  if (!dup_to(plan.stdin_fd, 0) || !dup_to(plan.stdout_fd, 1) || !dup_to(plan.stderr_fd, 2)) {
    fail_in_child(plan, ChildStage::kStdio, errno);
  }
  if (::chdir(plan.sandbox_dir) < 0) fail_in_child(plan, ChildStage::kSandbox, errno);
  // No fd of the agent (sockets, the store, other tasks' pipes) may leak into the task. Marking
  // them close-on-exec keeps report_fd usable until exec.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd < plan.max_fd; ++fd) {
      if (fd != plan.report_fd) ::close(fd);
    }
  }
  // Last, since the mounts and the cgroup need root. Raw system calls: glibc's set*id()
  // wrappers synchronise every thread of the process, which is not async-signal-safe; the
  // child has a single thread, so the raw call changes the whole process.
  if (plan.switch_identity) {
    if (::syscall(SYS_setgroups, plan.group_count, plan.groups) < 0 ||
        ::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) < 0 ||
        ::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) < 0) {
      fail_in_child(plan, ChildStage::kUser, errno);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // execvp()'s PATH walk, without its allocations.
  int error = ENOENT;
  bool access_denied = false;
  for (const char* const* candidate = plan.candidates; *candidate != nullptr; ++candidate) {
    ::execve(*candidate, plan.argv, plan.envp);
    error = errno;
    if (error == ENOEXEC) {
      plan.sh_argv[1] = const_cast<char*>(*candidate);
      ::execve("/bin/sh", plan.sh_argv, plan.envp);
      error = errno;
      break;
    }
    if (error == EACCES) {
      access_denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV &&
               error != ETIMEDOUT) {
      break;
    }
  }
  if (access_denied && (error == ENOENT || error == ENOTDIR)) error = EACCES;
  fail_in_child(plan, ChildStage::kExec, error);
}

// Keeps fds clear of 0-2, so the child's dup2() onto stdio cannot clobber them (the agent may
// run with a closed stdin), and close-on-exec, so other threads' children do not inherit them.
int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

int open_output(const std::string& path) {
  return above_stdio(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644));
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (const std::string& s : strings) result.push_back(const_cast<char*>(s.c_str()));
  result.push_back(nullptr);
  return result;
}

std::string describe_failure(const SpawnRequest& request, const ChildFailure& failure) {
  std::string reason = std::strerror(failure.error);
  switch (failure.stage) {
    case ChildStage::kSession:
      return "cannot start a new session: " + reason;
    case ChildStage::kJoinCgroup:
      return "cannot join the task's memory cgroup: " + reason;
    case ChildStage::kStdio:
      return "cannot set up stdin/stdout/stderr: " + reason;
    case ChildStage::kSandbox:
      return "cannot enter sandbox " + request.sandbox_dir + ": " + reason;
    case ChildStage::kExec:
      return "cannot execute " + request.program_description + ": " + reason;
    case ChildStage::kMount: {
      std::string binds;
      for (const auto& [from, to] : request.bind_mounts) binds += " " + from + " -> " + to;
      return "cannot bind-mount the task's volumes (" + binds.substr(1) + "): " + reason;
    }
    case ChildStage::kUser:
      return "cannot switch to user '" + request.user.name + "' (uid " +
             std::to_string(request.user.uid) + ", gid " + std::to_string(request.user.gid) +
             "): " + reason;
  }
  return "child set-up failed: " + reason;
}

int child_entry(void* plan) { run_child(*static_cast<ChildPlan*>(plan)); }

// The child's own stack while it shares the agent's memory: run_child needs little.
constexpr size_t kChildStackBytes = 64 * 1024;

class FdCloser {
 public:
  explicit FdCloser(std::vector<int*> fds) : fds_(std::move(fds)) {}
  ~FdCloser() {
    for (int* fd : fds_) {
      if (*fd >= 0) ::close(*fd);
    }
  }

 private:
  std::vector<int*> fds_;
};

}  // namespace

Result<int> spawn_task_process(const SpawnRequest& request) {
  int out_fd = -1, err_fd = -1, null_fd = -1, report_read = -1, report_write = -1;
  FdCloser closer({&out_fd, &err_fd, &null_fd, &report_read, &report_write});
  for (auto [fd, name] : {std::pair{&out_fd, "stdout"}, std::pair{&err_fd, "stderr"}}) {
    *fd = open_output(request.sandbox_dir + "/" + name);
    if (*fd < 0) {
      return make_error(ErrorCode::kInternal, "cannot open " + request.sandbox_dir + "/" + name +
                                                  ": " + std::strerror(errno));
    }
    // The agent stays the owner, so the task cannot replace the files the agent serves as its
    // logs (its sandbox has the sticky bit); the group lets it write them by name too.
    if (request.user.switch_identity && request.user.uid != ::geteuid() &&
        (::fchown(*fd, static_cast<uid_t>(-1), request.user.gid) < 0 || ::fchmod(*fd, 0660) < 0)) {
      return make_error(ErrorCode::kInternal, "cannot give " + request.sandbox_dir + "/" + name +
                                                  " to user '" + request.user.name +
                                                  "': " + std::strerror(errno));
    }
  }
  null_fd = above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int pipe_fds[2];
  if (null_fd < 0 || ::pipe2(pipe_fds, O_CLOEXEC) < 0) {
    return make_error(
        ErrorCode::kInternal,
        std::string("cannot prepare the task's stdin or status pipe: ") + std::strerror(errno));
  }
  report_read = above_stdio(pipe_fds[0]);
  report_write = above_stdio(pipe_fds[1]);
  if (report_read < 0 || report_write < 0) {
    return make_error(ErrorCode::kInternal,
                      std::string("cannot prepare the status pipe: ") + std::strerror(errno));
  }

  std::vector<char*> argv = pointers(request.argv);
  std::vector<char*> envp = pointers(request.envp);
  std::vector<char*> candidates = pointers(request.exec_candidates);
  std::vector<char*> sh_argv{const_cast<char*>("sh"), nullptr};
  for (size_t i = 1; i < request.argv.size(); ++i) {
    sh_argv.push_back(const_cast<char*>(request.argv[i].c_str()));
  }
  sh_argv.push_back(nullptr);
  std::vector<std::string> dirs, sources, targets;
  for (const auto& [from, to] : request.bind_mounts) {
    for (size_t slash = to.find('/', 1);; slash = to.find('/', slash + 1)) {
      dirs.push_back(to.substr(0, slash));
      if (slash == std::string::npos) break;
    }
    sources.push_back(from);
    targets.push_back(to);
  }
  std::vector<char*> mkdirs = pointers(dirs);
  std::vector<char*> bind_sources = pointers(sources);
  std::vector<char*> bind_targets = pointers(targets);
  long open_max = ::sysconf(_SC_OPEN_MAX);
  ChildPlan plan{null_fd,
                 out_fd,
                 err_fd,
                 request.cgroup_procs_fd,
                 report_write,
                 open_max > 0 && open_max < (1 << 20) ? static_cast<int>(open_max) : (1 << 20),
                 request.sandbox_dir.c_str(),
                 argv.data(),
                 envp.data(),
                 candidates.data(),
                 sh_argv.data(),
                 mkdirs.data(),
                 bind_sources.data(),
                 bind_targets.data(),
                 request.user.switch_identity,
                 request.user.uid,
                 request.user.gid,
                 request.user.groups.data(),
                 request.user.groups.size()};

  // The child shares the agent's memory and the agent's thread waits until it has exec'd or
  // exited (CLONE_VM | CLONE_VFORK, what posix_spawn does): copying the page tables of a large
  // multi-threaded agent for every task, and the copy-on-write faults after, cost more than the
  // rest of a launch. The child still joins the cgroup, mounts and switches user before exec,
  // which posix_spawn cannot. Signals stay blocked across it, so no handler of the agent runs
  // on the child's stack.
  std::unique_ptr<char[]> child_stack(new char[kChildStackBytes]);
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::clone(child_entry, child_stack.get() + kChildStackBytes,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(report_write);
  report_write = -1;
  if (pid < 0) {
    return make_error(ErrorCode::kInternal, std::string("cannot start the task process (clone): ") +
                                                std::strerror(fork_error));
  }

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return pid;  // exec'd: the pipe closed on exec

  // A short or failed read cannot come from a healthy child; make sure waitpid() returns.
  if (n != static_cast<ssize_t>(sizeof failure)) ::kill(pid, SIGKILL);
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string message = n == static_cast<ssize_t>(sizeof failure)
                            ? describe_failure(request, failure)
                            : "the task process failed before exec (status pipe read " +
                                  std::to_string(n) + " bytes)";
  std::string line = "berth: " + message + "\n";
  ssize_t ignored = ::write(err_fd, line.data(), line.size());
  (void)ignored;
  bool spec_fault =
      n == static_cast<ssize_t>(sizeof failure) && failure.stage == ChildStage::kExec &&
      request.program_from_spec &&
      (failure.error == ENOENT || failure.error == EACCES || failure.error == ENOEXEC ||
       failure.error == ENOTDIR || failure.error == ELOOP || failure.error == ENAMETOOLONG);
  return make_error(spec_fault ? ErrorCode::kInvalidArgument : ErrorCode::kInternal, message);
}

}  // namespace berth
