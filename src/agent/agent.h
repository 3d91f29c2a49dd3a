// The agent's shell (docs/architecture.md §1, docs/protocol.md): registers with the master,
// heartbeats, executes launch and kill commands through its executors (one for processes, one
// for Docker containers) and delivers status updates at least once. Owned by `berth agent`'s
// main(); runs until stop() is called. Its clock, id source, link to the master and executors
// come in through AgentParts, so tests can run an agent against a FakeMasterLink and
// FakeExecutors.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "agent/master_link.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/result.h"
#include "executor/executor.h"

namespace berth::agent {

struct AgentOptions {
  std::string master_url = "http://127.0.0.1:8080";
  std::string join_token;
  std::string hostname;  // default: the machine's host name
  std::string address;   // where tasks are reachable; default: 127.0.0.1
  std::string work_dir;  // sandboxes and the agent id file live here
  double cpus = 0;       // 0 = detect
  double mem = 0;        // MiB; 0 = detect
  double disk = 0;       // MiB; 0 = detect
  uint32_t port_begin = 31000;
  uint32_t port_end = 32000;
  std::map<std::string, std::string> attributes;
  std::string memory_cgroup_root = "/sys/fs/cgroup/memory";
  // Datasets: the pool every node sees (shared and loop drivers); empty = <work_dir>/pool,
  // which only suits a single machine such as `berth up`.
  std::string dataset_pool;
  // Where to serve Docker's volume plugin protocol (e.g. /run/docker/plugins/berth.sock, which
  // makes `--volume-driver berth` work); empty: not served.
  std::string plugin_socket;
  // Prepended to dataset names to make this plugin's Docker volume names, for agents that
  // share one dockerd (`berth up`): Docker must never see one volume name under two drivers.
  std::string plugin_volume_prefix;
  bool service_router = true;  // listen on apps' service ports and forward to healthy tasks
  // The Docker Engine API socket DOCKER apps run through; unreachable: DOCKER tasks fail.
  std::string docker_socket = "/var/run/docker.sock";
  // The agent's own HTTP port (task logs, relayed by the master); 0: any free port.
  uint32_t http_port = 0;
  // PEM files: the agent's HTTP port (task logs, dataset archives) serves HTTPS only.
  std::string tls_cert, tls_key;
  // Who process tasks of apps without a `user` run as. Empty: `nobody` when the agent runs as
  // root, else the agent's own user (a non-root agent can run tasks only as itself).
  std::string default_task_user;
  // Whether process tasks may run as uid 0 (an app's `user`, or the default).
  bool allow_root_tasks = false;
};

// Parses "rack:a,zone:1" into attributes; kInvalidArgument names the bad entry.
Result<std::map<std::string, std::string>> parse_attributes(const std::string& text);
// Parses "31000-32000".
Status parse_port_range(const std::string& text, uint32_t* begin, uint32_t* end);

// What an agent is built from. Every part is required.
struct AgentParts {
  // Timestamps of status updates, health checks and the lease. The lease deadline is also
  // written for the tasks' supervisors (docs/fencing.md §3), which read the host's monotonic
  // clock: an agent that runs tasks with datasets needs the SystemClock.
  std::shared_ptr<Clock> clock;
  std::shared_ptr<IdSource> ids;       // status update ids
  std::unique_ptr<MasterLink> master;  // the agent's calls to the master
  std::unique_ptr<Executor> executor;  // tasks without a container: launched with a ProcessSpec
  // DOCKER tasks, launched with a DockerLaunch; they fail while it is not ready().
  std::unique_ptr<Executor> docker;
};

// The real parts for `options`: the system clock, random ids, HttpMasterLink to
// options.master_url, a ProcessExecutor with the options' memory cgroups, task users and
// sandboxes, and a DockerExecutor on options.docker_socket (opened by Agent::run). Used by
// `berth agent`.
AgentParts real_agent_parts(const AgentOptions& options);

class Agent {
 public:
  Agent(AgentOptions options, AgentParts parts);
  ~Agent();
  // Blocks until stop(); then leaves every task running for the agent's next start to adopt,
  // or, after stop(true), kills them, and returns.
  Status run();
  void stop(bool kill_tasks = false);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent
