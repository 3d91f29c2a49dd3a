#include "volume/run_command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "volume/os_error.h"
#include "volume/unique_fd.h"

extern char** environ;

namespace berth {
namespace {

constexpr size_t kMaxStderrBytes = 2048;

std::string describe(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) out += (out.empty() ? "" : " ") + arg;
  return out;
}

}  // namespace

std::optional<std::string> find_executable(const std::string& name) {
  const char* path_env = std::getenv("PATH");
  std::string search = std::string(path_env ? path_env : "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream dirs(search);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

Status run_command(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return os_error(ErrorCode::kInternal, "cannot run " + describe(argv), errno);
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  if (err != 0) return os_error(ErrorCode::kInternal, "cannot run " + describe(argv), err);

  std::string errors;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (errors.size() < kMaxStderrBytes) errors.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return os_error(ErrorCode::kInternal, "cannot wait for " + argv[0], errno);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (errors.size() > kMaxStderrBytes) errors.resize(kMaxStderrBytes);
  while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' ')) errors.pop_back();
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return make_error(ErrorCode::kInternal,
                    describe(argv) + " " + how + (errors.empty() ? "" : ": " + errors));
}

}  // namespace berth
