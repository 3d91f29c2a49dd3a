// `berth up`: a whole cluster on loopback (docs/architecture.md §1): one master on SQLite, or
// (--masters 3) three etcd members and three masters sharing them, and N agents, as separate
// processes, each in its own process group so that Ctrl-C reaches only `up`, which then stops the
// agents (they kill their tasks), the masters and etcd, in that order. No orphans.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "cmd/commands.h"
#include "cmd/up_netns.h"
#include "cmd/up_ports.h"
#include "executor/docker_executor.h"
#include "executor/leftovers.h"
#include "http/http.h"
#include "http/tls_files.h"
#include "volume/loop_device.h"

namespace berth::cmd {
namespace {

struct Child {
  std::string name;
  pid_t pid = -1;
};

// Starts `exe` with `args` in a process group of its own, output to `log_path`; in network
// namespace `netns` unless it is empty.
pid_t spawn(const std::string& exe, const std::vector<std::string>& args,
            const std::string& log_path, const std::vector<std::string>& extra_env,
            const std::string& netns = "") {
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
    if (!netns.empty() && !enter_netns(netns)) _exit(126);
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

void stop_child(const Child& child, std::chrono::milliseconds grace, int signal = SIGTERM) {
  if (child.pid <= 0) return;
  kill(child.pid, signal);
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

// A throwaway CA and certificates in `tls_dir` (for loopback and `addresses`), the CA trusted
// by this process's requests. Prints why when it cannot make them.
bool make_certificates(const std::string& tls_dir, const std::vector<std::string>& addresses) {
  Status pki = http::write_test_pki(tls_dir, addresses);
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

// What the cluster's processes are started with, worked out once from the flags.
struct UpPlan {
  UpFlags flags;
  PortSlot ports;                  // this cluster's service and task ports (cmd/up_ports.h)
  UpNetwork network;               // --netns: the agents' hosts (cmd/up_netns.h)
  std::string host = "127.0.0.1";  // where the masters listen
  std::string data_dir, tls_dir, admin_token_file;
  std::vector<std::string> token_env;    // the join token every master and agent shares
  std::vector<std::string> tls_args;     // tls_flags()
  std::vector<std::string> master_urls;  // one, or three with --masters 3
  std::vector<std::string> etcd_urls;    // the etcd members' client URLs (--masters 3)
  std::vector<std::string> peer_urls;    // the etcd members' peer URLs (--masters 3)
  std::string store;                     // the masters' --store; "" for SQLite

  // "url1,url2,url3": the agents' --master and the CLI's BERTH_MASTER.
  std::string master_list() const {
    std::string list;
    for (const auto& url : master_urls) {
      if (!list.empty()) list += ",";
      list += url;
    }
    return list;
  }
};

// The processes of a running cluster, by kind.
struct Cluster {
  std::vector<Child> etcd, masters, agents;
};

// Three masters take the ports --port to --port+8 on loopback: the masters --port to --port+2,
// the etcd members' client ports --port+3 to +5 and their peer ports --port+6 to +8. So clusters
// whose --port are 9 apart or more do not collide.
constexpr uint32_t kHaPortSpan = 9;

uint32_t ha_port(const UpFlags& flags, int role, int member) {  // role 0 master, 1 client, 2 peer
  return flags.port + static_cast<uint32_t>(role * 3 + member);
}

// The master's data directory of master `i` (0-based) of `masters`.
std::string master_dir(const std::string& data_dir, int masters, int i) {
  return data_dir + (masters == 1 ? "/master" : "/master-" + std::to_string(i + 1));
}

// A credential kept in <data-dir>/<name>: read, or made by `make` and written (mode 0600) on the
// first `berth up`. "" (said why) when it cannot be read or written.
std::string kept_secret(const std::string& data_dir, const std::string& name,
                        const std::function<std::string()>& make) {
  const std::string path = data_dir + "/" + name;
  std::string value;
  std::ifstream in(path);
  if (in >> value) return value;
  value = make();
  if (!write_private_file(path, value + "\n")) {
    std::cerr << "berth up: cannot write " << path << "\n";
    return "";
  }
  return value;
}

// The cluster's join token and admin token, kept in <data-dir>/join-token and admin-token from
// the first `berth up` on. Each master's data directory holds a copy of both, where `berth
// master` looks for them, so a master restarted by hand with only its --data-dir lets the
// agents back in and takes the CLI's token. The join token, or "" (said why) on failure.
std::string cluster_secrets(const std::string& data_dir, int masters) {
  RandomIdSource ids;
  std::string join = kept_secret(data_dir, "join-token", [&] { return ids.uuid(); });
  std::string admin = kept_secret(data_dir, "admin-token", [&] { return "admin." + ids.secret(); });
  if (join.empty() || admin.empty()) return "";
  for (int i = 0; i < masters; ++i) {
    std::string dir = master_dir(data_dir, masters, i);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (const auto& [name, value] : {std::pair{"join-token", join}, {"admin-token", admin}}) {
      if (ec || !write_private_file(dir + "/" + name, value + "\n")) {
        std::cerr << "berth up: cannot write " << dir << "/" << name << "\n";
        return "";
      }
    }
  }
  return join;
}

UpPlan make_plan(const UpFlags& flags, const std::string& data_dir, const std::string& token,
                 const PortSlot& ports, const UpNetwork& network) {
  UpPlan plan;
  plan.flags = flags;
  plan.ports = ports;
  plan.network = network;
  if (flags.netns) plan.host = network.gateway;
  plan.data_dir = data_dir;
  plan.tls_dir = data_dir + "/tls";
  plan.admin_token_file = data_dir + "/admin-token";
  plan.token_env = {"BERTH_JOIN_TOKEN=" + token};
  plan.tls_args = tls_flags(flags, plan.tls_dir);
  const std::string scheme = flags.tls ? "https" : "http";
  for (int i = 0; i < flags.masters; ++i) {
    plan.master_urls.push_back(scheme + "://" + plan.host + ":" +
                               std::to_string(ha_port(flags, 0, i)));
  }
  if (flags.masters == 1) return plan;
  std::string endpoints;
  for (int i = 0; i < flags.masters; ++i) {
    std::string client = "127.0.0.1:" + std::to_string(ha_port(flags, 1, i));
    plan.etcd_urls.push_back("http://" + client);
    plan.peer_urls.push_back("http://127.0.0.1:" + std::to_string(ha_port(flags, 2, i)));
    if (i > 0) endpoints += ",";
    endpoints += client;
  }
  // A prefix of its own, so that the cluster's keys are recognisable in etcd.
  plan.store = "etcd://" + endpoints + "/berth-" + std::to_string(flags.port) + "/";
  return plan;
}

// Whether something listens on 127.0.0.1:`port` (a server there, or anything bound to it).
bool port_taken(uint32_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as servers do: TIME_WAIT is free
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool taken = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0;
  ::close(fd);
  return taken;
}

// Whether the ports of three masters and their etcd members are free; prints which is not.
bool ha_ports_free(const UpFlags& flags) {
  const char* roles[] = {"master-", "etcd-", "etcd-"};
  const char* what[] = {"", "'s client port", "'s peer port"};
  for (int role = 0; role < 3; ++role) {
    for (int i = 0; i < 3; ++i) {
      uint32_t port = ha_port(flags, role, i);
      if (!port_taken(port)) continue;
      std::cerr << "berth up: port " << port << " (" << roles[role] << i + 1 << what[role]
                << ") is taken (another berth up?). Stop what listens there or pass another "
                   "--port: three masters take --port to --port+"
                << kHaPortSpan - 1 << "\n";
      return false;
    }
  }
  return true;
}

// The flags are in range; prints why not.
bool check_up_flags(const UpFlags& flags) {
  if (flags.agents < 1 || flags.agents > 50) {
    std::cerr << "berth up: --agents must be between 1 and 50, got " << flags.agents << "\n";
    return false;
  }
  if (flags.masters != 1 && flags.masters != 3) {
    std::cerr << "berth up: --masters must be 1 (on SQLite) or 3 (on three etcd members), got "
              << flags.masters << "\n";
    return false;
  }
  if (std::string why = flags.netns ? up_network_unavailable() : ""; !why.empty()) {
    std::cerr << "berth up: " << why << "\n";
    return false;
  }
  if (flags.masters == 3 && flags.port + kHaPortSpan - 1 > 65535) {
    std::cerr << "berth up: three masters take --port to --port+" << kHaPortSpan - 1 << "; --port "
              << flags.port << " is too high\n";
    return false;
  }
  return true;
}

// The etcd binary: $BERTH_ETCD, else `etcd` on the PATH; "" (having said why) when there is none.
std::string find_etcd() {
  if (const char* configured = std::getenv("BERTH_ETCD"); configured && *configured) {
    if (::access(configured, X_OK) == 0) return configured;
    std::cerr << "berth up: BERTH_ETCD=" << configured << " is not an executable file\n";
    return "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream directories(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string directory; std::getline(directories, directory, ':');) {
    std::string candidate = (directory.empty() ? "." : directory) + "/etcd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  std::cerr << "berth up: --masters 3 needs etcd, and there is no `etcd` on the PATH. Install it "
               "(Debian and Ubuntu: apt-get install etcd-server) or set BERTH_ETCD to its path\n";
  return "";
}

// etcd's --initial-cluster: "etcd-1=http://127.0.0.1:P1,...".
std::string initial_cluster(const UpPlan& plan) {
  std::string members;
  for (size_t i = 0; i < plan.peer_urls.size(); ++i) {
    if (i > 0) members += ",";
    members += "etcd-" + std::to_string(i + 1) + "=" + plan.peer_urls[i];
  }
  return members;
}

// etcd keeps its members' addresses in its data directories, so a cluster made with another
// --port cannot start from them. <data-dir>/etcd-cluster records the members they were made
// with; prints what to do when they differ.
bool etcd_data_matches(const UpPlan& plan) {
  const std::string record = plan.data_dir + "/etcd-cluster";
  std::string made_with;
  std::getline(std::ifstream(record), made_with);
  std::error_code ec;
  bool has_data = std::filesystem::exists(plan.data_dir + "/etcd-1", ec);
  if (has_data && !made_with.empty() && made_with != initial_cluster(plan)) {
    std::cerr << "berth up: the etcd data in " << plan.data_dir << "/etcd-* was made for the "
              << "members " << made_with << ". Start it with the --port it had, or remove "
              << plan.data_dir << "/etcd-* and " << plan.data_dir
              << "/master-* to start an empty cluster\n";
    return false;
  }
  std::ofstream(record) << initial_cluster(plan) << "\n";
  return true;
}

// The command line of etcd member `i` (0-based).
std::vector<std::string> etcd_args(const UpPlan& plan, size_t i) {
  const std::string name = "etcd-" + std::to_string(i + 1);
  return {
      "--name=" + name,
      "--data-dir=" + plan.data_dir + "/" + name,
      "--listen-client-urls=" + plan.etcd_urls[i],
      "--advertise-client-urls=" + plan.etcd_urls[i],
      "--listen-peer-urls=" + plan.peer_urls[i],
      "--initial-advertise-peer-urls=" + plan.peer_urls[i],
      "--initial-cluster=" + initial_cluster(plan),
      "--initial-cluster-state=new",
      "--initial-cluster-token=berth-up-" + std::to_string(plan.flags.port),
      // Values up to the Store's 16 MiB (base64 adds a third), and commits that erase an app's
      // kept versions (docs/architecture.md §5).
      "--max-request-bytes=33554432",
      "--max-txn-ops=1024",
      // Loopback members: a 500 ms election timeout brings etcd's lease floor to 1 s, so a
      // dead berth leader is replaced in about a second (docs/architecture.md §5).
      "--heartbeat-interval=50",
      "--election-timeout=500",
      // berth never reads old revisions.
      "--auto-compaction-mode=periodic",
      "--auto-compaction-retention=1h",
      "--logger=zap",
      "--log-outputs=stderr",
  };
}

// Whether every etcd member says it is healthy (it has a leader) within about 30 s; prints which
// is not and where its log is.
bool wait_for_etcd(const UpPlan& plan, const Cluster& cluster) {
  for (size_t i = 0; i < plan.etcd_urls.size(); ++i) {
    bool healthy = false;
    for (int attempt = 0; attempt < 300 && !healthy; ++attempt) {
      auto health = http::request(plan.etcd_urls[i], "GET", "/health", "", 1000);
      healthy =
          health && health->status == 200 && health->body.find("\"true\"") != std::string::npos;
      if (!healthy && waitpid(cluster.etcd[i].pid, nullptr, WNOHANG) == cluster.etcd[i].pid) break;
      if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!healthy) {
      std::cerr << "berth up: etcd member " << i + 1 << " (" << plan.etcd_urls[i]
                << ") is not healthy; see " << plan.data_dir << "/logs/" << cluster.etcd[i].name
                << ".log\n";
      return false;
    }
  }
  return true;
}

// Starts three etcd members and waits until they form a cluster.
bool start_etcd(const UpPlan& plan, Cluster* cluster) {
  const std::string etcd = find_etcd();
  if (etcd.empty() || !etcd_data_matches(plan)) return false;
  for (size_t i = 0; i < plan.etcd_urls.size(); ++i) {
    const std::string name = "etcd-" + std::to_string(i + 1);
    cluster->etcd.push_back(
        {name, spawn(etcd, etcd_args(plan, i), plan.data_dir + "/logs/" + name + ".log", {})});
  }
  return wait_for_etcd(plan, *cluster);
}

// The command line of master `i` (0-based).
std::vector<std::string> master_args(const UpPlan& plan, size_t i) {
  std::vector<std::string> args = {
      "master", "--host", plan.host, "--port",
      std::to_string(ha_port(plan.flags, 0, static_cast<int>(i))), "--data-dir",
      master_dir(plan.data_dir, static_cast<int>(plan.master_urls.size()), static_cast<int>(i)),
      // Every master of the cluster shares one admin token.
      "--admin-token-file", plan.admin_token_file, "--service-ports",
      std::to_string(plan.ports.service_begin) + "-" + std::to_string(plan.ports.service_end)};
  if (!plan.store.empty()) args.insert(args.end(), {"--store", plan.store});
  args.insert(args.end(), plan.tls_args.begin(), plan.tls_args.end());
  // --netns: the bridge is this machine's alone, as loopback is (--tls for HTTPS there too).
  if (plan.flags.netns && !plan.flags.tls) args.push_back("--insecure");
  return args;
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

// Whether some master answers GET /v2/leader with a leader within about 30 s.
bool wait_for_leader(const UpPlan& plan, const std::string& admin_token) {
  for (int attempt = 0; attempt < 150; ++attempt) {
    for (const auto& url : plan.master_urls) {
      auto leader = http::request(url, "GET", "/v2/leader", "", 1000,
                                  {{"Authorization", "Bearer " + admin_token}});
      if (leader && leader->status == 200) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// Starts the masters one after the other (the first creates the admin token the others read)
// and, with several, waits until one leads.
bool start_masters(const UpPlan& plan, const std::string& self_exe, Cluster* cluster) {
  for (size_t i = 0; i < plan.master_urls.size(); ++i) {
    const std::string name =
        plan.master_urls.size() == 1 ? "master" : "master-" + std::to_string(i + 1);
    const std::string log = plan.data_dir + "/logs/" + name + ".log";
    cluster->masters.push_back({name, spawn(self_exe, master_args(plan, i), log, plan.token_env)});
    if (!wait_for_master(plan.master_urls[i])) {
      std::cerr << "berth up: " << (name == "master" ? "the master" : name)
                << " did not start; see " << log << "\n";
      return false;
    }
  }
  if (plan.master_urls.size() == 1) return true;
  if (!wait_for_leader(plan, read_token_file(plan.admin_token_file))) {
    std::cerr << "berth up: no master leads (GET /v2/leader); see " << plan.data_dir
              << "/logs/master-*.log\n";
    return false;
  }
  return true;
}

// The command line of agent `i` (1 to flags.agents), named `name`; `masters` is --master's list.
std::vector<std::string> agent_args(const UpFlags& flags, const PortSlot& ports,
                                    const std::string& masters, const std::string& data_dir, int i,
                                    const std::string& name, const std::string& address) {
  // The agents share the cluster's task ports (for a lone cluster 31000-32767, Mesos's range,
  // below Linux's ephemeral ports, where a port may be taken by any outgoing connection).
  uint32_t per_agent =
      (ports.task_end + 1 - ports.task_begin) / static_cast<uint32_t>(flags.agents);
  uint32_t begin = ports.task_begin + static_cast<uint32_t>(i - 1) * per_agent;
  std::vector<std::string> args = {
      "agent",
      "--master",
      masters,
      "--hostname",
      name,
      "--address",
      address,
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

// Sends `signal` to every child of `children` at once, then waits for each (SIGKILL when late).
void stop_all(const std::vector<Child>& children, std::chrono::milliseconds grace,
              int signal = SIGTERM) {
  for (const auto& c : children) {
    if (c.pid > 0) kill(c.pid, signal);
  }
  for (const auto& c : children) stop_child(c, grace, signal);
}

// Signals the agents others started under `data_dir` (berth demo restarts the node it killed)
// and waits for them, SIGKILLing those still there after 15 s.
void stop_stray_agents(const std::string& data_dir) {
  auto strays = signal_agents_under(data_dir, SIGUSR1);
  for (int i = 0; i < 150 && !strays.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    strays.erase(
        std::remove_if(strays.begin(), strays.end(), [](int pid) { return ::kill(pid, 0) != 0; }),
        strays.end());
  }
  for (int pid : strays) ::kill(pid, SIGKILL);
}

// Stops the agents (they kill their tasks), then the masters, then etcd, then whatever agents
// that died left behind.
// Unmounts what this cluster's agents mounted under `data_dir` (loop datasets, the volume
// plugin's mounts) and unbinds the loop devices of its pool, once every task is gone: nothing
// outlives `berth up`. How many mounts and devices it released.
int release_mounts_under(const std::string& data_dir) {
  std::error_code ec;
  std::string root = std::filesystem::weakly_canonical(data_dir, ec).string() + "/";
  if (ec) return 0;
  int released = 0;
  if (auto mounts = read_mounts()) {
    // The most recent first: a mount on top of another goes before it.
    for (auto it = mounts->rbegin(); it != mounts->rend(); ++it) {
      if (it->mount_point.rfind(root, 0) == 0 && unmount(it->mount_point).ok()) ++released;
    }
  }
  if (auto devices = list_loop_devices()) {
    for (const auto& device : *devices) {
      if (device.backing_file.rfind(root, 0) == 0 && detach_loop_device(device).ok()) ++released;
    }
  }
  return released;
}

void stop_cluster(const UpPlan& plan, const Cluster& cluster) {
  stop_all(cluster.agents, std::chrono::seconds(15), SIGUSR1);  // with their tasks
  stop_stray_agents(plan.data_dir);
  stop_all(cluster.masters, std::chrono::seconds(10));
  stop_all(cluster.etcd, std::chrono::seconds(10));
  // Agents that were SIGKILLed could not stop their tasks; nothing outlives `berth up`.
  if (int leftovers = kill_tasks_under(plan.data_dir)) {
    std::cerr << "berth up: stopped " << leftovers << " task processes of agents that had died\n";
  }
  if (int containers = remove_containers_under(plan.data_dir)) {
    std::cerr << "berth up: removed " << containers << " containers of agents that had died\n";
  }
  if (int mounts = release_mounts_under(plan.data_dir)) {
    std::cerr << "berth up: released " << mounts << " dataset mounts and loop devices\n";
  }
  if (plan.flags.netns) remove_up_network(plan.network);
  // The plugin sockets of agents that died (the others removed their own).
  for (int i = 1; i <= plan.flags.agents; ++i) {
    std::string socket = plugin_socket(plan.flags.port, i);
    std::error_code ignored;
    if (!socket.empty()) std::filesystem::remove(socket, ignored);
  }
}

// How many agents the master at `url` sees active; 0 when it does not answer.
int active_agents(const std::string& url, const std::string& admin_token) {
  auto nodes = http::request(url, "GET", "/berth/v1/nodes", "", 1000,
                             {{"Authorization", "Bearer " + admin_token}});
  if (!nodes || nodes->status != 200) return 0;
  auto j = nlohmann::json::parse(nodes->body, nullptr, false);
  int active = 0;
  if (!j.is_discarded()) {
    for (const auto& n : j["nodes"]) active += n.value("state", "") == "active" ? 1 : 0;
  }
  return active;
}

// How many agents are active as the masters see them (the most any master sees), waiting about
// 10 s for `expected` of them.
int wait_for_agents(const std::vector<std::string>& urls, const std::string& admin_token,
                    int expected) {
  int active = 0;
  for (int i = 0; i < 100 && active < expected; ++i) {
    active = 0;
    for (const auto& url : urls) active = std::max(active, active_agents(url, admin_token));
    if (active < expected) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return active;
}

// Starts the agents, each with every master, and waits until they are active.
bool start_agents(const UpPlan& plan, const std::string& self_exe, Cluster* cluster) {
  for (int i = 1; i <= plan.flags.agents; ++i) {
    std::string name = "agent-" + std::to_string(i);
    const size_t k = static_cast<size_t>(i - 1);
    const bool netns = plan.flags.netns;
    std::vector<std::string> args =
        agent_args(plan.flags, plan.ports, plan.master_list(), plan.data_dir, i, name,
                   netns ? plan.network.addresses[k] : "127.0.0.1");
    args.insert(args.end(), plan.tls_args.begin(), plan.tls_args.end());
    cluster->agents.push_back(
        {name, spawn(self_exe, args, plan.data_dir + "/logs/" + name + ".log", plan.token_env,
                     netns ? plan.network.namespaces[k] : "")});
  }
  int active =
      wait_for_agents(plan.master_urls, read_token_file(plan.admin_token_file), plan.flags.agents);
  if (active < plan.flags.agents) {
    std::cerr << "berth up: only " << active << " of " << plan.flags.agents
              << " agents registered; see " << plan.data_dir << "/logs/\n";
    return false;
  }
  return true;
}

// "a master" or "3 masters on 3 etcd members,", for the summary.
std::string masters_line(const UpPlan& plan) {
  if (plan.master_urls.size() == 1) return "a master";
  return std::to_string(plan.master_urls.size()) + " masters on " +
         std::to_string(plan.etcd_urls.size()) + " etcd members,";
}

void print_cluster(const UpPlan& plan) {
  const UpFlags& flags = plan.flags;
  bool cgroups = ::access("/sys/fs/cgroup/memory", W_OK) == 0;
  std::string where = " agents on loopback";
  if (flags.netns) {
    where = " agents, each on a host of its own (network namespaces on bridge " +
            plan.network.bridge + "):";
    for (size_t i = 0; i < plan.network.addresses.size(); ++i) {
      where += (i ? ", " : " ") + plan.network.addresses[i];
    }
  }
  std::cout << "berth is up: " << masters_line(plan) << " and " << flags.agents << where << "\n"
            << "  API (Marathon v2):  " << plan.master_urls[0] << "/v2/apps"
            << (plan.master_urls.size() > 1 ? " (any master: standbys pass it to the leader)" : "")
            << "\n"
            << "  CLI:                export BERTH_MASTER=" << plan.master_list() << "\n"
            << (plan.store.empty() ? std::string() : "  masters' store:     " + plan.store + "\n")
            << "  admin token:        " << plan.admin_token_file
            << " (the CLI reads it; curl -H \"Authorization: Bearer $(cat " << plan.admin_token_file
            << ")\")\n"
            << (flags.tls ? "  TLS:                CA certificate " + plan.tls_dir +
                                "/ca.pem (the CLI reads it; curl --cacert)\n"
                          : std::string())
            << "  state and logs:     " << plan.data_dir << " (logs/*.log)\n"
            << "  ports:              service " << plan.ports.service_begin << "-"
            << plan.ports.service_end - 1 << ", tasks " << plan.ports.task_begin << "-"
            << plan.ports.task_end << " (slot " << plan.ports.index
            << ": other `berth up` clusters on this machine get others)\n"
            << "  isolation:          "
            << (cgroups ? "memory limits through the cgroup v1 memory controller"
                        : "memory limits NOT enforced (the cgroup v1 memory controller is not "
                          "writable: run as root to enforce `mem`)")
            << "\n"
            << "Press Ctrl-C to stop the cluster and every task it started.\n"
            << std::flush;
}

// Reports a child that dies on its own until `stop`; the cluster keeps running without it.
void report_exits(const Cluster& cluster, const std::string& data_dir,
                  const std::atomic<bool>& stop) {
  std::vector<const Child*> children;
  for (const auto* kind : {&cluster.etcd, &cluster.masters, &cluster.agents}) {
    for (const auto& c : *kind) children.push_back(&c);
  }
  std::vector<bool> reported(children.size(), false);
  while (!stop) {
    for (size_t i = 0; i < children.size(); ++i) {
      const Child& c = *children[i];
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

// Whether nothing is in the way of the cluster's servers; prints what is.
bool nothing_listens(const UpPlan& plan) {
  if (plan.flags.masters > 1) return ha_ports_free(plan.flags);
  const std::string& url = plan.master_urls[0];
  if (http::request(url, "GET", "/ping", "", 500).ok()) {
    std::cerr << "berth up: something already answers on " << url
              << " (another berth up?). Stop it or pass --port.\n";
    return false;
  }
  return true;
}

// Starts etcd (with several masters), the masters and the agents; stops what it started and
// returns false when one of them does not come up.
bool start_cluster(const UpPlan& plan, const std::string& self_exe, Cluster* cluster) {
  bool up = (plan.etcd_urls.empty() || start_etcd(plan, cluster)) &&
            start_masters(plan, self_exe, cluster) && start_agents(plan, self_exe, cluster);
  if (!up) stop_cluster(plan, *cluster);
  return up;
}

}  // namespace

int run_up(const UpFlags& flags, const std::string& self_exe) {
  if (!check_up_flags(flags)) return 2;
  block_stop_signals();
  std::string data_dir;
  if (!create_cluster_dirs(flags, &data_dir)) return 1;
  const std::string join_token = cluster_secrets(data_dir, flags.masters);
  if (join_token.empty()) return 1;
  std::optional<PortSlot> ports = claim_port_slot(data_dir, flags.port);
  if (!ports) return 1;
  UpNetwork network;
  if (flags.netns && !make_up_network(ports->index, flags.agents, &network)) return 1;
  const UpPlan plan = make_plan(flags, data_dir, join_token, *ports, network);
  std::vector<std::string> addresses = network.addresses;
  if (flags.netns) addresses.push_back(network.gateway);
  if ((flags.tls && !make_certificates(plan.tls_dir, addresses)) || !nothing_listens(plan)) {
    remove_up_network(network);
    return 1;
  }

  // The admin token lives beside the cluster's state (the CLI finds it there); the first master
  // creates it on first start. Tasks of other users still reach their sandboxes below.
  std::error_code ec;
  std::filesystem::permissions(data_dir,
                               std::filesystem::perms::owner_all |
                                   std::filesystem::perms::group_exec |
                                   std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::replace, ec);
  Cluster cluster;
  if (!start_cluster(plan, self_exe, &cluster)) return 1;  // stop_cluster removed the network
  print_cluster(plan);

  std::atomic<bool> stop{false};
  std::thread watcher([&] { report_exits(cluster, data_dir, stop); });
  int sig = wait_for_stop_signal();
  stop = true;
  watcher.join();
  std::cout << "berth up: stopping (signal " << sig << ")\n" << std::flush;
  stop_cluster(plan, cluster);
  std::cout << "berth up: stopped\n";
  return 0;
}

}  // namespace berth::cmd
