// `berth demo` (issue: highly available stateful apps): on a running cluster (starting
// `berth up` if none answers) deploy berth-counter with a dataset, a health check and a
// service port, post clicks through the service port, kill the node running it (its agent and
// every task process of that node, SIGKILL), print the failover timeline and check that every
// acknowledged click is still there.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cmd/commands.h"
#include "docker/docker_client.h"
#include "executor/docker_executor.h"
#include "executor/leftovers.h"
#include "http/http.h"

namespace berth::cmd {
namespace {

using Clock = std::chrono::steady_clock;

// The data directory of the cluster the demo drives, whose admin token authenticates it.
std::string g_data_dir = "./.berth";

// The demo's credential: $BERTH_TOKEN or the local cluster's admin token (read each time: the
// master creates the file when a cluster the demo starts comes up).
std::vector<std::pair<std::string, std::string>> auth_headers() {
  return {{"Authorization", "Bearer " + local_admin_token(g_data_dir)}};
}

nlohmann::json get_json(const std::string& base, const std::string& target, int timeout_ms = 2000) {
  auto r = http::request(base, "GET", target, "", timeout_ms, auth_headers());
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

int active_nodes(const std::string& master) {
  auto nodes = get_json(master, "/berth/v1/nodes");
  int n = 0;
  if (nodes.is_object()) {
    for (const auto& node : nodes["nodes"]) n += node.value("state", "") == "active" ? 1 : 0;
  }
  return n;
}

struct AgentProcess {
  pid_t pid = -1;
  std::string work_dir;
  std::vector<std::string> argv, env;  // to start it again after the kill
};

// The agent process serving `hostname` for the master at `master` on this machine (other
// clusters on the machine may use the same host names).
bool find_agent(const std::string& master, const std::string& hostname, AgentProcess* found_agent) {
  bool found = false;
  for_each_process([&](int p) {
    if (found) return;
    auto args = proc_entries(p, "cmdline");
    bool agent = false, ours = false, our_master = false;
    std::string dir;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "agent") agent = true;
      if (args[i] == "--hostname" && i + 1 < args.size() && args[i + 1] == hostname) ours = true;
      if (args[i] == "--master" && i + 1 < args.size() && args[i + 1] == master) our_master = true;
      if (args[i] == "--work-dir" && i + 1 < args.size()) dir = args[i + 1];
    }
    if (agent && ours && our_master && !dir.empty()) {
      *found_agent = AgentProcess{p, dir, args, proc_entries(p, "environ")};
      found = true;
    }
  });
  return found;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Starts a killed agent again, as it was, detached from us (it belongs to the cluster).
void restart_agent(const AgentProcess& agent, const std::string& log) {
  pid_t child = ::fork();
  if (child != 0) {
    if (child > 0) ::waitpid(child, nullptr, 0);
    return;
  }
  if (::fork() != 0) ::_exit(0);  // the grandchild is adopted by init, not by the demo
  ::setsid();
  // Nothing of ours may stay open in it (a pipe our caller reads would never see EOF).
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out < 0) out = ::open("/dev/null", O_WRONLY);
  int in = ::open("/dev/null", O_RDONLY);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  ::close_range(3, ~0U, 0);
  std::vector<char*> argv, envp;
  auto args = agent.argv;
  auto env = agent.env;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ::execve("/proc/self/exe", argv.data(), envp.data());
  ::_exit(127);
}

struct Phases {
  double lost = -1, attached = -1, running = -1, healthy = -1, first_ok = -1;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// What the steps of the demo share.
struct Demo {
  std::string master;        // the master's URL
  std::string via;           // the counter's service port, as clients reach it
  std::string app_name;      // without the leading '/'
  std::string dataset_name;  // the counter's dataset
  std::string dataset_id;    // known once the counter runs
};

// Starts `berth up` in the background when no master answers at flags.master: its pid, else -1.
pid_t start_cluster_if_none(const DemoFlags& flags, const std::string& self_exe) {
  const std::string& master = flags.master;
  if (http::request(master, "GET", "/ping", "", 1000).ok()) return -1;
  std::string port = master.substr(master.rfind(':') + 1);
  std::cout << "no berth master at " << master << ": starting `berth up` (state in "
            << flags.data_dir << ")\n";
  std::cout.flush();
  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir + "/logs", ec);
  pid_t started_up = ::fork();
  if (started_up == 0) {
    ::setpgid(0, 0);
    std::string log = flags.data_dir + "/logs/up.log";
    std::FILE* f = std::freopen(log.c_str(), "a", stdout);
    (void)f;
    ::dup2(1, 2);
    ::execl(self_exe.c_str(), self_exe.c_str(), "up", "--port", port.c_str(), "--data-dir",
            flags.data_dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return started_up;
}

// Stops the `berth up` the demo started, if any.
void stop_up(pid_t started_up) {
  if (started_up <= 0) return;
  ::kill(started_up, SIGTERM);
  ::waitpid(started_up, nullptr, 0);
}

// Waits up to 60 s for two active nodes; says so when there are not.
bool wait_for_two_nodes(const std::string& master) {
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (active_nodes(master) < 2) {
    if (Clock::now() > deadline) {
      std::cerr << "berth demo: needs a cluster with at least two active nodes at " << master
                << "\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

nlohmann::json health_checks() {
  return {{{"protocol", "HTTP"},
           {"path", "/v1/ping"},
           {"portIndex", 0},
           {"gracePeriodSeconds", 10},
           {"intervalSeconds", 1},
           {"timeoutSeconds", 1},
           {"maxConsecutiveFailures", 3}}};
}

// berth-counter, beside the berth binary, as a process with its clicks on a dataset.
nlohmann::json counter_app(const DemoFlags& flags, const std::string& self_exe) {
  std::string counter = std::filesystem::path(self_exe).parent_path().string() + "/berth-counter";
  return nlohmann::json{
      {"id", "/berth-demo"},
      {"cmd", counter + " --port $PORT0 --data-dir $BERTH_VOLUME_DATA"},
      {"cpus", 0.1},
      {"mem", 64},
      {"instances", 1},
      {"portDefinitions", {{{"port", flags.service_port}, {"name", "http"}}}},
      {"upgradeStrategy", {{"minimumHealthCapacity", 0}, {"maximumOverCapacity", 0}}},
      {"healthChecks", health_checks()},
      {"container",
       {{"type", "MESOS"},
        {"volumes",
         {{{"containerPath", "/data"},
           {"mode", "RW"},
           {"external",
            {{"name", "berth-demo-clicks"},
             {"provider", "dvdi"},
             {"options", {{"dvdi/driver", "berth"}}}}}}}}}}};
}

// The seed demo's shape: berth-counter's image FROM scratch in Docker's bridge network, its
// clicks on a dataset through the berth volume plugin.
nlohmann::json docker_counter_app(const DemoFlags& flags, const Demo& demo) {
  return {
      {"id", "/" + demo.app_name},
      {"cpus", 0.1},
      {"mem", 64},
      {"instances", 1},
      {"healthChecks", health_checks()},
      {"container",
       {{"type", "DOCKER"},
        {"docker",
         {{"image", "berth/counter"},
          {"network", "BRIDGE"},
          {"portMappings",
           {{{"containerPort", 80},
             {"hostPort", 0},
             {"servicePort", flags.service_port},
             {"name", "http"}}}},
          {"parameters",
           {{{"key", "volume-driver"}, {"value", "berth"}},
            {{"key", "volume"}, {"value", demo.dataset_name + ":/data"}}}}}}}},
  };
}

// Whether Docker runs and has the image berth/counter; says what to do when not.
bool counter_image_present() {
  docker::DockerClient docker_client;
  auto image = docker_client.connect().ok() ? docker_client.image_exists("berth/counter")
                                            : Result<bool>(false);
  if (!image || !*image) {
    std::cerr << "berth demo --docker: the image berth/counter is missing (or Docker is not "
                 "running): run `make images`\n";
    return false;
  }
  return true;
}

bool deploy(const Demo& demo, const nlohmann::json& app) {
  auto put = http::request(demo.master, "PUT", "/v2/apps/" + demo.app_name + "?force=true",
                           app.dump(), 10000, auth_headers());
  if (!put || (put->status != 200 && put->status != 201)) {
    std::cerr << "berth demo: deploying the counter failed: "
              << (put ? put->body : put.error().message) << "\n";
    return false;
  }
  return true;
}

// The counter's running task once it is healthy and answers through the service port; null
// (said why) when that takes more than 60 s.
nlohmann::json wait_until_healthy(const Demo& demo) {
  auto deadline = Clock::now() + std::chrono::seconds(60);
  nlohmann::json task;
  while (true) {
    auto info = get_json(demo.master, "/v2/apps/" + demo.app_name);
    if (info.is_object() && info["app"]["tasksHealthy"].get<int>() >= 1 &&
        http::request(demo.via, "GET", "/v1/ping", "", 1000).ok()) {
      for (const auto& t : info["app"]["tasks"]) {
        if (t.value("state", "") == "TASK_RUNNING") task = t;
      }
      if (!task.is_null()) return task;
    }
    if (Clock::now() > deadline) {
      std::cerr << "berth demo: the counter did not become healthy within 60 s; the app: "
                << get_json(demo.master, "/v2/apps/" + demo.app_name).dump() << "\n";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Posts a click through the service port; one the counter acknowledges goes into
// `acknowledged`.
void post_click(const std::string& via, const nlohmann::json& click,
                std::set<int64_t>* acknowledged) {
  auto r = http::request(via, "POST", "/v1/clicks", click.dump(), 5000);
  if (r && r->status == 201)
    acknowledged->insert(nlohmann::json::parse(r->body)["id"].get<int64_t>());
}

std::string dataset_id_of(const std::string& master, const std::string& dataset_name) {
  std::string dataset_id;
  for (const auto& d : get_json(master, "/v1/configuration/datasets")) {
    if (d["metadata"].value("name", "") == dataset_name && !d.value("deleted", false))
      dataset_id = d["dataset_id"];
  }
  return dataset_id;
}

// The host name of node `id` in a /berth/v1/nodes answer, else `otherwise`.
std::string hostname_of(nlohmann::json nodes, const std::string& id, std::string otherwise) {
  for (const auto& n : nodes["nodes"]) {
    if (n["id"].get<std::string>() == id) otherwise = n["hostname"].get<std::string>();
  }
  return otherwise;
}

// Kills a node with SIGKILL: its agent, its task processes and its containers. How many tasks
// it killed.
int kill_node(const AgentProcess& agent, const std::string& hostname) {
  std::vector<int> containers = container_pids(container_owner(hostname, agent.work_dir));
  ::kill(agent.pid, SIGKILL);
  int tasks_killed = kill_tasks_under(agent.work_dir + "/sandboxes");
  for (int pid : containers) tasks_killed += ::kill(pid, SIGKILL) == 0 ? 1 : 0;
  return tasks_killed;
}

// One look at the master during a failover: the phases reached so far, at `now`.
void observe_failover(const Demo& demo, const std::string& node_id, const std::string& old_task,
                      double now, Phases* p, std::string* new_node, nlohmann::json* new_task) {
  if (p->lost < 0) {
    auto now_nodes = get_json(demo.master, "/berth/v1/nodes");
    for (const auto& n : now_nodes["nodes"]) {
      if (n["id"].get<std::string>() == node_id && n["state"] == "lost") p->lost = now;
    }
  }
  if (p->attached < 0) {
    for (const auto& d : get_json(demo.master, "/v1/state/datasets")) {
      if (d["dataset_id"] == demo.dataset_id && d.contains("primary") &&
          d["primary"].get<std::string>() != node_id) {
        p->attached = now;
        *new_node = d["primary"];
      }
    }
  }
  auto info = get_json(demo.master, "/v2/apps/" + demo.app_name);
  if (info.is_object()) {
    for (const auto& t : info["app"]["tasks"]) {
      if (t["id"].get<std::string>() == old_task || t.value("state", "") != "TASK_RUNNING")
        continue;
      if (p->running < 0) p->running = now;
      if (p->healthy < 0 && !t["healthCheckResults"].empty() &&
          t["healthCheckResults"][0].value("alive", false)) {
        p->healthy = now;
        *new_task = t;
      }
    }
  }
}

// The phases of the failover of node `node_id`, killed at t0, for up to 60 s: the master's
// view, and the client's.
Phases watch_failover(const Demo& demo, const std::string& node_id, const std::string& old_task,
                      Clock::time_point t0, std::string* new_node, nlohmann::json* new_task) {
  // The client's view: requests through the same address, each waiting up to 20 s; the first
  // that a new task answers after the kill ends the outage.
  Phases p;
  std::atomic<double> first_ok{-1};
  std::thread client([&] {
    while (first_ok < 0 && seconds_since(t0) < 60) {
      auto r = http::request(demo.via, "GET", "/v1/ping", "", 20000);
      if (r && r->status == 200 &&
          nlohmann::json::parse(r->body, nullptr, false).value("task", "") != old_task) {
        first_ok = seconds_since(t0);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  });
  while (seconds_since(t0) < 60 && (p.healthy < 0 || first_ok < 0)) {
    observe_failover(demo, node_id, old_task, seconds_since(t0), &p, new_node, new_task);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  client.join();
  p.first_ok = first_ok;
  return p;
}

void print_timeline(const Demo& demo, const Phases& p, int tasks_killed,
                    const std::string& new_host) {
  auto line = [](const std::string& what, double at) {
    std::printf("  %-56s %s\n", what.c_str(),
                at < 0 ? "never" : (std::to_string(at).substr(0, 5) + " s").c_str());
  };
  std::printf("timeline (from the kill; %d task processes of the node killed with it):\n",
              tasks_killed);
  line("killed", 0);
  line("declared lost by the master", p.lost);
  line("dataset attached on " + new_host, p.attached);
  line("task running there", p.running);
  line("task healthy", p.healthy);
  line("first successful request through " + demo.via, p.first_ok);
}

// Whether the service answers again with every acknowledged click; says which way.
bool clicks_kept(const Demo& demo, const std::set<int64_t>& acknowledged, const Phases& p,
                 const nlohmann::json& new_task) {
  auto after = get_json(demo.via, "/v1/clicks", 5000);
  std::set<int64_t> present;
  if (after.is_array()) {
    for (const auto& c : after) present.insert(c["id"].get<int64_t>());
  }
  std::vector<int64_t> missing;
  for (int64_t id : acknowledged) {
    if (!present.count(id)) missing.push_back(id);
  }
  if (p.first_ok < 0 || !missing.empty() || acknowledged.empty() || new_task.is_null()) {
    std::printf("FAILED: %zu of %zu acknowledged clicks are missing%s\n", missing.size(),
                acknowledged.size(), p.first_ok < 0 ? "; the service never answered again" : "");
    return false;
  }
  std::printf("all %zu acknowledged clicks are there: none lost (the log holds %zu)\n",
              acknowledged.size(), present.size());
  std::fflush(stdout);
  return true;
}

// Brings the killed node back (waiting up to 30 s for `node_count` nodes), and adds a few
// clicks for the next round.
void restore_node(const Demo& demo, const AgentProcess& agent, size_t node_count, int round,
                  std::set<int64_t>* acknowledged) {
  restart_agent(agent, agent.work_dir + "/restarted.log");
  auto back = Clock::now() + std::chrono::seconds(30);
  while (active_nodes(demo.master) < 2 || !get_json(demo.master, "/v1/state/nodes").is_array() ||
         get_json(demo.master, "/v1/state/nodes").size() < node_count) {
    if (Clock::now() > back) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 5; ++i) {
    post_click(demo.via, nlohmann::json{{"x", 10 * i}, {"y", round}}, acknowledged);
  }
}

// Kills the node running `task`, records the failover's phases in `rounds` and checks the
// clicks; then `task` is the new one. The demo's exit code so far.
int failover_round(const Demo& demo, const DemoFlags& flags, int round, nlohmann::json* task,
                   std::set<int64_t>* acknowledged, std::vector<Phases>* rounds) {
  std::string node_id = (*task)["slaveId"], old_task = (*task)["id"];
  auto nodes = get_json(demo.master, "/berth/v1/nodes");
  std::string hostname = hostname_of(nodes, node_id, "");
  AgentProcess agent;
  if (!find_agent(demo.master, hostname, &agent)) {
    std::cerr << "berth demo: cannot find the agent process of node " << hostname
              << " on this machine\n";
    return 1;
  }
  if (flags.rounds > 1) std::printf("round %d: ", round);
  std::printf("killing node %s: its agent (pid %d) and its tasks, SIGKILL\n", hostname.c_str(),
              agent.pid);
  std::fflush(stdout);
  Clock::time_point t0 = Clock::now();
  int tasks_killed = kill_node(agent, hostname);
  std::string new_node;
  nlohmann::json new_task;
  Phases p = watch_failover(demo, node_id, old_task, t0, &new_node, &new_task);
  rounds->push_back(p);
  std::string new_host = hostname_of(get_json(demo.master, "/berth/v1/nodes"), new_node, new_node);
  print_timeline(demo, p, tasks_killed, new_host);
  if (!clicks_kept(demo, *acknowledged, p, new_task)) return 1;
  *task = new_task;
  if (round < flags.rounds) {
    restore_node(demo, agent, nodes["nodes"].size(), round, acknowledged);
  }
  return 0;
}

void print_summary(const std::vector<Phases>& rounds) {
  auto summary = [&](const char* what, double Phases::*field) {
    std::vector<double> v;
    for (const auto& r : rounds) {
      if (r.*field >= 0) v.push_back(r.*field);
    }
    std::printf("  %-34s p50 %.2f s   p99 %.2f s   max %.2f s\n", what, percentile(v, 0.5),
                percentile(v, 0.99), v.empty() ? -1.0 : *std::max_element(v.begin(), v.end()));
  };
  std::printf("failover over %zu kills (from SIGKILL):\n", rounds.size());
  summary("declared lost", &Phases::lost);
  summary("dataset attached elsewhere", &Phases::attached);
  summary("task running", &Phases::running);
  summary("task healthy", &Phases::healthy);
  summary("first request through service port", &Phases::first_ok);
}

}  // namespace

int run_demo(const DemoFlags& flags, const std::string& self_exe) {
  g_data_dir = flags.data_dir;
  Demo demo;
  demo.master = flags.master;
  pid_t started_up = start_cluster_if_none(flags, self_exe);
  if (!wait_for_two_nodes(demo.master)) {
    stop_up(started_up);
    return 1;
  }
  demo.via = "http://127.0.0.1:" + std::to_string(flags.service_port);
  demo.app_name = flags.docker ? "berth-demo-docker" : "berth-demo";
  demo.dataset_name = demo.app_name + "-clicks";
  if (flags.docker && !counter_image_present()) {
    stop_up(started_up);
    return 1;
  }
  nlohmann::json app =
      flags.docker ? docker_counter_app(flags, demo) : counter_app(flags, self_exe);
  if (!deploy(demo, app)) {
    stop_up(started_up);
    return 1;
  }
  std::cout << "deployed /" << demo.app_name << " (berth-counter"
            << (flags.docker ? " in Docker" : "") << " with dataset " << demo.dataset_name
            << ", health check, service port " << flags.service_port << ")\n";
  nlohmann::json task = wait_until_healthy(demo);
  if (task.is_null()) {
    stop_up(started_up);
    return 1;
  }

  std::set<int64_t> acknowledged;
  for (int i = 0; i < flags.clicks; ++i) {
    post_click(demo.via, {{"x", 40 + (i * 37) % 600}, {"y", 40 + (i * 53) % 400}}, &acknowledged);
  }
  auto before = get_json(demo.via, "/v1/clicks");
  size_t total_before = before.is_array() ? before.size() : 0;
  std::cout << "posted " << acknowledged.size() << " clicks through " << demo.via << " ("
            << total_before << " in the log)\n";

  demo.dataset_id = dataset_id_of(demo.master, demo.dataset_name);
  std::vector<Phases> rounds;
  int rc = 0;
  for (int round = 1; round <= flags.rounds && rc == 0; ++round) {
    rc = failover_round(demo, flags, round, &task, &acknowledged, &rounds);
  }
  if (rounds.size() > 1) print_summary(rounds);
  if (started_up > 0 && !flags.keep) {
    std::cout << "stopping the cluster this demo started (use --keep to leave it running)\n";
    stop_up(started_up);
  }
  return rc;
}

}  // namespace berth::cmd
