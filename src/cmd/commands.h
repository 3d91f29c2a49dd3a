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
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  std::string data_dir = "./.berth/master";
  std::string join_token;  // empty: read or create <data_dir>/join-token
  int64_t heartbeat_interval_ms = 500;
  int64_t lease_ms = 2500;
  int64_t lost_timeout_ms = 3000;
  std::string advertised_host;  // for /v2/leader; default 127.0.0.1 or host
  std::string dataset_driver = "shared";
  std::string service_ports = "10000-20000";  // where service ports are assigned (end exclusive)
};

int run_master(const MasterFlags& flags);
int run_agent(agent::AgentOptions options);

struct UpFlags {
  int agents = 3;
  std::string data_dir = "./.berth";
  uint16_t port = 8080;
  bool print_only_url = false;
};

int run_up(const UpFlags& flags, const std::string& self_exe);

struct DemoFlags {
  std::string master = "http://127.0.0.1:8080";
  std::string data_dir = "./.berth";  // for the cluster it starts when none answers
  uint16_t service_port = 10080;
  int clicks = 20;
  bool keep = false;  // leave a cluster it started running
  int rounds = 1;     // kills in a row (the killed node is started again between rounds)
  bool docker = false;  // run the counter as a DOCKER app (image berth/counter, `make images`)
};

int run_demo(const DemoFlags& flags, const std::string& self_exe);

// Blocks SIGINT/SIGTERM in every thread and returns when one arrives. Call before starting
// threads.
void block_stop_signals();
int wait_for_stop_signal();

}  // namespace berth::cmd
