// `berth up`: a whole cluster on loopback (docs/architecture.md §1): one master and N agents as
// separate processes, each in its own process group so that Ctrl-C reaches only `up`, which then
// stops the agents (they kill their tasks) and the master, in that order. No orphans.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "cmd/commands.h"
#include "executor/docker_executor.h"
#include "executor/leftovers.h"
#include "http/http.h"
#include "http/tls_files.h"

namespace berth::cmd {
namespace {

struct Child {
  std::string name;
  pid_t pid = -1;
};

pid_t spawn(const std::string& exe, const std::vector<std::string>& args,
            const std::string& log_path, const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv_storage = {exe};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.push_back(*e);
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (log_fd >= 0) {
      dup2(log_fd, 1);
      dup2(log_fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execve(exe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  if (pid > 0) setpgid(pid, pid);
  return pid;
}

bool wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void stop_child(const Child& child, std::chrono::milliseconds grace) {
  if (child.pid <= 0) return;
  kill(child.pid, SIGTERM);
  if (!wait_exit(child.pid, grace)) {
    std::cerr << "berth up: " << child.name << " did not stop in time; killing it\n";
    kill(-child.pid, SIGKILL);
    wait_exit(child.pid, std::chrono::seconds(5));
  }
}

// Each agent serves Docker's volume plugin under its own name, since they share one dockerd.
// Only root can serve it where Docker looks (/run/docker/plugins).
std::string plugin_socket(uint32_t port, int agent) {
  if (::geteuid() != 0) return "";
  return "/run/docker/plugins/berth-up-" + std::to_string(port) + "-" + std::to_string(agent) +
         ".sock";
}

// Agents sharing one dockerd name the same dataset differently: Docker keeps one driver per
// volume name.
std::string plugin_prefix(uint32_t port, int agent) {
  return ::geteuid() != 0 ? ""
                          : "berth-up-" + std::to_string(port) + "-" + std::to_string(agent) + ".";
}

// The cluster's data directory (absolute) with its logs/ and the agents' shared pool/. Prints
// why when it cannot create them.
bool create_cluster_dirs(const UpFlags& flags, std::string* data_dir) {
  std::error_code ec;
  *data_dir = std::filesystem::absolute(flags.data_dir, ec).lexically_normal().string();
  std::filesystem::create_directories(*data_dir + "/logs", ec);
  if (!ec) std::filesystem::create_directories(*data_dir + "/pool", ec);
  if (ec) {
    std::cerr << "berth up: cannot create " << *data_dir << ": " << ec.message() << "\n";
    return false;
  }
  return true;
}

// A throwaway CA and certificates in `tls_dir`, the CA trusted by this process's requests.
// Prints why when it cannot make them.
bool make_certificates(const std::string& tls_dir) {
  Status pki = http::write_test_pki(tls_dir, {});
  if (!pki) {
    std::cerr << "berth up: cannot make certificates in " << tls_dir << ": " << pki.error().message
              << "\n";
    return false;
  }
  http::set_client_ca_file(tls_dir + "/ca.pem");
  return true;
}

// The flags the master and the agents get from --tls.
std::vector<std::string> tls_flags(const UpFlags& flags, const std::string& tls_dir) {
  // With --tls every hop is HTTPS: CLI and agents to the master, the master and agents to agents.
  if (!flags.tls) return {};
  return {"--tls-cert",         tls_dir + "/cert.pem", "--tls-key",
          tls_dir + "/key.pem", "--ca-cert",           tls_dir + "/ca.pem"};
}

std::vector<std::string> master_args(const UpFlags& flags, const std::string& data_dir,
                                     const std::string& admin_token_file) {
  return {"master",
          "--host",
          "127.0.0.1",
          "--port",
          std::to_string(flags.port),
          "--data-dir",
          data_dir + "/master",
          "--admin-token-file",
          admin_token_file};
}

// The command line of agent `i` (1 to flags.agents), named `name`.
std::vector<std::string> agent_args(const UpFlags& flags, const std::string& url,
                                    const std::string& data_dir, int i, const std::string& name) {
  // The agents share 31000-32767 (Mesos's range, below Linux's ephemeral ports, where a port
  // may be taken by any outgoing connection at any time).
  uint32_t per_agent = (32768 - 31000) / static_cast<uint32_t>(flags.agents);
  uint32_t begin = 31000 + static_cast<uint32_t>(i - 1) * per_agent;
  std::vector<std::string> args = {
      "agent",
      "--master",
      url,
      "--hostname",
      name,
      "--address",
      "127.0.0.1",
      "--work-dir",
      data_dir + "/" + name,
      "--dataset-pool",
      data_dir + "/pool",
      "--ports",
      std::to_string(begin) + "-" + std::to_string(begin + per_agent - 1),
      "--attributes",
      "node:" + std::to_string(i),
      "--plugin-socket",
      plugin_socket(flags.port, i),
      "--plugin-volume-prefix",
      plugin_prefix(flags.port, i),
      "--allow-root-tasks"};
  // A single-machine cluster for development: apps without a `user` run as the one who
  // started it, root included, as they always did. An app's `user` is still honoured.
  if (::geteuid() == 0) args.insert(args.end(), {"--default-task-user", "root"});
  return args;
}

// Stops the agents (they kill their tasks), then the master, then whatever agents that died
// left behind.
void stop_cluster(const UpFlags& flags, const std::string& data_dir, const Child& master,
                  const std::vector<Child>& agents) {
  for (const auto& a : agents) kill(a.pid, SIGTERM);
  for (const auto& a : agents) stop_child(a, std::chrono::seconds(15));
  // Agents started again by others (berth demo restarts the node it killed) stop too.
  auto strays = signal_agents_under(data_dir, SIGTERM);
  for (int i = 0; i < 150 && !strays.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    strays.erase(
        std::remove_if(strays.begin(), strays.end(), [](int pid) { return ::kill(pid, 0) != 0; }),
        strays.end());
  }
  for (int pid : strays) ::kill(pid, SIGKILL);
  stop_child(master, std::chrono::seconds(10));
  // Agents that were SIGKILLed could not stop their tasks; nothing outlives `berth up`.
  if (int leftovers = kill_tasks_under(data_dir)) {
    std::cerr << "berth up: stopped " << leftovers << " task processes of agents that had died\n";
  }
  if (int containers = remove_containers_under(data_dir)) {
    std::cerr << "berth up: removed " << containers << " containers of agents that had died\n";
  }
  // The plugin sockets of agents that died (the others removed their own).
  for (int i = 1; i <= flags.agents; ++i) {
    std::string socket = plugin_socket(flags.port, i);
    std::error_code ignored;
    if (!socket.empty()) std::filesystem::remove(socket, ignored);
  }
}

// Whether the master at `url` answers within about 10 s.
bool wait_for_master(const std::string& url) {
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = http::request(url, "GET", "/ping", "", 500).ok();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return up;
}

// How many agents are active, waiting about 10 s for `expected` of them.
int wait_for_agents(const std::string& url, const std::string& admin_token, int expected) {
  int active = 0;
  for (int i = 0; i < 100 && active < expected; ++i) {
    auto nodes = http::request(url, "GET", "/berth/v1/nodes", "", 1000,
                               {{"Authorization", "Bearer " + admin_token}});
    if (nodes && nodes->status == 200) {
      auto j = nlohmann::json::parse(nodes->body, nullptr, false);
      active = 0;
      if (!j.is_discarded()) {
        for (const auto& n : j["nodes"]) active += n.value("state", "") == "active" ? 1 : 0;
      }
    }
    if (active < expected) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return active;
}

void print_cluster(const UpFlags& flags, const std::string& url, const std::string& data_dir,
                   const std::string& tls_dir, const std::string& admin_token_file) {
  bool cgroups = ::access("/sys/fs/cgroup/memory", W_OK) == 0;
  std::cout << "berth is up: a master and " << flags.agents << " agents on loopback\n"
            << "  API (Marathon v2):  " << url << "/v2/apps\n"
            << "  CLI:                export BERTH_MASTER=" << url << "\n"
            << "  admin token:        " << admin_token_file
            << " (the CLI reads it; curl -H \"Authorization: Bearer $(cat " << admin_token_file
            << ")\")\n"
            << (flags.tls ? "  TLS:                CA certificate " + tls_dir +
                                "/ca.pem (the CLI reads it; curl --cacert)\n"
                          : std::string())
            << "  state and logs:     " << data_dir << " (logs/*.log)\n"
            << "  isolation:          "
            << (cgroups ? "memory limits through the cgroup v1 memory controller"
                        : "memory limits NOT enforced (the cgroup v1 memory controller is not "
                          "writable: run as root to enforce `mem`)")
            << "\n"
            << "Press Ctrl-C to stop the cluster and every task it started.\n"
            << std::flush;
}

// Reports a child that dies on its own until `stop`; the cluster keeps running without it.
void report_exits(const Child& master, const std::vector<Child>& agents,
                  const std::string& data_dir, const std::atomic<bool>& stop) {
  std::vector<bool> reported(agents.size() + 1, false);
  while (!stop) {
    for (size_t i = 0; i <= agents.size(); ++i) {
      const Child& c = i == 0 ? master : agents[i - 1];
      if (reported[i] || c.pid <= 0) continue;
      if (kill(c.pid, 0) != 0) {
        reported[i] = true;
      } else {
        int status;
        if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
          std::cerr << "berth up: " << c.name << " exited; see " << data_dir << "/logs/" << c.name
                    << ".log\n";
          reported[i] = true;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

int run_up(const UpFlags& flags, const std::string& self_exe) {
  if (flags.agents < 1 || flags.agents > 50) {
    std::cerr << "berth up: --agents must be between 1 and 50, got " << flags.agents << "\n";
    return 2;
  }
  block_stop_signals();
  std::string data_dir;
  if (!create_cluster_dirs(flags, &data_dir)) return 1;
  const std::string tls_dir = data_dir + "/tls";
  if (flags.tls && !make_certificates(tls_dir)) return 1;
  std::string url =
      std::string(flags.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(flags.port);
  if (http::request(url, "GET", "/ping", "", 500).ok()) {
    std::cerr << "berth up: something already answers on " << url
              << " (another berth up?). Stop it or pass --port.\n";
    return 1;
  }
  RandomIdSource ids;
  std::vector<std::string> token_env = {"BERTH_JOIN_TOKEN=" + ids.uuid()};

  // The admin token lives beside the cluster's state (the CLI finds it there); the master
  // creates it on first start. Tasks of other users still reach their sandboxes below.
  std::error_code ec;
  std::filesystem::permissions(data_dir,
                               std::filesystem::perms::owner_all |
                                   std::filesystem::perms::group_exec |
                                   std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::replace, ec);
  const std::string admin_token_file = data_dir + "/admin-token";
  const std::vector<std::string> tls_args = tls_flags(flags, tls_dir);
  std::vector<std::string> args = master_args(flags, data_dir, admin_token_file);
  args.insert(args.end(), tls_args.begin(), tls_args.end());
  Child master{"master", spawn(self_exe, args, data_dir + "/logs/master.log", token_env)};
  std::vector<Child> agents;
  if (!wait_for_master(url)) {
    std::cerr << "berth up: the master did not start; see " << data_dir << "/logs/master.log\n";
    stop_cluster(flags, data_dir, master, agents);
    return 1;
  }
  for (int i = 1; i <= flags.agents; ++i) {
    std::string name = "agent-" + std::to_string(i);
    args = agent_args(flags, url, data_dir, i, name);
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    agents.push_back({name, spawn(self_exe, args, data_dir + "/logs/" + name + ".log", token_env)});
  }
  int active = wait_for_agents(url, read_token_file(admin_token_file), flags.agents);
  if (active < flags.agents) {
    std::cerr << "berth up: only " << active << " of " << flags.agents << " agents registered; see "
              << data_dir << "/logs/\n";
    stop_cluster(flags, data_dir, master, agents);
    return 1;
  }
  print_cluster(flags, url, data_dir, tls_dir, admin_token_file);

  std::atomic<bool> stop{false};
  std::thread watcher([&] { report_exits(master, agents, data_dir, stop); });
  int sig = wait_for_stop_signal();
  stop = true;
  watcher.join();
  std::cout << "berth up: stopping (signal " << sig << ")\n" << std::flush;
  stop_cluster(flags, data_dir, master, agents);
  std::cout << "berth up: stopped\n";
  return 0;
}

}  // namespace berth::cmd
