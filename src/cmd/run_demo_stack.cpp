// `berth demo --stack`: many databases in a stack (docs/architecture.md §1). One Marathon group
// (POST /v2/groups) holds berth-counter "databases", each with its own dataset, health check
// and service port, and a stateless front that depends on them, so the deployment starts the
// databases first. The demo posts clicks to every database, kills the node holding the most
// members (its agent and every task process of that node, SIGKILL), prints each affected
// member's failover timeline and checks that every acknowledged click of every database is
// still there.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cmd/commands.h"
#include "cmd/demo_support.h"
#include "http/http.h"

namespace berth::cmd {
namespace {

using Clock = DemoClock;

constexpr const char* kGroup = "berth-stack";
constexpr const char* kDatabaseNames[] = {"orders", "users",  "events", "billing",
                                          "audit",  "search", "mail",   "metrics"};
constexpr auto kFailoverLimit = std::chrono::seconds(90);

// One app of the stack: a database (a counter with a dataset) or the front (no dataset).
struct Member {
  std::string app_name;      // without the leading '/'
  std::string dataset_name;  // empty for the front
  std::string via;           // its service port, as clients reach it
  uint16_t service_port = 0;
  nlohmann::json task;             // its running task before the kill
  std::set<int64_t> acknowledged;  // clicks the counter acknowledged
  std::string host_before;         // where it ran before the kill
  bool affected = false;           // it ran on the killed node
  FailoverWatch watch;             // its failover, when affected
  bool database() const { return !dataset_name.empty(); }
};

std::vector<Member> stack_members(const DemoFlags& flags) {
  std::vector<Member> members;
  for (int i = 0; i <= flags.databases; ++i) {
    Member m;
    bool front = i == flags.databases;
    m.app_name =
        std::string(kGroup) + (front ? "/web/front" : "/db/" + std::string(kDatabaseNames[i]));
    if (!front) m.dataset_name = std::string(kGroup) + "-" + kDatabaseNames[i];
    m.service_port = static_cast<uint16_t>(flags.service_port + i);
    m.via = "http://127.0.0.1:" + std::to_string(m.service_port);
    members.push_back(m);
  }
  return members;
}

// The stateless front: berth-counter's page with scratch data in its sandbox, kept nowhere.
nlohmann::json front_app(const std::string& self_exe, uint16_t service_port) {
  auto app = counter_app(self_exe, "front", "", service_port);
  app.erase("container");
  std::string cmd = app["cmd"];
  app["cmd"] = cmd.substr(0, cmd.find("$BERTH_VOLUME_DATA")) + "$MESOS_SANDBOX/scratch";
  return app;
}

// The group: /berth-stack/db holds the databases, /berth-stack/web the front, which depends on
// the whole db group. Ids inside are relative to their group (docs/compatibility.md §2.8).
nlohmann::json stack_group(const std::vector<Member>& members, const std::string& self_exe) {
  nlohmann::json databases = nlohmann::json::array();
  for (const auto& m : members) {
    if (!m.database()) continue;
    std::string name = m.app_name.substr(m.app_name.rfind('/') + 1);
    databases.push_back(counter_app(self_exe, name, m.dataset_name, m.service_port));
  }
  return {{"id", "/" + std::string(kGroup)},
          {"groups",
           {{{"id", "db"}, {"apps", databases}},
            {{"id", "web"},
             {"dependencies", {"/" + std::string(kGroup) + "/db"}},
             {"apps", {front_app(self_exe, members.back().service_port)}}}}}};
}

// Removes a stack left by an earlier run (its datasets stay), waiting up to 60 s for it to go.
bool remove_old_stack(const std::string& master) {
  std::cout << "removing the /" << kGroup << " an earlier run left (its datasets stay)\n";
  auto removed =
      http::request(master, "DELETE", std::string("/v2/groups/") + kGroup + "?force=true", "",
                    10000, auth_headers());
  if (!removed || removed->status != 200) {
    std::cerr << "berth demo --stack: removing the old /" << kGroup
              << " failed: " << (removed ? removed->body : removed.error().message) << "\n";
    return false;
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    auto group =
        http::request(master, "GET", std::string("/v2/groups/") + kGroup, "", 2000, auth_headers());
    auto deployments = get_json(master, "/v2/deployments");
    if (group && group->status == 404 && deployments.is_array() && deployments.empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cerr << "berth demo --stack: the old /" << kGroup << " did not go within 60 s\n";
  return false;
}

// POSTs the group (replacing one an earlier run left): the deployment's id, else "".
std::string create_stack(const std::string& master, const nlohmann::json& group) {
  auto post = http::request(master, "POST", "/v2/groups", group.dump(), 10000, auth_headers());
  if (post && post->status == 409) {
    if (!remove_old_stack(master)) return "";
    post = http::request(master, "POST", "/v2/groups", group.dump(), 10000, auth_headers());
  }
  if (!post || post->status != 201) {
    std::cerr << "berth demo --stack: POST /v2/groups failed: "
              << (post ? std::to_string(post->status) + " " + post->body : post.error().message)
              << "\n";
    return "";
  }
  return nlohmann::json::parse(post->body, nullptr, false).value("deploymentId", "");
}

// The deployment `id` in GET /v2/deployments, else null (it is over).
nlohmann::json deployment(const std::string& master, const std::string& id) {
  auto all = get_json(master, "/v2/deployments");
  if (!all.is_array()) return nlohmann::json::object();  // no answer: not known to be over
  for (const auto& d : all) {
    if (d.value("id", "") == id) return d;
  }
  return nullptr;
}

void print_steps(const nlohmann::json& plan) {
  std::printf("deployment %s, %d steps (GET /v2/deployments):\n", plan.value("id", "").c_str(),
              plan.value("totalSteps", 0));
  int n = 0;
  for (const auto& step : plan["steps"]) {
    std::string actions;
    for (const auto& a : step["actions"]) {
      actions += (actions.empty() ? "" : ", ") + a.value("action", "") + " " + a.value("app", "");
    }
    std::printf("  step %d: %s\n", ++n, actions.c_str());
  }
}

// Prints the plan, then each step as it ends; false (said why) when it takes over 120 s.
bool follow_deployment(const std::string& master, const std::string& id) {
  Clock::time_point t0 = Clock::now();
  nlohmann::json plan = deployment(master, id);
  if (plan.is_object() && plan.contains("steps")) print_steps(plan);
  int step = plan.is_object() ? plan.value("currentStep", 1) : 1;
  int total = plan.is_object() ? plan.value("totalSteps", step) : step;
  while (seconds_since(t0) < 120) {
    nlohmann::json now = deployment(master, id);
    int current = now.is_null() ? total + 1 : now.value("currentStep", step);
    for (; step < current; ++step)
      std::printf("  step %d done at %.2f s\n", step, seconds_since(t0));
    if (now.is_null()) {
      std::printf("deployment done at %.2f s\n", seconds_since(t0));
      std::fflush(stdout);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "berth demo --stack: the deployment " << id
            << " did not end within 120 s: " << deployment(master, id).dump() << "\n";
  return false;
}

// Until a click posted through `via` is acknowledged (each request waiting up to 20 s) or the
// failover limit passes: seconds from t0, else -1. The acknowledged click joins the others.
double first_write_after(const std::string& via, Clock::time_point t0,
                         std::set<int64_t>* acknowledged) {
  for (int i = 0; Clock::now() - t0 < kFailoverLimit; ++i) {
    size_t before = acknowledged->size();
    post_click(via, {{"x", 500 + i % 100}, {"y", 7}}, acknowledged, 20000);
    if (acknowledged->size() > before) return seconds_since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// The node holding the most databases (the front breaks ties), with the members on it marked.
std::string node_to_kill(const std::string& master, std::vector<Member>* members) {
  std::map<std::string, int> weight;
  auto nodes = get_json(master, "/berth/v1/nodes");
  for (auto& m : *members) {
    std::string node = m.task["slaveId"];
    weight[node] += m.database() ? 10 : 1;
    m.host_before = hostname_of(nodes, node, node);
  }
  auto most = std::max_element(weight.begin(), weight.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  for (auto& m : *members) m.affected = m.task["slaveId"] == most->first;
  return most->first;
}

// Watches every affected member until each is healthy and answers through its service port
// again, or the failover limit passes.
void watch_failovers(const std::string& master, const std::string& node_id, Clock::time_point t0,
                     std::vector<Member>* members) {
  std::vector<std::thread> clients;
  std::vector<double> first_ok(members->size(), -1);
  for (size_t i = 0; i < members->size(); ++i) {
    Member& m = (*members)[i];
    if (!m.affected) continue;
    m.watch = FailoverWatch{m.app_name, dataset_id_of(master, m.dataset_name), m.task["id"], {}, {},
                            nullptr};
    Member* member = &m;
    double* ok_at = &first_ok[i];
    clients.emplace_back([member, ok_at, t0] {
      *ok_at = member->database() ? first_write_after(member->via, t0, &member->acknowledged)
                                  : first_answer_after(member->via, member->watch.old_task, t0);
    });
  }
  auto done = [&] {
    for (const auto& m : *members) {
      if (m.affected && m.watch.phases.healthy < 0) return false;
    }
    return true;
  };
  while (Clock::now() - t0 < kFailoverLimit && !done()) {
    MasterLook look = look_at(master);
    for (auto& m : *members) {
      if (m.affected) observe_failover(master, look, node_id, seconds_since(t0), &m.watch);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& client : clients) client.join();
  for (size_t i = 0; i < members->size(); ++i) (*members)[i].watch.phases.first_ok = first_ok[i];
}

void print_member_timeline(const std::string& master, const Member& m) {
  const Phases& p = m.watch.phases;
  std::string new_node = m.watch.new_node;
  if (new_node.empty() && m.watch.new_task.is_object()) new_node = m.watch.new_task["slaveId"];
  std::string new_host = hostname_of(get_json(master, "/berth/v1/nodes"), new_node, "another node");
  std::printf("/%s (was on %s):\n", m.app_name.c_str(), m.host_before.c_str());
  print_phase("declared lost by the master", p.lost);
  if (m.database()) {
    print_phase("dataset " + m.dataset_name + " attached on " + new_host, p.attached);
  } else {
    std::printf("  %-56s %s\n", "no dataset (stateless)", "-");
  }
  print_phase("task running there", p.running);
  print_phase("task healthy", p.healthy);
  print_phase(
      std::string(m.database() ? "first write acknowledged through " : "first answer through ") +
          m.via,
      p.first_ok);
}

// One summary line per member; whether every database kept every acknowledged click and every
// affected member came back.
bool check_members(const std::vector<Member>& members) {
  bool ok = true;
  size_t acknowledged = 0, databases = 0;
  std::printf("summary:\n");
  for (const auto& m : members) {
    bool back = !m.affected || (m.watch.phases.healthy >= 0 && m.watch.phases.first_ok >= 0);
    std::string where =
        m.affected
            ? m.host_before + " (killed), back in " +
                  (back ? std::to_string(m.watch.phases.first_ok).substr(0, 5) + " s" : "never")
            : "stayed on " + m.host_before;
    ok = ok && back;
    if (!m.database()) {
      std::printf("  %-26s %-40s stateless\n", ("/" + m.app_name).c_str(), where.c_str());
      continue;
    }
    auto clicks = get_json(m.via, "/v1/clicks", 5000);
    acknowledged += m.acknowledged.size();
    ++databases;
    if (!clicks.is_array()) {
      // Out of reach is not lost: nothing could be read.
      ok = false;
      std::printf("  %-26s %-40s %zu acknowledged, unreachable through %s (not read)\n",
                  ("/" + m.app_name).c_str(), where.c_str(), m.acknowledged.size(), m.via.c_str());
      continue;
    }
    std::set<int64_t> present;
    for (const auto& c : clicks) present.insert(c["id"].get<int64_t>());
    size_t lost = 0;
    for (int64_t id : m.acknowledged) lost += present.count(id) ? 0 : 1;
    ok = ok && lost == 0 && !m.acknowledged.empty();
    std::printf("  %-26s %-40s %zu acknowledged, %zu present, %zu lost\n",
                ("/" + m.app_name).c_str(), where.c_str(), m.acknowledged.size(), present.size(),
                lost);
  }
  if (ok) {
    std::printf("all %zu acknowledged clicks of the %zu databases are there: none lost\n",
                acknowledged, databases);
  } else {
    std::printf(
        "FAILED: a database lost acknowledged clicks, was unreachable, or a member did "
        "not come back\n");
  }
  std::fflush(stdout);
  return ok;
}

// Deploys the stack and waits until every member answers; false (said why) otherwise.
bool deploy_stack(const std::string& master, const std::string& self_exe,
                  std::vector<Member>* members) {
  std::string deployment_id = create_stack(master, stack_group(*members, self_exe));
  if (deployment_id.empty() || !follow_deployment(master, deployment_id)) return false;
  for (auto& m : *members) {
    m.task = wait_until_healthy(master, m.app_name, m.via);
    if (m.task.is_null()) return false;
  }
  return true;
}

// Kills the node holding the most members, prints each affected member's failover and checks
// every database. The demo's exit code.
int fail_over_stack(const std::string& master, std::vector<Member>* members) {
  std::string node_id = node_to_kill(master, members);
  std::string hostname = hostname_of(get_json(master, "/berth/v1/nodes"), node_id, "");
  AgentProcess agent;
  if (!find_agent(master, hostname, &agent)) {
    std::cerr << "berth demo --stack: cannot find the agent process of node " << hostname
              << " on this machine\n";
    return 1;
  }
  std::string on_it;
  for (const auto& m : *members) on_it += m.affected ? " /" + m.app_name : "";
  std::printf("killing node %s, which holds%s: its agent (pid %d) and its tasks, SIGKILL\n",
              hostname.c_str(), on_it.c_str(), agent.pid);
  std::fflush(stdout);
  Clock::time_point t0 = Clock::now();
  int tasks_killed = kill_node(agent, hostname);
  watch_failovers(master, node_id, t0, members);
  std::printf("timelines (from the kill; %d task processes of the node killed with it):\n",
              tasks_killed);
  for (const auto& m : *members) {
    if (m.affected) print_member_timeline(master, m);
  }
  return check_members(*members) ? 0 : 1;
}

}  // namespace

int run_demo_stack(const DemoFlags& given, const std::string& self_exe) {
  set_demo_data_dir(given.data_dir);
  pid_t started_up = start_cluster_if_none(given, self_exe);
  int rc = 1;
  bool nodes = wait_for_nodes(given.master, 2);
  DemoFlags flags = given;
  flags.service_port = demo_service_port(given, 90);
  std::vector<Member> members = stack_members(flags);
  if (nodes && deploy_stack(flags.master, self_exe, &members)) {
    for (size_t i = 0; i < members.size(); ++i) {
      Member& m = members[i];
      if (!m.database()) continue;
      for (int c = 0; c < flags.clicks; ++c) {
        post_click(m.via, {{"x", 40 + (c * 37) % 600}, {"y", 40 + static_cast<int>(i) * 60}},
                   &m.acknowledged);
      }
      std::printf("posted %zu clicks to /%s through %s (dataset %s)\n", m.acknowledged.size(),
                  m.app_name.c_str(), m.via.c_str(), m.dataset_name.c_str());
    }
    std::fflush(stdout);
    rc = fail_over_stack(flags.master, &members);
  }
  if (started_up > 0 && !flags.keep) {
    std::cout << "stopping the cluster this demo started (use --keep to leave it running)\n";
    stop_up(started_up);
  }
  return rc;
}

}  // namespace berth::cmd
