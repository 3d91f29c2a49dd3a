// A leader cut off from etcd and from the agents by the network (docs/architecture.md §5, "Masters
// on etcd"). Master 1 runs in a network namespace joined to the host by a veth pair; it reaches
// etcd (which also listens on the host's end of the pair) and the agents reach it over that pair
// only. Masters 2 and 3, etcd and the agents are on the host. Master 1 leads, a writer
// runs, then the namespace's end of the pair goes down: another master leads, the writer keeps
// running or is replaced. When the link comes back with masters 2 and 3 paused (the new leader's
// key still in etcd), master 1 writes nothing to etcd and answers agents as a standby.
// Cluster: heartbeats every 0.2 s, lease 2.5 s, declared lost after 3 s; etcd's default election
// timeout, so the leader lease's TTL is 2 s. Needs root (`ip netns`, nsenter); skips otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/http.h"
#include "tests/integration/cluster.h"
#include "tests/integration/isolated_host.h"
#include "tests/integration/writer_log.h"
#include "tests/support/etcd_process.h"

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string running_task(Cluster& cluster, const std::string& app) {
  auto tasks = cluster.running_tasks(app);
  return tasks.size() == 1 ? tasks[0]["id"].get<std::string>() : "";
}

// The master that master `asked` names as the leader (GET /v2/leader); 0 when none.
int leader_named_by(Cluster& cluster, int asked) {
  auto answer = http::request(cluster.master_url(asked), "GET", "/v2/leader", "", 2000,
                              cluster.admin_headers());
  if (!answer.ok() || answer->status != 200) return 0;
  auto body = nlohmann::json::parse(answer->body, nullptr, false);
  const std::string leader = body.is_object() ? body.value("leader", "") : "";
  for (int i = 1; i <= cluster.masters(); ++i) {
    if ("http://" + leader == cluster.master_url(i)) return i;
  }
  return 0;
}

// GET `target` of master `asked` itself, as admin; null when it does not answer 200. While
// master 1 is cut off, Cluster::call would wait out a timeout on it first.
nlohmann::json get_from(Cluster& cluster, int asked, const std::string& target) {
  auto answer =
      http::request(cluster.master_url(asked), "GET", target, "", 2000, cluster.admin_headers());
  if (!answer.ok() || answer->status != 200) return nullptr;
  return nlohmann::json::parse(answer->body, nullptr, false);
}

// The one running task of `app` and the number of active nodes, as master `asked` sees them.
std::string running_task_on(Cluster& cluster, int asked, const std::string& app) {
  const nlohmann::json tasks = get_from(cluster, asked, "/v2/apps" + app + "/tasks");
  if (!tasks.is_object() || !tasks["tasks"].is_array()) return "";
  std::vector<std::string> running;
  for (const auto& t : tasks["tasks"]) {
    if (t.value("state", "") == "TASK_RUNNING") running.push_back(t.value("id", ""));
  }
  return running.size() == 1 ? running[0] : "";
}

int active_nodes_on(Cluster& cluster, int asked) {
  const nlohmann::json nodes = get_from(cluster, asked, "/berth/v1/nodes");
  if (!nodes.is_object() || !nodes["nodes"].is_array()) return -1;
  int active = 0;
  for (const auto& n : nodes["nodes"]) active += n.value("state", "") == "active" ? 1 : 0;
  return active;
}

std::string master_log(const Cluster& cluster, int index) {
  return cluster.dir() + (index == 1 ? "/master.log" : "/master-" + std::to_string(index) + ".log");
}

std::string agent_log(const Cluster& cluster, int index) {
  return cluster.dir() + "/agent-" + std::to_string(index) + ".log";
}

uintmax_t file_size(const std::string& path) {
  std::error_code ignored;
  const uintmax_t size = std::filesystem::file_size(path, ignored);
  return ignored ? 0 : size;
}

// The lines of `path` from byte `from` on.
std::vector<std::string> lines_from(const std::string& path, uintmax_t from) {
  std::ifstream in(path);
  in.seekg(static_cast<std::streamoff>(from));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The lines among `lines` that contain one of `needles`.
std::vector<std::string> matching(const std::vector<std::string>& lines,
                                  const std::vector<std::string>& needles) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    for (const auto& needle : needles) {
      if (line.find(needle) != std::string::npos) {
        out.push_back(line);
        break;
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

class HaNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdProcess::binary().empty()) {
      GTEST_SKIP() << "no etcd binary: install Debian's etcd-server (scripts/install-deps) or set "
                      "BERTH_ETCD to run several masters";
    }
    if (std::string why; !IsolatedHost::possible(&why)) GTEST_SKIP() << why;
  }
};

TEST_F(HaNetns, ALeaderCutOffFromEtcdAndAgentsWritesNothingAndSendsNoCommandWhenTheLinkReturns) {
  IsolatedHost link("ha", 232);
  ASSERT_TRUE(link.ok()) << "could not create a network namespace with a veth pair";
  std::string error;
  auto etcd = EtcdProcess::start(&error, 1, {link.host_ip()});
  ASSERT_NE(etcd, nullptr) << error;
  // Master 1 in the namespace, reaching etcd over the pair; masters 2 and 3 on the host, on
  // etcd's loopback address. A standby passes the API on to the leader it names, so every master
  // must reach every other at the address it advertises: the host's masters listen on the host's
  // end of the pair (a host address, reachable from the host even while the pair is cut), not
  // on loopback, which inside the namespace is the namespace's own.
  const std::string etcd_from_ns =
      "etcd://" + link.host_ip() + ":" + std::to_string(etcd->client_port()) + "/ha";
  const std::string etcd_from_host = "etcd://" + etcd->host_port() + "/ha";
  std::map<int, MasterSetup> setup;
  setup[1] = MasterSetup{link.netns(), link.ns_ip(), {"--store", etcd_from_ns}};
  setup[2] = MasterSetup{"", link.host_ip(), {"--store", etcd_from_host}};
  setup[3] = MasterSetup{"", link.host_ip(), {"--store", etcd_from_host}};
  auto cluster = std::make_unique<Cluster>(2, 3000, std::map<int, std::vector<std::string>>{},
                                           std::map<int, std::pair<std::string, std::string>>{},
                                           std::vector<std::string>{}, 3, setup);
  const auto admin = cluster->admin_headers();

  // Master 1 leads: it started first; else the others step down until it does.
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        const int leader = cluster->leader_index();
        if (leader == 1) return true;
        if (leader != 0) {
          (void)http::request(cluster->master_url(leader), "DELETE", "/v2/leader", "", 3000, admin);
          std::this_thread::sleep_for(seconds(1));
        }
        return false;
      },
      seconds(40)))
      << "master 1 (in " << link.netns() << ") never led";
  ASSERT_TRUE(Cluster::eventually([&] { return cluster->active_nodes() == 2; }, seconds(20)));

  const std::string app = "/cut-leader";
  const std::string volume = "ha-netns-" + std::to_string(::getpid());
  ASSERT_EQ(cluster->call("POST", "/v2/apps", writer_app(app, volume)).status, 201);
  std::string first;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        first = running_task(*cluster, app);
        return !first.empty() &&
               read_log_lines(dataset_mount_path(*cluster, volume) + "/log").size() >= 3;
      },
      seconds(30)));
  // Every agent mounts the dataset from the one pool directory, so the log stays where it is.
  const std::string log = dataset_mount_path(*cluster, volume) + "/log";
  const size_t written_before_cut = read_log_lines(log).size();

  // The cut: master 1 reaches neither etcd nor the agents, nor they it.
  ASSERT_TRUE(link.cut_inside());
  const auto cut_at = std::chrono::steady_clock::now();
  int next = 0;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        next = leader_named_by(*cluster, 2);
        return next == 2 || next == 3;
      },
      seconds(20)))
      << "no master on the host took over";
  const auto took_over = std::chrono::steady_clock::now();
  // The writer keeps running or is replaced, and the agents serve the new leader.
  std::string writer;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        writer = running_task_on(*cluster, next, app);
        auto lines = read_log_lines(log);
        return !writer.empty() && lines.size() >= written_before_cut + 5 &&
               lines.back() == writer && active_nodes_on(*cluster, next) == 2;
      },
      seconds(60)))
      << "no writer writing under master " << next;
  const auto writing_again = std::chrono::steady_clock::now();
  const std::string writer_after_cut = writer;
  EXPECT_EQ(leader_named_by(*cluster, 2), next);
  std::this_thread::sleep_for(seconds(1));  // a few heartbeats to the new leader

  // With masters 2 and 3 paused (the new leader's key stays in etcd for up to its TTL), the link
  // comes back: only master 1 can act now, and it must not.
  cluster->pause_master(2);
  cluster->pause_master(3);
  const int64_t before = etcd->revision();
  ASSERT_GT(before, 0);
  const uintmax_t master_from = file_size(master_log(*cluster, 1));
  const uintmax_t agent_from[] = {file_size(agent_log(*cluster, 1)),
                                  file_size(agent_log(*cluster, 2))};
  ASSERT_TRUE(link.heal_inside());
  const auto healed = std::chrono::steady_clock::now();
  // An agent's call to master 1 gets the standby's answer: 503, naming the (paused) leader.
  const std::string next_address = cluster->master_url(next).substr(7);
  int agent_call_status = 0;
  std::string agent_call_leader;
  while (std::chrono::steady_clock::now() < healed + milliseconds(800) && agent_call_status == 0) {
    auto answer =
        http::request(cluster->master_url(1), "POST", "/berth/v1/agents/register", "{}", 300);
    if (answer.ok()) {
      agent_call_status = answer->status;
      agent_call_leader = answer->headers["x-berth-leader"];
    }
  }
  // Less than the paused leader's lease TTL (2 s) minus its keepalive period: its key stays.
  std::this_thread::sleep_until(healed + milliseconds(1000));
  const int64_t after = etcd->revision();
  const std::vector<std::string> master_lines = lines_from(master_log(*cluster, 1), master_from);
  std::vector<std::string> agent_lines[2] = {lines_from(agent_log(*cluster, 1), agent_from[0]),
                                             lines_from(agent_log(*cluster, 2), agent_from[1])};
  cluster->resume_master(2);
  cluster->resume_master(3);

  EXPECT_EQ(after, before) << "master 1, cut off while it led, wrote to etcd once back";
  EXPECT_EQ(agent_call_status, 503) << "master 1 answered an agent as if it led";
  EXPECT_EQ(agent_call_leader, next_address);
  // Master 1's own account: no term begun since the link came back, so no registration taken
  // and no command sent (only a term's MasterCore notes "agent ... registered", "task ...: launch
  // sent to", "kill sent to").
  EXPECT_TRUE(matching(master_lines, {"leading the cluster"}).empty()) << joined(master_lines);
  // The agents' account. They log a registration ("registered with ...") and every launch or kill
  // they execute, but not which master they talked to; with masters 2 and 3 paused, any such line
  // since the link came back would come from master 1.
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(matching(agent_lines[i], {"registered with", ": launching", "kill asked"}).empty())
        << "agent " << i + 1 << " since the link came back:\n"
        << joined(agent_lines[i]);
  }
  const std::vector<std::string> master_1 = lines_from(master_log(*cluster, 1), 0);
  EXPECT_FALSE(matching(master_1, {"no longer leading"}).empty()) << joined(master_1);

  // The cluster converges: a leader, the writer running and writing, never two writers at once.
  EXPECT_TRUE(Cluster::eventually([&] { return cluster->leader_index() != 0; }, seconds(15)));
  EXPECT_TRUE(Cluster::eventually(
      [&] {
        writer = running_task(*cluster, app);
        auto lines = read_log_lines(log);
        return !writer.empty() && !lines.empty() && lines.back() == writer;
      },
      seconds(45)));
  EXPECT_EQ(dataset_mount_path(*cluster, volume) + "/log", log);
  expect_single_writer_at_a_time(read_log_lines(log));
  // Until the end, master 1 took no registration and sent no command outside a term of its own
  // (it may win one legitimately once the others' lease has run out).
  std::vector<std::string> since_heal = lines_from(master_log(*cluster, 1), master_from);
  const auto term = std::find_if(since_heal.begin(), since_heal.end(), [](const std::string& l) {
    return l.find("leading the cluster") != std::string::npos;
  });
  since_heal.erase(term, since_heal.end());
  EXPECT_TRUE(matching(since_heal, {"registered", "launch sent to", "kill sent to"}).empty())
      << joined(since_heal);
  auto ms = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  std::cout << "[ timings  ] master " << next << " led " << ms(took_over - cut_at)
            << " ms after the cut; a writer (" << (writer_after_cut == first ? "the same" : "a new")
            << " task) wrote again " << ms(writing_again - cut_at) << " ms after the cut\n";
}

}  // namespace
}  // namespace berth::testing
