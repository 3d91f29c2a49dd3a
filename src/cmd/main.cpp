// `berth`: one binary, subcommands (docs/architecture.md §1). Service commands (master, agent, up)
// are parsed here, the flags of master and agent in service_commands.cpp, after their config
// file (config_file.h); client commands (app, task, node) go to cli/.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "agent/supervisor.h"
#include "cli/client_commands.h"
#include "cmd/commands.h"
#include "cmd/config_file.h"
#include "cmd/service_commands.h"
#include "http/http.h"

namespace {

std::string self_exe(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : p.string();
}

CLI::App* add_up_command(CLI::App& app, berth::cmd::UpFlags& flags) {
  auto* u = app.add_subcommand(
      "up", "Start a local cluster on loopback: a master (or three on etcd) and N agents");
  u->add_option("--agents", flags.agents, "Number of agents")->capture_default_str();
  u->add_option("--masters", flags.masters,
                "1: one master on SQLite. 3: three masters sharing three etcd members (etcd from "
                "the PATH or $BERTH_ETCD), on ports --port to --port+8")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
  u->add_option("--data-dir", flags.data_dir, "State and logs")
      ->envname("BERTH_DATA_DIR")
      ->capture_default_str();
  u->add_option("--port", flags.port,
                "The master's HTTP port (the first master's with --masters 3)")
      ->capture_default_str();
  u->add_flag("--tls", flags.tls,
              "HTTPS everywhere, with a throwaway CA and certificates in <data-dir>/tls");
  u->add_flag("--netns", flags.netns,
              "Each agent on a host of its own: a network namespace with its own address on a "
              "bridge, the masters on the bridge's address (root)");

  return u;
}

CLI::App* add_demo_command(CLI::App& app, berth::cmd::DemoFlags& flags, std::string& ca_cert) {
  auto* d = app.add_subcommand(
      "demo", "Fail a stateful app over: kill its node, show the timeline, count clicks");
  d->add_option("--master", flags.master, "Master URL")
      ->envname("BERTH_MASTER")
      ->capture_default_str();
  d->add_option("--data-dir", flags.data_dir, "State of the cluster it starts when none answers")
      ->capture_default_str();
  d->add_option("--service-port", flags.service_port,
                "The counter's service port (default: the cluster's first service port + 80; "
                "with --stack, + 90 on)");
  d->add_option("--clicks", flags.clicks, "Clicks to post before the kill")->capture_default_str();
  d->add_option("--ca-cert", ca_cert,
                "PEM CA certificate of an https:// master (default: <data-dir>/tls/ca.pem)")
      ->envname("BERTH_CA_CERT");
  d->add_flag("--keep", flags.keep, "Leave a cluster the demo started running");
  auto* driver =
      d->add_option("--driver", flags.driver,
                    "The counter's dataset driver (default: the master's --dataset-driver)")
          ->check(CLI::IsMember({"shared", "loop"}));
  auto* docker =
      d->add_flag("--docker", flags.docker,
                  "Run the counter as a Docker container (image berth/counter: make images)");
  auto* rounds = d->add_option("--rounds", flags.rounds,
                               "Kills in a row, with p50/p99 per phase (the failover benchmark)")
                     ->check(CLI::Range(1, 1000))
                     ->capture_default_str();
  auto* stack = d->add_flag("--stack", flags.stack,
                            "Many databases in a stack: one group of counters with datasets and a "
                            "front; kill the node holding the most (service ports from 10090)");
  stack->excludes(docker)->excludes(rounds)->excludes(driver);
  driver->excludes(docker);
  d->add_option("--databases", flags.databases, "With --stack: how many databases")
      ->check(CLI::Range(3, 8))
      ->needs(stack)
      ->capture_default_str();

  return d;
}

struct SuperviseFlags {
  int pid = 0;
  std::string deadline_file, cgroup_procs;
};

CLI::App* add_supervise_command(CLI::App& app, SuperviseFlags& flags) {
  auto* sv =
      app.add_subcommand("supervise", "(internal) Hold a task's lease deadline; started by agents");
  sv->add_option("--pid", flags.pid)->required();
  sv->add_option("--deadline-file", flags.deadline_file)->required();
  sv->add_option("--cgroup-procs", flags.cgroup_procs);
  sv->group("");
  return sv;
}

// The client commands, for --help: cli/ parses them (main() hands them over before CLI11).
void add_client_commands(CLI::App& app) {
  app.add_subcommand("app", "Manage apps (deploy, list, show, scale, restart, destroy)");
  app.add_subcommand("task", "List and kill tasks");
  app.add_subcommand("node", "List, drain and undrain nodes");
  app.add_subcommand("dataset", "Manage datasets (create, list, show, move, destroy)");
  app.add_subcommand("token", "Create, list and revoke API tokens (admin)");
  app.add_subcommand("backup", "Save the master's state and join token to FILE (admin)");
}

// Runs `berth agent` once its port range and attributes parse.
int start_agent(const berth::cmd::AgentFlags& flags) {
  auto options = berth::cmd::agent_options(flags);
  if (!options) {
    std::cerr << options.error().message << "\n";
    return 2;
  }
  return berth::cmd::run_agent(std::move(*options));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace berth;
  std::vector<std::string> args(argv, argv + argc);
  if (argc > 1) {
    std::string first = argv[1];
    if (first == "app" || first == "task" || first == "node" || first == "dataset" ||
        first == "token" || first == "events" || first == "backup" ||
        (first == "master" && argc > 2 && std::string(argv[2]) == "list")) {
      return cli::run_client_command(args, std::cout, std::cerr);
    }
  }
  // Before CLI11 parses: the file only sets environment variables the environment lacks, so
  // flags, then the environment, then the file win (cmd/config_file.h).
  if (Status loaded = cmd::load_config(args); !loaded) {
    std::cerr << "berth " << args[1] << ": " << loaded.error().message << "\n";
    return 2;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"berth: highly available stateful containers (master, agent, CLI)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "berth " BERTH_VERSION);
  cmd::ServiceFlags service;
  cmd::ServiceCommands commands = cmd::add_service_commands(app, service);
  std::string& ca_cert = service.ca_cert;
  cmd::UpFlags up;
  auto* u = add_up_command(app, up);
  cmd::DemoFlags demo;
  auto* d = add_demo_command(app, demo, ca_cert);
  SuperviseFlags supervise;
  auto* sv = add_supervise_command(app, supervise);
  std::string restore_file, restore_dir, restore_store;
  auto* r = app.add_subcommand("restore",
                               "Put a `berth backup` FILE into an empty data directory (or store)");
  r->add_option("FILE", restore_file, "The backup")->required();
  r->add_option("--data-dir", restore_dir, "The new master's data directory")->required();
  r->add_option("--store", restore_store, "A store URL instead of sqlite://<data-dir>/berth.db");
  add_client_commands(app);

  CLI11_PARSE(app, argc, argv);

  // Set once, before any request: what https:// peers are verified against.
  if (ca_cert.empty() && d->parsed() && std::filesystem::exists(demo.data_dir + "/tls/ca.pem")) {
    ca_cert = demo.data_dir + "/tls/ca.pem";  // the cluster `berth up --tls` made there
  }
  if (!ca_cert.empty()) http::set_client_ca_file(ca_cert);
  if (commands.master->parsed()) return cmd::run_master(service.master);
  if (commands.agent->parsed()) return start_agent(service.agent);
  if (u->parsed()) return cmd::run_up(up, self_exe(argv[0]));
  if (r->parsed()) return cmd::run_restore(restore_file, restore_dir, restore_store);
  if (d->parsed() && demo.stack) return cmd::run_demo_stack(demo, self_exe(argv[0]));
  if (d->parsed()) return cmd::run_demo(demo, self_exe(argv[0]));
  if (sv->parsed()) {
    return agent::run_supervisor(supervise.pid, supervise.deadline_file, supervise.cgroup_procs);
  }
  return 0;
}
