// The helpers of the demo commands (cmd/demo_support.h).
#include "cmd/demo_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "executor/docker_executor.h"
#include "executor/leftovers.h"
#include "http/http.h"

namespace berth::cmd {
namespace {

// The data directory of the cluster the demo drives, whose admin token authenticates it.
std::string g_data_dir = "./.berth";

}  // namespace

void set_demo_data_dir(const std::string& data_dir) { g_data_dir = data_dir; }

// The demo's credential: $BERTH_TOKEN or the local cluster's admin token (read each time: the
// master creates the file when a cluster the demo starts comes up).
std::vector<std::pair<std::string, std::string>> auth_headers() {
  return {{"Authorization", "Bearer " + local_admin_token(g_data_dir)}};
}

nlohmann::json get_json(const std::string& base, const std::string& target, int timeout_ms) {
  auto r = http::request(base, "GET", target, "", timeout_ms, auth_headers());
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

uint16_t demo_service_port(const DemoFlags& flags, uint16_t offset) {
  if (flags.service_port != 0) return flags.service_port;
  auto info = get_json(flags.master, "/v2/info");
  uint32_t first = 10000;
  if (info.is_object() && info["marathon_config"]["local_port_min"].is_number_unsigned())
    first = info["marathon_config"]["local_port_min"].get<uint32_t>();
  return static_cast<uint16_t>(std::min<uint32_t>(first + offset, 65535));
}

int active_nodes(const std::string& master) {
  auto nodes = get_json(master, "/berth/v1/nodes");
  int n = 0;
  if (nodes.is_object()) {
    for (const auto& node : nodes["nodes"]) n += node.value("state", "") == "active" ? 1 : 0;
  }
  return n;
}

bool wait_for_nodes(const std::string& master, int count) {
  auto deadline = DemoClock::now() + std::chrono::seconds(60);
  while (active_nodes(master) < count) {
    if (DemoClock::now() > deadline) {
      std::cerr << "berth demo: needs a cluster with at least " << count << " active nodes at "
                << master << "\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

double seconds_since(DemoClock::time_point t0) {
  return std::chrono::duration<double>(DemoClock::now() - t0).count();
}

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

void stop_up(pid_t started_up) {
  if (started_up <= 0) return;
  ::kill(started_up, SIGTERM);
  ::waitpid(started_up, nullptr, 0);
}

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
      int netns = ::open(("/proc/" + std::to_string(p) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
      *found_agent = AgentProcess{p, dir, args, proc_entries(p, "environ"), netns};
      found = true;
    }
  });
  return found;
}

std::string pick_router(const std::string& master, uint16_t port, std::string* keep_off) {
  std::string address = "127.0.0.1";
  keep_off->clear();
  auto nodes = get_json(master, "/berth/v1/nodes");
  int hosts = 0;
  if (nodes.is_object() && nodes["nodes"].is_array()) {
    for (const auto& n : nodes["nodes"]) {
      std::string at = n.value("address", "");
      bool loopback = at.empty() || at.rfind("127.", 0) == 0 || at == "localhost" || at == "::1";
      if (n.value("state", "") != "active" || loopback) continue;
      ++hosts;
      address = at;
      *keep_off = n.value("hostname", "");
    }
  }
  if (hosts < 3) keep_off->clear();
  return "http://" + address + ":" + std::to_string(port);
}

int kill_node(const AgentProcess& agent, const std::string& hostname) {
  std::vector<int> containers = container_pids(container_owner(hostname, agent.work_dir));
  ::kill(agent.pid, SIGKILL);
  int tasks_killed = kill_tasks_under(agent.work_dir + "/sandboxes");
  for (int pid : containers) tasks_killed += ::kill(pid, SIGKILL) == 0 ? 1 : 0;
  return tasks_killed;
}

std::string hostname_of(const nlohmann::json& nodes, const std::string& id, std::string otherwise) {
  if (!nodes.is_object()) return otherwise;
  for (const auto& n : nodes["nodes"]) {
    if (n["id"].get<std::string>() == id) otherwise = n["hostname"].get<std::string>();
  }
  return otherwise;
}

std::string dataset_id_of(const std::string& master, const std::string& dataset_name) {
  std::string dataset_id;
  auto datasets = get_json(master, "/v1/configuration/datasets");
  if (!datasets.is_array()) return dataset_id;
  for (const auto& d : datasets) {
    if (d["metadata"].value("name", "") == dataset_name && !d.value("deleted", false))
      dataset_id = d["dataset_id"];
  }
  return dataset_id;
}

nlohmann::json counter_health_checks() {
  return {{{"protocol", "HTTP"},
           {"path", "/v1/ping"},
           {"portIndex", 0},
           {"gracePeriodSeconds", 10},
           {"intervalSeconds", 1},
           {"timeoutSeconds", 1},
           {"maxConsecutiveFailures", 3}}};
}

nlohmann::json counter_app(const std::string& self_exe, const std::string& id,
                           const std::string& dataset_name, uint16_t service_port) {
  std::string counter = std::filesystem::path(self_exe).parent_path().string() + "/berth-counter";
  return nlohmann::json{
      {"id", id},
      {"cmd", counter + " --port $PORT0 --data-dir $BERTH_VOLUME_DATA"},
      {"cpus", 0.1},
      {"mem", 64},
      {"instances", 1},
      {"portDefinitions", {{{"port", service_port}, {"name", "http"}}}},
      {"upgradeStrategy", {{"minimumHealthCapacity", 0}, {"maximumOverCapacity", 0}}},
      {"healthChecks", counter_health_checks()},
      {"container",
       {{"type", "MESOS"},
        {"volumes",
         {{{"containerPath", "/data"},
           {"mode", "RW"},
           {"external",
            {{"name", dataset_name},
             {"provider", "dvdi"},
             {"options", {{"dvdi/driver", "berth"}}}}}}}}}}};
}

nlohmann::json wait_until_healthy(const std::string& master, const std::string& app_name,
                                  const std::string& via) {
  auto deadline = DemoClock::now() + std::chrono::seconds(60);
  nlohmann::json task;
  while (true) {
    auto info = get_json(master, "/v2/apps/" + app_name);
    if (info.is_object() && info["app"]["tasksHealthy"].get<int>() >= 1 &&
        http::request(via, "GET", "/v1/ping", "", 1000).ok()) {
      for (const auto& t : info["app"]["tasks"]) {
        if (t.value("state", "") == "TASK_RUNNING") task = t;
      }
      if (!task.is_null()) return task;
    }
    if (DemoClock::now() > deadline) {
      std::cerr << "berth demo: /" << app_name << " did not become healthy within 60 s; the app: "
                << get_json(master, "/v2/apps/" + app_name).dump() << "\n";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void post_click(const std::string& via, const nlohmann::json& click,
                std::set<int64_t>* acknowledged, int timeout_ms) {
  auto r = http::request(via, "POST", "/v1/clicks", click.dump(), timeout_ms);
  if (r && r->status == 201)
    acknowledged->insert(nlohmann::json::parse(r->body)["id"].get<int64_t>());
}

MasterLook look_at(const std::string& master) {
  return {get_json(master, "/berth/v1/nodes"), get_json(master, "/v1/state/datasets")};
}

void observe_failover(const std::string& master, const MasterLook& look, const std::string& node_id,
                      double now, FailoverWatch* watch) {
  Phases* p = &watch->phases;
  if (p->lost < 0 && look.nodes.is_object()) {
    for (const auto& n : look.nodes["nodes"]) {
      if (n["id"].get<std::string>() == node_id && n["state"] == "lost") p->lost = now;
    }
  }
  if (p->attached < 0 && !watch->dataset_id.empty() && look.datasets.is_array()) {
    for (const auto& d : look.datasets) {
      if (d["dataset_id"] == watch->dataset_id && d.contains("primary") &&
          d["primary"].get<std::string>() != node_id) {
        p->attached = now;
        watch->new_node = d["primary"];
      }
    }
  }
  auto info = get_json(master, "/v2/apps/" + watch->app_name);
  if (!info.is_object()) return;
  for (const auto& t : info["app"]["tasks"]) {
    if (t["id"].get<std::string>() == watch->old_task || t.value("state", "") != "TASK_RUNNING")
      continue;
    if (p->running < 0) p->running = now;
    if (p->healthy < 0 && !t["healthCheckResults"].empty() &&
        t["healthCheckResults"][0].value("alive", false)) {
      p->healthy = now;
      watch->new_task = t;
    }
  }
}

double first_answer_after(const std::string& via, const std::string& old_task,
                          DemoClock::time_point t0) {
  while (seconds_since(t0) < 60) {
    auto r = http::request(via, "GET", "/v1/ping", "", 20000);
    if (r && r->status == 200 &&
        nlohmann::json::parse(r->body, nullptr, false).value("task", "") != old_task) {
      return seconds_since(t0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

void print_phase(const std::string& what, double at) {
  std::printf("  %-56s %s\n", what.c_str(),
              at < 0 ? "never" : (std::to_string(at).substr(0, 5) + " s").c_str());
}

}  // namespace berth::cmd
