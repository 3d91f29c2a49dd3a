// `berth demo` (issue: highly available stateful apps): on a running cluster (starting
// `berth up` if none answers) deploy berth-counter with a dataset, a health check and a
// service port, post clicks through the service port, kill the node running it (its agent and
// every task process of that node, SIGKILL), print the failover timeline and check that every
// acknowledged click is still there.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cmd/commands.h"
#include "cmd/demo_support.h"
#include "docker/docker_client.h"
#include "http/http.h"

namespace berth::cmd {
namespace {

using Clock = DemoClock;

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
  // On the host (network namespace) it ran on.
  if (agent.netns_fd >= 0 && ::setns(agent.netns_fd, CLONE_NEWNET) != 0) ::_exit(126);
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

// The seed demo's shape: berth-counter's image FROM scratch in Docker's bridge network, its
// clicks on a dataset through the berth volume plugin.
nlohmann::json docker_counter_app(const DemoFlags& flags, const Demo& demo) {
  return {
      {"id", "/" + demo.app_name},
      {"cpus", 0.1},
      {"mem", 64},
      {"instances", 1},
      {"healthChecks", counter_health_checks()},
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

// The phases of the failover of node `node_id`, killed at t0, for up to 60 s: the master's
// view, and the client's.
Phases watch_failover(const Demo& demo, const std::string& node_id, const std::string& old_task,
                      Clock::time_point t0, std::string* new_node, nlohmann::json* new_task) {
  // The client's view: requests through the same address, each waiting up to 20 s; the first
  // that a new task answers after the kill ends the outage.
  FailoverWatch watch{demo.app_name, demo.dataset_id, old_task, {}, {}, nullptr};
  std::atomic<double> first_ok{-1};
  std::thread client([&] { first_ok = first_answer_after(demo.via, old_task, t0); });
  while (seconds_since(t0) < 60 && (watch.phases.healthy < 0 || first_ok < 0)) {
    observe_failover(demo.master, look_at(demo.master), node_id, seconds_since(t0), &watch);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  client.join();
  watch.phases.first_ok = first_ok;
  *new_node = watch.new_node;
  *new_task = watch.new_task;
  return watch.phases;
}

void print_timeline(const Demo& demo, const Phases& p, int tasks_killed,
                    const std::string& new_host) {
  auto line = print_phase;
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
  if (!after.is_array()) {
    // No answer is no evidence either way: the clicks may all be there, out of reach.
    std::printf(
        "FAILED: the counter is unreachable through %s, so whether the %zu acknowledged "
        "clicks are kept is unknown (not lost: unread)%s\n",
        demo.via.c_str(), acknowledged.size(),
        p.first_ok < 0 ? "; the service never answered again" : "");
    return false;
  }
  std::set<int64_t> present;
  for (const auto& c : after) present.insert(c["id"].get<int64_t>());
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

int run_demo(const DemoFlags& given, const std::string& self_exe) {
  set_demo_data_dir(given.data_dir);
  Demo demo;
  demo.master = given.master;
  pid_t started_up = start_cluster_if_none(given, self_exe);
  if (!wait_for_nodes(demo.master, 2)) {
    stop_up(started_up);
    return 1;
  }
  DemoFlags flags = given;
  flags.service_port = demo_service_port(given, 80);
  std::string keep_off;
  demo.via = pick_router(demo.master, flags.service_port, &keep_off);
  demo.app_name = flags.docker ? "berth-demo-docker" : "berth-demo";
  demo.dataset_name = demo.app_name + "-clicks";
  if (flags.docker && !counter_image_present()) {
    stop_up(started_up);
    return 1;
  }
  nlohmann::json app = flags.docker ? docker_counter_app(flags, demo)
                                    : counter_app(self_exe, "/" + demo.app_name, demo.dataset_name,
                                                  flags.service_port);
  if (!keep_off.empty()) app["constraints"] = {{"hostname", "UNLIKE", keep_off}};
  if (!flags.driver.empty() && !flags.docker) {
    app["container"]["volumes"][0]["external"]["options"]["berth/driver"] = flags.driver;
  }
  if (!deploy(demo, app)) {
    stop_up(started_up);
    return 1;
  }
  std::cout << "deployed /" << demo.app_name << " (berth-counter"
            << (flags.docker ? " in Docker" : "") << " with dataset " << demo.dataset_name
            << ", health check, service port " << flags.service_port
            << (keep_off.empty() ? "" : ", kept off " + keep_off + " whose router it is reached by")
            << ")\n";
  nlohmann::json task = wait_until_healthy(demo.master, demo.app_name, demo.via);
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
