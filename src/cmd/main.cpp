// `berth`: one binary, subcommands (docs/architecture.md §1). Service commands (master, agent, up)
// are parsed here; client commands (app, task, node) go to cli/.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "agent/supervisor.h"
#include "cli/client_commands.h"
#include "cmd/commands.h"
#include "http/http.h"

namespace {

std::string self_exe(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : p.string();
}

// `berth master`'s flags.
CLI::App* add_master_command(CLI::App& app, berth::cmd::MasterFlags& flags, std::string& ca_cert) {
  auto* m = app.add_subcommand(
      "master", "Run the master: Marathon's API, scheduling, state (`master list`: who leads)");
  m->add_option("--host", flags.host, "Address to listen on")
      ->envname("BERTH_HOST")
      ->capture_default_str();
  m->add_option("--advertised-host", flags.advertised_host,
                "Host other masters, agents and clients reach this master by (its address in "
                "/v2/leader); default: --host, or 127.0.0.1 for 0.0.0.0");
  m->add_option("--port", flags.port, "HTTP port")->envname("BERTH_PORT")->capture_default_str();
  m->add_option("--data-dir", flags.data_dir, "Tokens, and the store unless --store says otherwise")
      ->envname("BERTH_DATA_DIR")
      ->capture_default_str();
  m->add_option("--store", flags.store,
                "Where the state lives: sqlite://PATH or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]. "
                "Default: sqlite://<data-dir>/berth.db")
      ->envname("BERTH_STORE");
  m->add_option("--join-token", flags.join_token, "Token agents must present")
      ->envname("BERTH_JOIN_TOKEN");
  m->add_option("--heartbeat-interval-ms", flags.heartbeat_interval_ms)
      ->envname("BERTH_HEARTBEAT_INTERVAL_MS")
      ->capture_default_str();
  m->add_option("--lease-ms", flags.lease_ms)->envname("BERTH_LEASE_MS")->capture_default_str();
  m->add_option("--dataset-driver", flags.dataset_driver, "Driver of datasets that do not name one")
      ->envname("BERTH_DATASET_DRIVER")
      ->check(CLI::IsMember({"shared", "loop", "local"}))
      ->capture_default_str();
  m->add_option("--service-ports", flags.service_ports,
                "Range for service ports of apps that ask for 0")
      ->envname("BERTH_SERVICE_PORTS")
      ->capture_default_str();
  m->add_option("--lost-timeout-ms", flags.lost_timeout_ms,
                "Declare an agent lost after this long without a heartbeat")
      ->envname("BERTH_LOST_TIMEOUT_MS")
      ->capture_default_str();
  m->add_option("--task-launch-timeout-ms", flags.task_launch_timeout_ms,
                "Fail (and replace) a launch its agent has not confirmed after this long")
      ->envname("BERTH_TASK_LAUNCH_TIMEOUT_MS")
      ->capture_default_str();
  m->add_option("--admin-token-file", flags.admin_token_file,
                "File holding the admin API token; created (mode 0600) if missing. Default: "
                "<data-dir>/admin-token")
      ->envname("BERTH_ADMIN_TOKEN_FILE");
  m->add_option(
       "--http-credentials", flags.http_credentials,
       "USER:PASSWORD accepted as HTTP Basic credentials with the admin role (Marathon's flag)")
      ->envname("BERTH_HTTP_CREDENTIALS");
  m->add_option("--tls-cert", flags.tls_cert, "PEM certificate: serve HTTPS only")
      ->envname("BERTH_TLS_CERT");
  m->add_option("--tls-key", flags.tls_key, "PEM private key of --tls-cert")
      ->envname("BERTH_TLS_KEY");
  m->add_flag("--insecure", flags.insecure,
              "Allow listening beyond loopback without TLS (logs a warning every minute)")
      ->envname("BERTH_INSECURE");
  m->add_flag("--no-auth", flags.no_auth,
              "Serve API clients without credentials (loopback only; for benchmarks against "
              "authenticated calls)");
  m->add_option("--ca-cert", ca_cert,
                "PEM CA certificate to verify agents' and other masters' HTTPS ports")
      ->envname("BERTH_CA_CERT");
  return m;
}

// `berth agent`'s flags; the port range and the attributes are parsed once they are all read.
struct AgentFlags {
  berth::agent::AgentOptions options;
  std::string ports = "31000-32000";
  std::string attributes;
};

CLI::App* add_agent_command(CLI::App& app, AgentFlags& flags, std::string& ca_cert) {
  auto* a = app.add_subcommand("agent", "Run an agent: registers with the master and runs tasks");
  a->add_option("--master", flags.options.master_url,
                "Master URL, or several separated by commas: a master that does not answer is "
                "left for the next at once")
      ->envname("BERTH_MASTER")
      ->capture_default_str();
  a->add_option("--join-token", flags.options.join_token, "The master's join token")
      ->envname("BERTH_JOIN_TOKEN");
  a->add_option("--hostname", flags.options.hostname, "Host name reported to the master")
      ->envname("BERTH_HOSTNAME");
  a->add_option("--address", flags.options.address, "Address where tasks are reachable")
      ->envname("BERTH_ADDRESS");
  a->add_option("--work-dir", flags.options.work_dir, "Sandboxes and agent state")
      ->envname("BERTH_WORK_DIR")
      ->required();
  a->add_option("--cpus", flags.options.cpus, "CPUs to offer (default: detected)")
      ->envname("BERTH_CPUS");
  a->add_option("--mem", flags.options.mem, "Memory in MiB to offer (default: detected)")
      ->envname("BERTH_MEM");
  a->add_option("--disk", flags.options.disk, "Disk in MiB to offer (default: detected)")
      ->envname("BERTH_DISK");
  a->add_option("--ports", flags.ports, "Port range for tasks")
      ->envname("BERTH_PORTS")
      ->capture_default_str();
  a->add_option("--attributes", flags.attributes, "Attributes, e.g. rack:a,zone:1")
      ->envname("BERTH_ATTRIBUTES");
  a->add_option("--memory-cgroup-root", flags.options.memory_cgroup_root)->capture_default_str();
  a->add_option("--dataset-pool", flags.options.dataset_pool,
                "Directory every node sees (NFS, CephFS...) for shared and loop datasets")
      ->envname("BERTH_DATASET_POOL");
  a->add_flag("!--no-service-router", flags.options.service_router,
              "Do not listen on apps' service ports");
  a->add_option("--plugin-socket", flags.options.plugin_socket,
                "Serve Docker's volume plugin here, e.g. /run/docker/plugins/berth.sock")
      ->envname("BERTH_PLUGIN_SOCKET");
  a->add_option("--plugin-volume-prefix", flags.options.plugin_volume_prefix,
                "Docker volume names of this agent's plugin are PREFIX + dataset name (for agents "
                "sharing one dockerd)")
      ->envname("BERTH_PLUGIN_VOLUME_PREFIX");
  a->add_option("--docker-socket", flags.options.docker_socket,
                "Docker Engine API socket for DOCKER apps")
      ->envname("BERTH_DOCKER_SOCKET")
      ->capture_default_str();
  a->add_option("--http-port", flags.options.http_port,
                "The agent's HTTP port for task logs (0: any free port)")
      ->envname("BERTH_AGENT_HTTP_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  a->add_option("--default-task-user", flags.options.default_task_user,
                "User of tasks whose app sets no `user` (default: nobody when the agent is root, "
                "else the agent's own user; containers get it as uid:gid)")
      ->envname("BERTH_DEFAULT_TASK_USER");
  a->add_flag(
       "--allow-root-tasks", flags.options.allow_root_tasks,
       "Let tasks run as root (uid 0); containers with no `user` then run as their image's user")
      ->envname("BERTH_ALLOW_ROOT_TASKS");
  a->add_option("--tls-cert", flags.options.tls_cert,
                "PEM certificate: the agent's HTTP port serves HTTPS only")
      ->envname("BERTH_AGENT_TLS_CERT");
  a->add_option("--tls-key", flags.options.tls_key, "PEM private key of --tls-cert")
      ->envname("BERTH_AGENT_TLS_KEY");
  a->add_option("--ca-cert", ca_cert,
                "PEM CA certificate to verify the master and other agents (https://)")
      ->envname("BERTH_CA_CERT");
  return a;
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
int start_agent(AgentFlags& flags) {
  berth::Status range = berth::agent::parse_port_range(flags.ports, &flags.options.port_begin,
                                                       &flags.options.port_end);
  if (!range) {
    std::cerr << range.error().message << "\n";
    return 2;
  }
  if (!flags.attributes.empty()) {
    auto parsed = berth::agent::parse_attributes(flags.attributes);
    if (!parsed) {
      std::cerr << parsed.error().message << "\n";
      return 2;
    }
    flags.options.attributes = *parsed;
  }
  return berth::cmd::run_agent(flags.options);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace berth;
  if (argc > 1) {
    std::string first = argv[1];
    if (first == "app" || first == "task" || first == "node" || first == "dataset" ||
        first == "token" || first == "events" || first == "backup" ||
        (first == "master" && argc > 2 && std::string(argv[2]) == "list")) {
      std::vector<std::string> args(argv, argv + argc);
      return cli::run_client_command(args, std::cout, std::cerr);
    }
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"berth: highly available stateful containers (master, agent, CLI)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "berth 0.1.0");
  std::string ca_cert;
  cmd::MasterFlags master;
  auto* m = add_master_command(app, master, ca_cert);
  AgentFlags agent;
  auto* a = add_agent_command(app, agent, ca_cert);
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
  if (m->parsed()) return cmd::run_master(master);
  if (a->parsed()) return start_agent(agent);
  if (u->parsed()) return cmd::run_up(up, self_exe(argv[0]));
  if (r->parsed()) return cmd::run_restore(restore_file, restore_dir, restore_store);
  if (d->parsed() && demo.stack) return cmd::run_demo_stack(demo, self_exe(argv[0]));
  if (d->parsed()) return cmd::run_demo(demo, self_exe(argv[0]));
  if (sv->parsed()) {
    return agent::run_supervisor(supervise.pid, supervise.deadline_file, supervise.cgroup_procs);
  }
  return 0;
}
