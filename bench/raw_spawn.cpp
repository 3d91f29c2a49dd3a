// berth-bench-raw-spawn: how fast this machine starts task processes without berth, as the
// baseline for bench/e2e_launch.sh. posix_spawn()s N copies of a command the way the process
// executor starts a task with a `cmd` (docs/architecture.md §7): `/bin/sh -c CMD`, each in a
// fresh sandbox directory of its own, in a new session, stdin from /dev/null, stdout and
// stderr appended to `stdout` and `stderr` in the sandbox, signals back to their defaults and
// unblocked, every other inherited fd closed, and a Marathon-style environment. The shell
// forks the command (dash does not exec the last command of -c), as it does under berth. The clock
// runs from the first sandbox directory until the last posix_spawn() has returned (glibc returns
// once the child has exec'd). Afterwards every process group is SIGKILLed, every child reaped and
// the directory removed.
//
//   berth-bench-raw-spawn [--dir DIR] [--keep] [--memory-cgroup DIR] [N=1000] [CMD="sleep 100000"]
//
// --dir: where the temporary directory goes (default $TMPDIR or /tmp); it is created as
// DIR/berth-raw-spawn.XXXXXX and removed at the end, unless --keep: then its path is printed on
// stderr and removing it is the caller's job. bench/e2e_launch.sh keeps it until berth's run is
// over: on an ext4 without a journal, every inode created within seconds of a mass deletion
// first skips past the recently deleted ones, which would slow down the launches measured next.
// --memory-cgroup: also give each process a cgroup v1 memory cgroup of its own under DIR (an
// existing directory of a memory hierarchy, e.g. /sys/fs/cgroup/memory): mkdir, a 1 MiB
// memory.limit_in_bytes (and memsw when present), then the pid written to cgroup.procs by
// this process after the spawn (the executor has the child join before exec), rmdir at the
// end. Off by default: the baseline is the spawn alone.
//
// Prints `raw_spawn N=... seconds=... per_s=...` on stdout. What the executor does on top:
// it fork()s the agent (a multi-threaded process with far more mapped memory) instead of
// vfork-style spawning, waits on a pipe for the exec, resets every signal and marks every
// inherited fd close-on-exec in the child, and (with cgroup v1 memory available) creates and
// joins a memory cgroup per task.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

struct Options {
  long n = 1000;
  std::string command = "sleep 100000";
  std::string dir;
  std::string memory_cgroup;
  bool keep = false;
};

[[noreturn]] void usage(const char* self) {
  std::fprintf(
      stderr,
      "usage: %s [--dir DIR] [--keep] [--memory-cgroup DIR] [N=1000] [CMD=\"sleep 100000\"]\n",
      self);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  const char* tmp = std::getenv("TMPDIR");
  options.dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--keep") {
      options.keep = true;
    } else if ((arg == "--dir" || arg == "--memory-cgroup") && i + 1 < argc) {
      (arg == "--dir" ? options.dir : options.memory_cgroup) = argv[++i];
    } else if (arg.rfind("--", 0) == 0) {
      usage(argv[0]);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() > 2) usage(argv[0]);
  if (!positional.empty()) {
    char* end = nullptr;
    options.n = std::strtol(positional[0].c_str(), &end, 10);
    if (*end != '\0' || options.n < 1) usage(argv[0]);
  }
  if (positional.size() == 2) options.command = positional[1];
  return options;
}

bool write_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

// The environment of a task of app /raw with no ports (what src/agent/task_env.cpp sets).
std::vector<std::string> task_environment(const std::string& sandbox, const std::string& id) {
  const char* path = std::getenv("PATH");
  return {"HOME=" + sandbox,
          "HOST=127.0.0.1",
          "MARATHON_APP_ID=/raw",
          "MARATHON_APP_LABELS=",
          "MARATHON_APP_RESOURCE_CPUS=0.001",
          "MARATHON_APP_RESOURCE_DISK=0",
          "MARATHON_APP_RESOURCE_MEM=1",
          "MARATHON_APP_VERSION=2026-01-01T00:00:00.000Z",
          "MESOS_SANDBOX=" + sandbox,
          "MESOS_TASK_ID=" + id,
          std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"),
          "PORTS="};
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse(argc, argv);
  std::string templ = options.dir + "/berth-raw-spawn.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory under %s: %s\n", options.dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const std::string root = templ;
  const std::string sandboxes = root + "/sandboxes";
  ::mkdir(sandboxes.c_str(), 0755);
  std::string cgroup_parent;
  if (!options.memory_cgroup.empty()) {
    cgroup_parent = options.memory_cgroup + "/" + root.substr(root.rfind('/') + 1);
    if (::mkdir(cgroup_parent.c_str(), 0755) != 0) {
      std::fprintf(stderr, "cannot create %s: %s\n", cgroup_parent.c_str(), std::strerror(errno));
      std::filesystem::remove_all(root);
      return 1;
    }
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<pid_t> pids;
  std::vector<std::string> cgroups;
  pids.reserve(static_cast<size_t>(options.n));
  std::string failure;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < options.n && failure.empty(); ++i) {
    std::string id = "raw." + std::to_string(i);
    std::string sandbox = sandboxes + "/" + id;
    if (::mkdir(sandbox.c_str(), 0755) != 0) {
      failure = "mkdir " + sandbox + ": " + std::strerror(errno);
      break;
    }
    std::string cgroup;
    if (!cgroup_parent.empty()) {
      cgroup = cgroup_parent + "/" + id;
      if (::mkdir(cgroup.c_str(), 0755) != 0) {
        failure = "mkdir " + cgroup + ": " + std::strerror(errno);
        break;
      }
      cgroups.push_back(cgroup);
      std::string limit = std::to_string(1 << 20);
      std::string memsw = cgroup + "/memory.memsw.limit_in_bytes";
      if (!write_file(cgroup + "/memory.limit_in_bytes", limit) ||
          (::access(memsw.c_str(), F_OK) == 0 && !write_file(memsw, limit))) {
        failure = "cannot set the memory limit of " + cgroup + ": " + std::strerror(errno);
        break;
      }
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    std::string out = sandbox + "/stdout", err = sandbox + "/stderr";
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
    posix_spawn_file_actions_addchdir_np(&actions, sandbox.c_str());
#if __GLIBC_PREREQ(2, 34)
    // No inherited fd beyond stdio, as the executor's close_range(3, ~0U, CLOSE_RANGE_CLOEXEC).
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    std::vector<std::string> args{"sh", "-c", options.command};
    std::vector<std::string> env = task_environment(sandbox, id);
    std::vector<char*> argv_ptrs = pointers(args), env_ptrs = pointers(env);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv_ptrs.data(), env_ptrs.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      failure = std::string("posix_spawn: ") + std::strerror(rc);
      break;
    }
    pids.push_back(pid);
    if (!cgroup.empty() && !write_file(cgroup + "/cgroup.procs", std::to_string(pid))) {
      failure = "cannot move pid " + std::to_string(pid) + " into " + cgroup + ": " +
                std::strerror(errno);
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  posix_spawnattr_destroy(&attr);

  // Each child leads its own process group: kill the groups, and reap the shells and, as their
  // subreaper, the commands they forked, so that none is left when this returns.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  for (pid_t pid : pids) ::kill(-pid, SIGKILL);
  int reaped = 0;
  for (;;) {
    int status;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid > 0) {
      ++reaped;
    } else if (errno != EINTR) {
      break;  // ECHILD: none left
    }
  }
  for (const std::string& cgroup : cgroups) ::rmdir(cgroup.c_str());
  if (!cgroup_parent.empty()) ::rmdir(cgroup_parent.c_str());
  if (options.keep) {
    std::fprintf(stderr, "raw_spawn: kept %s\n", root.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }

  if (!failure.empty()) {
    std::fprintf(stderr, "raw_spawn: failed after %zu processes: %s\n", pids.size(),
                 failure.c_str());
    return 1;
  }
  std::printf("raw_spawn N=%ld seconds=%.3f per_s=%.1f%s\n", options.n, seconds,
              static_cast<double>(options.n) / seconds,
              cgroup_parent.empty() ? "" : " memory_cgroup=yes");
  std::fprintf(stderr, "raw_spawn: killed and reaped %d processes (shells and their commands)\n",
               reaped);
  return 0;
}
