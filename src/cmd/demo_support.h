// What `berth demo` and `berth demo --stack` share (docs/architecture.md §1): the calls to the
// master with the local cluster's credential, starting `berth up` when no master answers,
// finding and killing a node's processes, the counter's app definition and one look at a
// failover in progress. Only the demo commands in cmd/ use it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cmd/commands.h"

namespace berth::cmd {

using DemoClock = std::chrono::steady_clock;

// The data directory whose admin token authenticates the demo's calls (unless $BERTH_TOKEN
// is set). Set once, before the first call.
void set_demo_data_dir(const std::string& data_dir);
std::vector<std::pair<std::string, std::string>> auth_headers();

// GET `target` of `base` with the demo's credential: the parsed body of a 200, else null.
nlohmann::json get_json(const std::string& base, const std::string& target, int timeout_ms = 2000);
int active_nodes(const std::string& master);
// `flags.service_port`, or when it is 0 the master's first service port (its /v2/info
// local_port_min) + `offset`: the demo's ports within the cluster's own range.
uint16_t demo_service_port(const DemoFlags& flags, uint16_t offset);
// Waits up to 60 s for `count` active nodes; says so on stderr when there are not.
bool wait_for_nodes(const std::string& master, int count);
double seconds_since(DemoClock::time_point t0);

// Starts `berth up` in the background when no master answers at flags.master: its pid, else -1.
pid_t start_cluster_if_none(const DemoFlags& flags, const std::string& self_exe);
// Stops the `berth up` the demo started, if any (`started_up` <= 0: none).
void stop_up(pid_t started_up);

struct AgentProcess {
  pid_t pid = -1;
  std::string work_dir;
  std::vector<std::string> argv, env;  // to start it again after the kill
  int netns_fd = -1;                   // its network namespace, held so that it starts there again
};

// The service router to click through, `http://<address>:<port>`: 127.0.0.1 when the nodes are
// on loopback. Across hosts, the last active node's; with three or more, *keep_off is that
// node's hostname, which the demo keeps the app off, so every request crosses from a third host.
std::string pick_router(const std::string& master, uint16_t port, std::string* keep_off);

// The agent process serving `hostname` for the master at `master` on this machine (other
// clusters on the machine may use the same host names).
bool find_agent(const std::string& master, const std::string& hostname, AgentProcess* found_agent);
// Kills a node with SIGKILL: its agent, its task processes and its containers. How many tasks
// it killed.
int kill_node(const AgentProcess& agent, const std::string& hostname);
// The host name of node `id` in a /berth/v1/nodes answer, else `otherwise`.
std::string hostname_of(const nlohmann::json& nodes, const std::string& id, std::string otherwise);
// The id of the live dataset named `dataset_name`, else "".
std::string dataset_id_of(const std::string& master, const std::string& dataset_name);

nlohmann::json counter_health_checks();
// berth-counter, beside the berth binary, as a process app `id` with its clicks on the dataset
// `dataset_name` (an external volume) and its port on `service_port`.
nlohmann::json counter_app(const std::string& self_exe, const std::string& id,
                           const std::string& dataset_name, uint16_t service_port);

// The app's running task once it is healthy and answers at `via`; null (said why) when that
// takes more than 60 s. `app_name` is the app's id without the leading '/'.
nlohmann::json wait_until_healthy(const std::string& master, const std::string& app_name,
                                  const std::string& via);
// Posts a click through `via`, waiting up to `timeout_ms`; one the counter acknowledges goes
// into `acknowledged`.
void post_click(const std::string& via, const nlohmann::json& click,
                std::set<int64_t>* acknowledged, int timeout_ms = 5000);

// When each phase of a failover was reached, in seconds from the kill; -1: not (yet).
struct Phases {
  double lost = -1, attached = -1, running = -1, healthy = -1, first_ok = -1;
};

// One app failing over from a killed node, as the master shows it.
struct FailoverWatch {
  std::string app_name;    // without the leading '/'
  std::string dataset_id;  // empty for an app without a dataset
  std::string old_task;    // the task killed with the node
  Phases phases;
  std::string new_node;     // where the dataset was attached next
  nlohmann::json new_task;  // the replacement, once healthy
};

// What the master says about its nodes and datasets at one moment.
struct MasterLook {
  nlohmann::json nodes;     // /berth/v1/nodes
  nlohmann::json datasets;  // /v1/state/datasets
};
MasterLook look_at(const std::string& master);

// Records the phases `watch` reached by `now` (seconds from the kill of node `node_id`), from
// `look` and the app's tasks.
void observe_failover(const std::string& master, const MasterLook& look, const std::string& node_id,
                      double now, FailoverWatch* watch);

// The client's view of a failover: GET /v1/ping through `via`, each request waiting up to
// 20 s, until a task other than `old_task` answers or 60 s pass. Seconds from t0, else -1.
double first_answer_after(const std::string& via, const std::string& old_task,
                          DemoClock::time_point t0);

// Prints one line of a timeline: what, and when (or "never").
void print_phase(const std::string& what, double at);

}  // namespace berth::cmd
