#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <thread>

#include "api/marathon_api.h"
#include "base/ids.h"
#include "cmd/commands.h"
#include "http/http.h"
#include "master/master_core.h"
#include "store/store.h"

namespace berth::cmd {

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int run_master(const MasterFlags& flags) {
  block_stop_signals();
  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", flags.data_dir, ec.message());
    return 1;
  }
  RandomIdSource ids;
  std::string token = flags.join_token;
  if (token.empty()) {
    std::string path = flags.data_dir + "/join-token";
    std::ifstream in(path);
    if (!(in >> token)) {
      token = ids.uuid();
      std::ofstream out(path);
      out << token << "\n";
      std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    }
    spdlog::info("agents join with the token in {}", path);
  }
  // DESIGN §6: an agent is declared lost only after its lease L plus a margin for clock drift,
  // or its datasets could be handed over while it may still write them.
  if (flags.lease_ms <= 0 || flags.heartbeat_interval_ms <= 0 || flags.heartbeat_interval_ms >= flags.lease_ms ||
      flags.lost_timeout_ms <= flags.lease_ms) {
    spdlog::error("unsafe timing: need 0 < --heartbeat-interval-ms ({}) < --lease-ms ({}) < --lost-timeout-ms ({}); "
                  "the default is 500 < 2500 < 3000 (lost = lease + a 0.5 s drift margin)",
                  flags.heartbeat_interval_ms, flags.lease_ms, flags.lost_timeout_ms);
    return 2;
  }
  auto store = open_sqlite_store(flags.data_dir + "/berth.db");
  if (!store) {
    spdlog::error("cannot open the store: {}", store.error().message);
    return 1;
  }
  SystemClock clock;
  master::MasterOptions options;
  options.join_token = token;
  options.heartbeat_interval = std::chrono::milliseconds(flags.heartbeat_interval_ms);
  options.lease = std::chrono::milliseconds(flags.lease_ms);
  options.lost_timeout = std::chrono::milliseconds(flags.lost_timeout_ms);
  options.default_dataset_driver = flags.dataset_driver;
  {
    unsigned begin = 0, end = 0;
    char extra = 0;
    if (std::sscanf(flags.service_ports.c_str(), "%u-%u%c", &begin, &end, &extra) != 2 || begin == 0 ||
        end > 65536 || begin >= end) {
      spdlog::error("invalid --service-ports '{}': expected BEGIN-END, e.g. 10000-20000", flags.service_ports);
      return 2;
    }
    options.service_port_min = begin;
    options.service_port_max = end;
  }
  std::string advertised = flags.advertised_host.empty()
                               ? (flags.host == "0.0.0.0" ? "127.0.0.1" : flags.host)
                               : flags.advertised_host;
  options.leader = advertised + ":" + std::to_string(flags.port);
  master::MasterCore core(options, **store, clock, ids);
  Status loaded = core.load();
  if (!loaded) {
    spdlog::error("cannot load state: {}", loaded.error().message);
    return 1;
  }
  api::ApiInfo info;
  info.http_address = options.leader;
  auto server = http::serve({flags.host, flags.port}, [&](const http::Request& request) {
    return api::handle_request(core, clock, info, request);
  });
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  spdlog::info("berth master serving Marathon's API on http://{}:{} (data in {})", advertised,
               (*server)->port(), flags.data_dir);
  std::atomic<bool> stopping{false};
  std::thread controller([&] {
    while (!stopping) {
      core.reconcile();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  int sig = wait_for_stop_signal();
  spdlog::info("master stopping on signal {}", sig);
  stopping = true;
  core.shutdown();
  controller.join();
  (*server)->stop();
  return 0;
}

int run_agent(agent::AgentOptions options) {
  block_stop_signals();
  agent::Agent agent(std::move(options));
  std::thread signals([&] {
    wait_for_stop_signal();
    agent.stop();
  });
  signals.detach();
  Status ran = agent.run();
  if (!ran) {
    spdlog::error("{}", ran.error().message);
    return 1;
  }
  return 0;
}

}  // namespace berth::cmd
