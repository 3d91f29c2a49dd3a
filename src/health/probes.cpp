#include "health/probes.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <vector>

#include "http/http.h"

namespace berth::health {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kMaxOutputBytes = 4096;  // kept from a command's output
constexpr size_t kMaxCauseOutput = 300;   // of which this much goes into the cause
constexpr std::chrono::milliseconds kCommandPollSlice{10};

std::string errno_text(int error) { return std::generic_category().message(error); }

ProbeResult pass() { return {ProbeOutcome::kPass, ""}; }
ProbeResult fail(std::string cause) { return {ProbeOutcome::kFail, std::move(cause)}; }

std::string seconds_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// The reason phrases of the statuses health endpoints answer with; others show the number only.
const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// One non-blocking connect attempt to `address`, bounded by `deadline`; 0 or an errno value.
int connect_once(const addrinfo& address, Steady::time_point deadline) {
  Fd socket_fd(::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        address.ai_protocol));
  if (socket_fd.get() < 0) return errno;
  if (::connect(socket_fd.get(), address.ai_addr, address.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    if (left.count() <= 0) return ETIMEDOUT;
    pollfd p{socket_fd.get(), POLLOUT, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) return ETIMEDOUT;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) < 0) return errno;
    return error;
  }
}

std::string trimmed_output(const std::string& output) {
  std::string text = output.substr(0, kMaxCauseOutput);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  if (output.size() > kMaxCauseOutput) text += "...";
  return text;
}

// Reads what the pipe holds now into `output` (keeping at most kMaxOutputBytes); returns
// false at end of file or on an error.
bool drain(int fd, std::string* output) {
  char buffer[1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      size_t room = kMaxOutputBytes - std::min(kMaxOutputBytes, output->size());
      output->append(buffer, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// True once `pid` has exited, leaving it a zombie so that its pid (and process group id)
// cannot be reused before we reap it.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
    return errno != EINTR;  // ECHILD: already reaped by someone else
  }
  return info.si_pid == pid;
}

// posix_spawn is safe in the multi-threaded agent (no allocation or locks between fork and
// exec). The child gets its own process group so that a timeout kills everything it started.
Result<pid_t> spawn_shell(const CommandProbe& probe, int output_fd) {
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : probe.env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string shell = "/bin/sh", dash_c = "-c", command = probe.command;
  char* argv[] = {shell.data(), dash_c.data(), command.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  ::posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
  if (!probe.sandbox_dir.empty()) {
    ::posix_spawn_file_actions_addchdir_np(&actions, probe.sandbox_dir.c_str());
  }
  // The agent's other descriptors (sockets, task pipes) are none of the check's business.
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  ::posix_spawnattr_setflags(
      &attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int error = ::posix_spawn(&pid, shell.c_str(), &actions, &attributes, argv, envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    std::string where = probe.sandbox_dir.empty() ? "" : " in " + probe.sandbox_dir;
    return make_error(ErrorCode::kUnavailable,
                      "cannot run /bin/sh" + where + ": " + errno_text(error));
  }
  return pid;
}

std::string exit_cause(int status, const std::string& output) {
  std::string cause;
  if (WIFEXITED(status)) {
    cause = "command exited with status " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    cause = "command was killed by signal " + std::to_string(WTERMSIG(status));
  } else {
    cause = "command ended with wait status " + std::to_string(status);
  }
  std::string text = trimmed_output(output);
  if (!text.empty()) cause += ": " + text;
  return cause;
}

}  // namespace

ProbeResult probe_http(const std::string& host, uint16_t port, const std::string& target,
                       std::chrono::milliseconds timeout, bool ignore_http_1xx,
                       const std::vector<int>& ok_statuses) {
  std::string base = "http://" + host + ":" + std::to_string(port);
  auto response = http::request(base, "GET", target, "", static_cast<int>(timeout.count()));
  if (!response) return fail(response.error().message);
  int status = response->status;
  bool ok = ok_statuses.empty()
                ? status >= 200 && status <= 399
                : std::find(ok_statuses.begin(), ok_statuses.end(), status) != ok_statuses.end();
  if (ok) return pass();
  std::string cause = std::to_string(status);
  if (*reason_phrase(status) != '\0') cause += std::string(" ") + reason_phrase(status);
  if (status >= 100 && status <= 199 && ignore_http_1xx) return {ProbeOutcome::kIgnored, cause};
  return fail(cause);
}

ProbeResult probe_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = Steady::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  std::string port_text = std::to_string(port);
  int resolved = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &addresses);
  if (resolved != 0) return fail("cannot resolve " + host + ": " + ::gai_strerror(resolved));
  int error = ECONNREFUSED;
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    error = connect_once(*a, deadline);
    if (error == 0 || error == ETIMEDOUT) break;
  }
  ::freeaddrinfo(addresses);
  if (error == 0) return pass();
  if (error == ETIMEDOUT) {
    return fail("cannot connect to " + host + ":" + port_text + " within " + seconds_text(timeout));
  }
  return fail("cannot connect to " + host + ":" + port_text + ": " + errno_text(error));
}

ProbeResult probe_command(const CommandProbe& probe, const std::atomic<bool>& cancelled) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
    return fail("cannot create a pipe for the command: " + errno_text(errno));
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  // The child's end must block: commands do not expect EAGAIN on stdout.
  ::fcntl(write_end.get(), F_SETFL, ::fcntl(write_end.get(), F_GETFL) & ~O_NONBLOCK);
  auto pid = spawn_shell(probe, write_end.get());
  write_end.reset();
  if (!pid) return fail(pid.error().message);

  auto deadline = Steady::now() + probe.timeout;
  std::string output;
  bool pipe_open = true;
  bool timed_out = false;
  while (!has_exited(*pid)) {
    if (Steady::now() >= deadline || cancelled.load()) {
      timed_out = !cancelled.load();
      ::kill(-*pid, SIGKILL);
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    int slice = static_cast<int>(kCommandPollSlice.count());
    if (pipe_open) {
      if (::poll(&p, 1, slice) > 0) pipe_open = drain(read_end.get(), &output);
    } else {
      ::poll(nullptr, 0, slice);
    }
  }
  // The shell's leftovers (background jobs, a hung curl) die with it. The group id cannot have
  // been reused: the shell is still an unreaped zombie.
  ::kill(-*pid, SIGKILL);
  int status = 0;
  pid_t reaped;
  while ((reaped = ::waitpid(*pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (pipe_open) drain(read_end.get(), &output);
  if (cancelled.load()) return fail("health check cancelled");
  if (timed_out) return fail("command timed out after " + seconds_text(probe.timeout));
  if (reaped != *pid) return fail("the exit status of the command was lost (reaped elsewhere)");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return pass();
  return fail(exit_cause(status, output));
}

}  // namespace berth::health
