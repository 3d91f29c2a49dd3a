// A real berth cluster for integration tests: the `berth` binary started as a master and
// agents on loopback, each a separate process that tests can SIGKILL. Teardown stops
// everything, including tasks left behind by agents the test killed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::testing {

struct ApiAnswer {
  int status = 0;
  nlohmann::json body;
  std::map<std::string, std::string> headers;
};

// How one master differs from the others (all optional).
struct MasterSetup {
  // Runs in this network namespace (made by the caller; nsenter joins it), not the host's.
  std::string netns;
  // The address the tests, the agents and the other masters reach it at, instead of 127.0.0.1
  // (e.g. the namespace's end of a veth pair); the master listens on it alone (--host), so that
  // it is also the address it advertises as the leader's.
  std::string host;
  // Flags after the master args all masters share (e.g. its own --store URL).
  std::vector<std::string> args;
};

class Cluster {
 public:
  // `agent_args` adds flags to agent i (1-based), e.g. a Docker plugin socket. `master_setup`
  // sets master i (1-based) apart, e.g. in a network namespace.
  explicit Cluster(int agents, int64_t lost_timeout_ms = 1500,
                   std::map<int, std::vector<std::string>> agent_args = {},
                   std::map<int, std::pair<std::string, std::string>> agent_netns = {},
                   std::vector<std::string> master_args = {}, int masters = 1,
                   std::map<int, MasterSetup> master_setup = {});
  ~Cluster();

  std::string url() const { return url_; }
  // This cluster's own range for service ports (clusters of parallel tests must not share).
  uint32_t service_port_begin() const { return 20000 + static_cast<uint32_t>(port_ % 120) * 100; }
  // Calls the master as admin, unless `headers` carry their own Authorization. With several
  // masters, the first that answers (any status); status 0 when none does.
  ApiAnswer call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::vector<std::pair<std::string, std::string>>& headers = {});
  // The master's admin token (written by the fixture before the master starts).
  const std::string& admin_token() const { return admin_token_; }
  // {"Authorization", "Bearer <admin token>"}, for http::request calls of tests.
  std::vector<std::pair<std::string, std::string>> admin_headers() const {
    return {{"Authorization", "Bearer " + admin_token_}};
  }

  // Masters are numbered from 1; master 1 serves url(). Several masters share the store the
  // master args give (--store etcd://...) and elect a leader.
  void start_master(int index = 1);
  void kill_master(int index = 1);  // SIGKILL
  void pause_master(int index);     // SIGSTOP
  void resume_master(int index);    // SIGCONT
  int masters() const { return static_cast<int>(master_ports_.size()); }
  std::string master_url(int index) const;  // http://HOST:PORT
  pid_t master_pid(int index) const { return masters_.at(index - 1); }
  // The master GET /v2/leader names, asked of every live master; 0 when none names one.
  int leader_index();
  // Every master's URL, comma-separated, as agents take them.
  std::string master_urls() const;
  void start_agent(int index);  // 1-based
  // Agent `index` runs in network namespace `netns` (made by the caller) and reaches the master
  // at `master_url` (e.g. over a veth pair); call before the agent starts.
  void set_agent_netns(int index, const std::string& netns, const std::string& master_url) {
    agent_netns_[index] = {netns, master_url};
  }
  void kill_agent(int index);  // SIGKILL, the agent process alone
  std::string agent_hostname(int index) const;
  pid_t agent_pid(int index) const { return agents_.at(index); }
  // The 1-based index of the agent whose node id is `node_id`, or 0.
  int agent_index(const std::string& node_id);

  // Polls `condition` every 100 ms until it holds or `timeout` passes.
  static bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
  int active_nodes();
  // Running tasks of an app (state TASK_RUNNING) from /v2/apps/{id}/tasks.
  std::vector<nlohmann::json> running_tasks(const std::string& app_id);
  // The pids of live processes whose environment says MESOS_TASK_ID=task_id.
  std::vector<pid_t> task_pids(const std::string& task_id) const;
  // Live processes started by this cluster's agents.
  int live_task_processes() const;
  std::string dir() const { return dir_; }

 private:
  pid_t spawn(const std::vector<std::string>& args, const std::string& log);
  void kill_leftovers() const;
  // Stops every process the cluster started and removes its directory, unless `keep_dir`.
  void stop_everything(bool keep_dir);

  std::string dir_;
  std::string url_;
  int port_ = 0;
  int64_t lost_timeout_ms_;
  std::string token_ = "integration-token";
  std::string admin_token_;
  std::vector<int> master_ports_;
  std::vector<pid_t> masters_;
  std::map<int, pid_t> agents_;
  std::map<int, std::vector<std::string>> agent_args_;
  std::map<int, std::pair<std::string, std::string>> agent_netns_;
  std::vector<std::string> master_args_;
  std::map<int, MasterSetup> master_setup_;
};

}  // namespace berth::testing
