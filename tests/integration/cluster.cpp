#include "tests/integration/cluster.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "executor/docker_executor.h"
#include "executor/leftovers.h"
#include "http/http.h"

namespace berth::testing {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Calls f(pid, environ) for every process.
void for_each_process(const std::function<void(pid_t, const std::string&)>& f) {
  DIR* proc = ::opendir("/proc");
  if (!proc) return;
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    f(pid, read_file(std::string("/proc/") + e->d_name + "/environ"));
  }
  ::closedir(proc);
}

bool is_zombie(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z';
}

}  // namespace

Cluster::Cluster(int agents, int64_t lost_timeout_ms,
                 std::map<int, std::vector<std::string>> agent_args,
                 std::map<int, std::pair<std::string, std::string>> agent_netns,
                 std::vector<std::string> master_args, int masters,
                 std::map<int, MasterSetup> master_setup)
    : lost_timeout_ms_(lost_timeout_ms),
      agent_args_(std::move(agent_args)),
      agent_netns_(std::move(agent_netns)),
      master_args_(std::move(master_args)),
      master_setup_(std::move(master_setup)) {
  char tmpl[] = "/tmp/berth-it-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  std::filesystem::create_directories(dir_ + "/pool");
  port_ = free_port();
  admin_token_ = "admin.it-" + std::to_string(::getpid()) + "-" + std::to_string(port_);
  std::ofstream(dir_ + "/admin-token") << admin_token_ << "\n";
  master_ports_.push_back(port_);
  for (int i = 2; i <= masters; ++i) master_ports_.push_back(free_port());
  url_ = master_url(1);
  masters_.assign(master_ports_.size(), -1);
  try {
    for (int i = 1; i <= masters; ++i) start_master(i);
    for (int i = 1; i <= agents; ++i) start_agent(i);
    if (!eventually([&] { return active_nodes() == agents; }, std::chrono::seconds(20))) {
      throw std::runtime_error("cluster did not come up; logs in " + dir_);
    }
  } catch (...) {
    stop_everything(true);  // no destructor runs for a constructor that throws; keep the logs
    throw;
  }
}

namespace {

// Lazily unmounts every mount under `dir` (loop datasets the agents left mounted), deepest
// first; the loop devices, bound with autoclear, go with their last mount.
void detach_mounts_under(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> points;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    std::string decoded;  // mountinfo writes a space as \040 and so on
    for (size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size()) {
        decoded += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        decoded += point[i];
      }
    }
    if (decoded.rfind(dir + "/", 0) == 0) points.push_back(decoded);
  }
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& point : points) ::umount2(point.c_str(), MNT_DETACH);
}

}  // namespace

Cluster::~Cluster() { stop_everything(false); }

void Cluster::stop_everything(bool keep_dir) {
  for (auto& [i, pid] : agents_) {
    if (pid > 0) ::kill(pid, SIGUSR1);  // the agent stops its tasks too
  }
  for (auto& [i, pid] : agents_) {
    if (pid <= 0) continue;
    for (int n = 0; n < 100 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  for (pid_t master : masters_) {
    if (master <= 0) continue;
    ::kill(master, SIGCONT);
    ::kill(master, SIGKILL);
    ::waitpid(master, nullptr, 0);
  }
  // Agents started again by a test's subject (berth demo restarts the node it kills).
  for (int pid : signal_agents_under(dir_, SIGKILL)) ::waitpid(pid, nullptr, WNOHANG);
  kill_leftovers();
  remove_containers_under(dir_);
  detach_mounts_under(dir_);
  std::error_code ec;
  if (!keep_dir && !std::getenv("BERTH_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir_, ec);
}

pid_t Cluster::spawn(const std::vector<std::string>& given, const std::string& log) {
  std::vector<std::string> args = given;
  std::vector<std::string> storage;
  std::string program = BERTH_BINARY;
  if (args.size() > 1 && args[0] == "--netns") {
    // nsenter joins only the network namespace and then execs berth: the pid stays berth's.
    program = "/usr/bin/nsenter";
    storage = {"nsenter", "--net=/run/netns/" + args[1], BERTH_BINARY};
    args.erase(args.begin(), args.begin() + 2);
  } else {
    storage = {BERTH_BINARY};
  }
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setenv("BERTH_JOIN_TOKEN", token_.c_str(), 1);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string Cluster::master_url(int index) const {
  auto setup = master_setup_.find(index);
  const bool elsewhere = setup != master_setup_.end() && !setup->second.host.empty();
  return "http://" + (elsewhere ? setup->second.host : std::string("127.0.0.1")) + ":" +
         std::to_string(master_ports_.at(index - 1));
}

std::string Cluster::master_urls() const {
  std::string urls;
  for (int i = 1; i <= masters(); ++i) urls += (i > 1 ? "," : "") + master_url(i);
  return urls;
}

void Cluster::start_master(int index) {
  // Every address: an agent in a network namespace of the test reaches it over a veth pair.
  // Every address, so plain HTTP needs --insecure (the tests' own namespaces only).
  std::vector<std::string> args = {
      "master",
      "--host",
      "0.0.0.0",
      "--insecure",
      "--port",
      std::to_string(master_ports_.at(index - 1)),
      "--data-dir",
      dir_ + (index == 1 ? "/master" : "/master-" + std::to_string(index)),
      "--admin-token-file",
      dir_ + "/admin-token",
      "--heartbeat-interval-ms",
      "200",
      "--lease-ms",
      std::to_string(lost_timeout_ms_ - 500),
      "--lost-timeout-ms",
      std::to_string(lost_timeout_ms_),
      "--service-ports",
      std::to_string(service_port_begin()) + "-" + std::to_string(service_port_begin() + 100)};
  args.insert(args.end(), master_args_.begin(), master_args_.end());
  auto setup = master_setup_.find(index);
  if (setup != master_setup_.end()) {
    // It listens on that address alone: `berth master` advertises (in /v2/leader, to agents and
    // to standbys) the address it listens on, 127.0.0.1 for 0.0.0.0, and has no flag for another.
    if (!setup->second.host.empty())
      *(std::find(args.begin(), args.end(), "--host") + 1) = setup->second.host;
    args.insert(args.end(), setup->second.args.begin(), setup->second.args.end());
    if (!setup->second.netns.empty()) args.insert(args.begin(), {"--netns", setup->second.netns});
  }
  const std::string log =
      dir_ + (index == 1 ? "/master.log" : "/master-" + std::to_string(index) + ".log");
  masters_.at(index - 1) = spawn(args, log);
  if (!eventually([&] { return http::request(master_url(index), "GET", "/ping", "", 500).ok(); },
                  std::chrono::seconds(10))) {
    throw std::runtime_error("master did not start; log in " + log);
  }
}

void Cluster::kill_master(int index) {
  pid_t& master = masters_.at(index - 1);
  ::kill(master, SIGCONT);
  ::kill(master, SIGKILL);
  ::waitpid(master, nullptr, 0);
  master = -1;
}

void Cluster::pause_master(int index) { ::kill(masters_.at(index - 1), SIGSTOP); }
void Cluster::resume_master(int index) { ::kill(masters_.at(index - 1), SIGCONT); }

int Cluster::leader_index() {
  ApiAnswer answer = call("GET", "/v2/leader");
  if (answer.status != 200 || !answer.body.is_object()) return 0;
  const std::string leader = answer.body.value("leader", "");
  for (int i = 1; i <= masters(); ++i) {
    if ("http://" + leader == master_url(i)) return i;
  }
  return 0;
}

std::string Cluster::agent_hostname(int index) const {
  return "it" + std::to_string(::getpid()) + "-" + std::to_string(port_) + "-agent-" +
         std::to_string(index);
}

void Cluster::start_agent(int index) {
  // Task ports stay below Linux's ephemeral range (32768-60999), where a port may be taken by
  // any outgoing connection; 25 per agent, a block per cluster.
  uint32_t begin =
      12000 + static_cast<uint32_t>(port_ % 80) * 100 + static_cast<uint32_t>(index - 1) * 25;
  std::vector<std::string> args = {"agent",
                                   "--master",
                                   master_urls(),
                                   "--hostname",
                                   agent_hostname(index),
                                   "--address",
                                   "127.0.0.1",
                                   "--work-dir",
                                   dir_ + "/agent-" + std::to_string(index),
                                   "--ports",
                                   std::to_string(begin) + "-" + std::to_string(begin + 24),
                                   "--cpus",
                                   "4",
                                   "--mem",
                                   "4096",
                                   "--attributes",
                                   "node:" + std::to_string(index),
                                   "--dataset-pool",
                                   dir_ + "/pool"};
  const auto& extra_args = agent_args_[index];
  if (std::find(extra_args.begin(), extra_args.end(), "--ports") != extra_args.end()) {
    auto ports = std::find(args.begin(), args.end(), "--ports");
    args.erase(ports, ports + 2);  // the test's own range replaces this agent's block
  }
  // Tasks run as they did before apps' `user` was honoured, unless the test says otherwise.
  args.push_back("--allow-root-tasks");
  bool own_default_user =
      std::find(extra_args.begin(), extra_args.end(), "--default-task-user") != extra_args.end();
  if (::geteuid() == 0 && !own_default_user)
    args.insert(args.end(), {"--default-task-user", "root"});
  for (const auto& extra : extra_args) args.push_back(extra);
  auto netns = agent_netns_.find(index);
  if (netns != agent_netns_.end()) {
    args[2] = netns->second.second;  // --master <url reachable from the namespace>
    args.insert(args.begin(), {"--netns", netns->second.first});
  }
  agents_[index] = spawn(args, dir_ + "/agent-" + std::to_string(index) + ".log");
}

int Cluster::agent_index(const std::string& node_id) {
  auto nodes = call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n["id"].get<std::string>() != node_id) continue;
    for (const auto& [i, pid] : agents_) {
      if (n["hostname"].get<std::string>() == agent_hostname(i)) return i;
    }
  }
  return 0;
}

void Cluster::kill_agent(int index) {
  pid_t pid = agents_[index];
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  agents_[index] = -1;
}

ApiAnswer Cluster::call(const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  auto all = headers;
  bool own = std::any_of(headers.begin(), headers.end(), [](const auto& h) {
    return h.first == "Authorization" || h.first == "authorization";
  });
  if (!own) all.emplace_back("Authorization", "Bearer " + admin_token_);
  Result<http::ClientResponse> res = make_error(ErrorCode::kUnavailable, "no master");
  for (int i = 1; i <= masters() && !res; ++i) {
    if (masters_[i - 1] <= 0) continue;
    res = http::request(master_url(i), method, target, body, masters() > 1 ? 3000 : 10000, all);
  }
  ApiAnswer answer;
  if (!res) return answer;
  answer.status = res->status;
  answer.headers = res->headers;
  answer.body = nlohmann::json::parse(res->body, nullptr, false);
  return answer;
}

bool Cluster::eventually(const std::function<bool()>& condition,
                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

int Cluster::active_nodes() {
  auto nodes = call("GET", "/berth/v1/nodes");
  if (nodes.status != 200) return -1;
  int active = 0;
  for (const auto& n : nodes.body["nodes"]) active += n["state"] == "active" ? 1 : 0;
  return active;
}

std::vector<nlohmann::json> Cluster::running_tasks(const std::string& app_id) {
  std::vector<nlohmann::json> out;
  auto tasks = call("GET", "/v2/apps" + app_id + "/tasks");
  if (tasks.status != 200) return out;
  for (const auto& t : tasks.body["tasks"]) {
    if (t["state"] == "TASK_RUNNING") out.push_back(t);
  }
  return out;
}

std::vector<pid_t> Cluster::task_pids(const std::string& task_id) const {
  std::vector<pid_t> out;
  std::string needle = std::string("MESOS_TASK_ID=") + task_id + '\0';
  for_each_process([&](pid_t pid, const std::string& env) {
    if (env.find(needle) != std::string::npos && !is_zombie(pid)) out.push_back(pid);
  });
  return out;
}

int Cluster::live_task_processes() const {
  int count = 0;
  std::string needle = "MESOS_SANDBOX=" + dir_ + "/";
  for_each_process([&](pid_t pid, const std::string& env) {
    if (env.find(needle) != std::string::npos && !is_zombie(pid)) ++count;
  });
  return count;
}

void Cluster::kill_leftovers() const {
  std::string needle = "MESOS_SANDBOX=" + dir_ + "/";
  for_each_process([&](pid_t pid, const std::string& env) {
    if (env.find(needle) != std::string::npos) ::kill(pid, SIGKILL);
  });
}

}  // namespace berth::testing
