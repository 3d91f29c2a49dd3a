#include "tests/support/etcd_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "http/http.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

// A loopback port nobody listens on right now (the kernel's pick for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // etcd must not outlive a test process that is killed before its teardown.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(binary.c_str(), argv.data());
  ::_exit(127);
}

}  // namespace

std::string EtcdProcess::binary() {
  if (const char* configured = std::getenv("BERTH_ETCD"); configured != nullptr && *configured) {
    return fs::exists(configured) ? configured : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream directories(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string directory; std::getline(directories, directory, ':');) {
    const fs::path candidate = fs::path(directory) / "etcd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::unique_ptr<EtcdProcess> EtcdProcess::start(std::string* error) {
  const std::string etcd = binary();
  if (etcd.empty()) {
    *error = "no etcd binary (apt-get install etcd-server, or set BERTH_ETCD)";
    return nullptr;
  }
  char pattern[] = "/tmp/berth-etcd-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  if (made == nullptr) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  const std::string dir = made;
  const std::string client = "http://127.0.0.1:" + std::to_string(free_port());
  const std::string peer = "http://127.0.0.1:" + std::to_string(free_port());
  const pid_t pid = spawn(etcd,
                          {"--name", "berth-test", "--data-dir", dir + "/data",
                           "--listen-client-urls", client, "--advertise-client-urls", client,
                           "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                           "--initial-cluster", "berth-test=" + peer,
                           "--max-request-bytes", "33554432", "--max-txn-ops", "1024"},
                          dir + "/etcd.log");
  std::unique_ptr<EtcdProcess> process(new EtcdProcess(pid, dir, client));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    Result<http::ClientResponse> answer =
        http::request(client, "POST", "/v3/kv/range", R"({"key":"AA=="})", 1000);
    if (answer.ok() && answer->status == 200) return process;
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      process->pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *error = "etcd at " + client + " did not start; its log:\n" + read_file(dir + "/etcd.log");
  return nullptr;
}

EtcdProcess::~EtcdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

}  // namespace berth::testing
