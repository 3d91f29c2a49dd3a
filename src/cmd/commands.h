// The `berth` subcommands that run services: master, agent and up. Each blocks until it is
// told to stop (SIGINT or SIGTERM) and returns the process exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "agent/agent.h"

namespace berth::cmd {

struct MasterFlags {
  // Loopback by default: listening beyond it needs TLS (or --insecure), docs/security.md.
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data_dir = "./.berth/master";
  // Where the state lives: sqlite://PATH or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
  // (store/store_url.h). Empty: sqlite://<data_dir>/berth.db.
  std::string store;
  std::string join_token;  // empty: read or create <data_dir>/join-token
  // docs/fencing.md §9: the shortest timing that passed the load tests of bench/RESULTS.md.
  int64_t heartbeat_interval_ms = 200;
  int64_t lease_ms = 1000;
  int64_t lost_timeout_ms = 1200;
  // Past this many heartbeats a second the fleet's timing is stretched (docs/fencing.md §10).
  int64_t max_heartbeats_per_second = 2500;
  std::string advertised_host;  // for /v2/leader; default 127.0.0.1 or host
  std::string dataset_driver = "shared";
  std::string service_ports = "10000-20000";  // where service ports are assigned (end exclusive)
  int64_t task_launch_timeout_ms = 300000;
  // The admin token: read from this file, or created there (mode 0600) when it is missing.
  // Empty: <data_dir>/admin-token.
  std::string admin_token_file;
  std::string http_credentials;   // Marathon's USER:PASSWORD for HTTP Basic (admin)
  std::string tls_cert, tls_key;  // PEM files; both set: HTTPS only
  bool insecure = false;          // allow listening beyond loopback without TLS
  // No credentials for API clients (agents still authenticate): loopback only, for
  // benchmarks that compare against authenticated requests.
  bool no_auth = false;
};

// The token in `path` (its first word), or "" when the file is missing or empty.
std::string read_token_file(const std::string& path);
// `berth up`'s admin token: $BERTH_TOKEN, else <data_dir>/admin-token. For the commands that
// drive a local cluster (up, demo).
std::string local_admin_token(const std::string& data_dir);

int run_master(const MasterFlags& flags);
int run_agent(agent::AgentOptions options);

struct UpFlags {
  int agents = 3;
  // 1: one master on SQLite. 3: three masters on three etcd members (the `etcd` binary, or
  // $BERTH_ETCD), taking the ports --port to --port+8.
  int masters = 1;
  std::string data_dir = "./.berth";
  uint16_t port = 8080;
  bool print_only_url = false;
  bool tls = false;    // HTTPS for the master and agents, certificates in <data_dir>/tls
  bool netns = false;  // every agent on a host of its own (cmd/up_netns.h); needs root
};

int run_up(const UpFlags& flags, const std::string& self_exe);

// Writes `text` to `path`, readable by its owner only from the moment it exists (tokens and
// secrets in data directories, docs/security.md §1). `replace` false: fails if `path` exists.
bool write_private_file(const std::string& path, const std::string& text, bool replace = true);

// `berth restore FILE --data-dir DIR [--store URL]` (run_restore.cpp).
int run_restore(const std::string& file, const std::string& data_dir, const std::string& store);

struct DemoFlags {
  std::string master = "http://127.0.0.1:8080";
  std::string data_dir = "./.berth";  // for the cluster it starts when none answers
  // 0: the cluster's first service port + 80 (--stack: + 90), so the demo runs on a second
  // `berth up` of the same machine too (docs/architecture.md §1).
  uint16_t service_port = 0;
  int clicks = 20;
  bool keep = false;    // leave a cluster it started running
  int rounds = 1;       // kills in a row (the killed node is started again between rounds)
  bool docker = false;  // run the counter as a DOCKER app (image berth/counter, `make images`)
  std::string driver;   // the dataset's driver (shared, loop); "" for the master's default
  // `--stack`: a group of `databases` counters and a front, service ports from service_port.
  bool stack = false;
  int databases = 4;
};

int run_demo(const DemoFlags& flags, const std::string& self_exe);
// `berth demo --stack`: many databases in one group, the node holding the most killed.
int run_demo_stack(const DemoFlags& flags, const std::string& self_exe);

// Blocks SIGINT/SIGTERM in every thread and returns when one arrives. Call before starting
// threads.
void block_stop_signals();
int wait_for_stop_signal();

}  // namespace berth::cmd
