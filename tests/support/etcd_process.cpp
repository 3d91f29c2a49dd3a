#include "tests/support/etcd_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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

pid_t spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::string& log) {
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

std::unique_ptr<EtcdProcess> EtcdProcess::start(
    std::string* error, int members, const std::vector<std::string>& extra_client_hosts) {
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
  std::unique_ptr<EtcdProcess> cluster(new EtcdProcess(made));
  std::vector<std::string> peers;
  std::string initial_cluster;
  for (int i = 0; i < members; ++i) {
    cluster->client_urls_.push_back("http://127.0.0.1:" + std::to_string(free_port()));
    peers.push_back("http://127.0.0.1:" + std::to_string(free_port()));
    initial_cluster += (i ? "," : "") + ("m" + std::to_string(i)) + "=" + peers.back();
  }
  for (int i = 0; i < members; ++i) {
    const std::string name = "m" + std::to_string(i);
    const std::string& client = cluster->client_urls_[i];
    std::string listen = client;
    for (const std::string& host : extra_client_hosts)
      listen += ",http://" + host + client.substr(client.rfind(':'));
    cluster->pids_.push_back(spawn(etcd,
                                   {"--name",
                                    name,
                                    "--data-dir",
                                    cluster->dir_ + "/" + name,
                                    "--listen-client-urls",
                                    listen,
                                    "--advertise-client-urls",
                                    client,
                                    "--listen-peer-urls",
                                    peers[i],
                                    "--initial-advertise-peer-urls",
                                    peers[i],
                                    "--initial-cluster",
                                    initial_cluster,
                                    "--initial-cluster-state",
                                    "new",
                                    "--max-request-bytes",
                                    "33554432",
                                    "--max-txn-ops",
                                    "1024"},
                                   cluster->dir_ + "/" + name + ".log"));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int i = 0; i < members; ++i) {
    while (true) {
      Result<http::ClientResponse> answer = http::request(
          cluster->client_urls_[i], "POST", "/v3/kv/range", R"({"key":"AA=="})", 1000);
      if (answer.ok() && answer->status == 200) break;
      if (::waitpid(cluster->pids_[i], nullptr, WNOHANG) == cluster->pids_[i])
        cluster->pids_[i] = -1;
      if (cluster->pids_[i] < 0 || std::chrono::steady_clock::now() > deadline) {
        *error =
            "etcd at " + cluster->client_urls_[i] + " did not start; the logs:\n" + cluster->logs();
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return cluster;
}

std::string EtcdProcess::logs() const {
  std::string out;
  for (size_t i = 0; i < pids_.size(); ++i) {
    const std::string log = dir_ + "/m" + std::to_string(i) + ".log";
    out += "--- " + log + "\n" + read_file(log);
  }
  return out;
}

int64_t EtcdProcess::revision() const {
  Result<http::ClientResponse> answer = http::request(client_url(), "POST", "/v3/kv/range",
                                                      R"({"key":"AA==","count_only":true})", 1000);
  if (!answer.ok() || answer->status != 200) return -1;
  const nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, false);
  if (!body.is_object() || !body.contains("header")) return -1;
  return std::stoll(body["header"].value("revision", "-1"));
}

size_t EtcdProcess::leader() const {
  for (size_t i = 0; i < client_urls_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    Result<http::ClientResponse> answer =
        http::request(client_urls_[i], "POST", "/v3/maintenance/status", "{}", 1000);
    if (!answer.ok() || answer->status != 200) continue;
    // maintenance/status answers {"header":{"member_id":"..."},"leader":"..."}.
    const nlohmann::json status = nlohmann::json::parse(answer->body, nullptr, false);
    if (status.is_object() && status.contains("leader") && status.contains("header") &&
        status["header"].value("member_id", "") == status.value("leader", "-")) {
      return i;
    }
  }
  return 0;
}

void EtcdProcess::kill_member(size_t index) {
  if (pids_.at(index) <= 0) return;
  ::kill(pids_[index], SIGKILL);
  ::waitpid(pids_[index], nullptr, 0);
  pids_[index] = -1;
}

void EtcdProcess::pause_member(size_t index) {
  if (pids_.at(index) > 0) ::kill(pids_[index], SIGSTOP);
}

void EtcdProcess::resume_member(size_t index) {
  if (pids_.at(index) > 0) ::kill(pids_[index], SIGCONT);
}

EtcdProcess::~EtcdProcess() {
  for (size_t i = 0; i < pids_.size(); ++i) kill_member(i);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

}  // namespace berth::testing
