#include "cmd/service_commands.h"

namespace berth::cmd {
namespace {

// --config of both commands. Its value is read before CLI11 parses (config_file.h); here it is
// for --help, and so that the flag parses.
void add_config_option(CLI::App* command, std::string& config) {
  command
      ->add_option("--config", config,
                   "Config file: a [master] and an [agent] section of `flag-name = value` lines. "
                   "Flags and environment variables win over it")
      ->envname("BERTH_CONFIG");
}

void add_master_timing(CLI::App* m, MasterFlags& flags) {
  m->add_option("--heartbeat-interval-ms", flags.heartbeat_interval_ms,
                "How often agents send a heartbeat (the master tells them at registration)")
      ->envname("BERTH_HEARTBEAT_INTERVAL_MS")
      ->capture_default_str();
  m->add_option("--lease-ms", flags.lease_ms,
                "An agent that has heard no answer for this long stops its tasks that write "
                "datasets (docs/fencing.md §3)")
      ->envname("BERTH_LEASE_MS")
      ->capture_default_str();
  m->add_option("--lost-timeout-ms", flags.lost_timeout_ms,
                "Declare an agent lost after this long without a heartbeat")
      ->envname("BERTH_LOST_TIMEOUT_MS")
      ->capture_default_str();
  m->add_option("--max-heartbeats-per-second", flags.max_heartbeats_per_second,
                "Past this many heartbeats a second from the whole fleet, the interval, lease and "
                "lost timeout above are all stretched by a whole factor (docs/fencing.md §10); "
                "0: never")
      ->envname("BERTH_MAX_HEARTBEATS_PER_SECOND")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}))
      ->capture_default_str();
  m->add_option("--task-launch-timeout-ms", flags.task_launch_timeout_ms,
                "Fail (and replace) a launch its agent has not confirmed after this long")
      ->envname("BERTH_TASK_LAUNCH_TIMEOUT_MS")
      ->capture_default_str();
}

void add_master_security(CLI::App* m, MasterFlags& flags, std::string& ca_cert) {
  m->add_option("--join-token", flags.join_token,
                "Token agents must present (default: read or create <data-dir>/join-token)")
      ->envname("BERTH_JOIN_TOKEN");
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
              "authenticated calls)")
      ->envname("BERTH_NO_AUTH");
  m->add_option("--ca-cert", ca_cert,
                "PEM CA certificate to verify agents' and other masters' HTTPS ports")
      ->envname("BERTH_CA_CERT");
}

CLI::App* add_master_command(CLI::App& app, MasterFlags& flags, std::string& ca_cert,
                             std::string& config) {
  auto* m = app.add_subcommand(
      "master", "Run the master: Marathon's API, scheduling, state (`master list`: who leads)");
  add_config_option(m, config);
  m->add_option("--host", flags.host, "Address to listen on")
      ->envname("BERTH_HOST")
      ->capture_default_str();
  m->add_option("--advertised-host", flags.advertised_host,
                "Host other masters, agents and clients reach this master by (its address in "
                "/v2/leader); default: --host, or 127.0.0.1 for 0.0.0.0")
      ->envname("BERTH_ADVERTISED_HOST");
  m->add_option("--port", flags.port, "HTTP port")->envname("BERTH_PORT")->capture_default_str();
  m->add_option("--data-dir", flags.data_dir, "Tokens, and the store unless --store says otherwise")
      ->envname("BERTH_DATA_DIR")
      ->capture_default_str();
  m->add_option("--store", flags.store,
                "Where the state lives: sqlite://PATH or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]. "
                "Default: sqlite://<data-dir>/berth.db")
      ->envname("BERTH_STORE");
  m->add_option("--dataset-driver", flags.dataset_driver, "Driver of datasets that do not name one")
      ->envname("BERTH_DATASET_DRIVER")
      ->check(CLI::IsMember({"shared", "loop", "local"}))
      ->capture_default_str();
  m->add_option("--service-ports", flags.service_ports,
                "Range for service ports of apps that ask for 0")
      ->envname("BERTH_SERVICE_PORTS")
      ->capture_default_str();
  add_master_timing(m, flags);
  add_master_security(m, flags, ca_cert);
  return m;
}

void add_agent_resources(CLI::App* a, AgentFlags& flags) {
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
  a->add_option("--memory-cgroup-root", flags.options.memory_cgroup_root,
                "Where tasks' memory cgroups are made (cgroup v1's memory controller)")
      ->envname("BERTH_MEMORY_CGROUP_ROOT")
      ->capture_default_str();
}

void add_agent_tasks(CLI::App* a, AgentFlags& flags) {
  a->add_option("--dataset-pool", flags.options.dataset_pool,
                "Directory every node sees (NFS, CephFS...) for shared and loop datasets")
      ->envname("BERTH_DATASET_POOL");
  a->add_flag("--no-service-router", flags.no_service_router,
              "Do not listen on apps' service ports")
      ->envname("BERTH_NO_SERVICE_ROUTER");
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
  a->add_option("--default-task-user", flags.options.default_task_user,
                "User of tasks whose app sets no `user` (default: nobody when the agent is root, "
                "else the agent's own user; containers get it as uid:gid)")
      ->envname("BERTH_DEFAULT_TASK_USER");
  a->add_flag(
       "--allow-root-tasks", flags.options.allow_root_tasks,
       "Let tasks run as root (uid 0); containers with no `user` then run as their image's user")
      ->envname("BERTH_ALLOW_ROOT_TASKS");
}

void add_agent_http(CLI::App* a, AgentFlags& flags, std::string& ca_cert) {
  a->add_option("--http-port", flags.options.http_port,
                "The agent's HTTP port for task logs (0: any free port)")
      ->envname("BERTH_AGENT_HTTP_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  a->add_option("--tls-cert", flags.options.tls_cert,
                "PEM certificate: the agent's HTTP port serves HTTPS only")
      ->envname("BERTH_AGENT_TLS_CERT");
  a->add_option("--tls-key", flags.options.tls_key, "PEM private key of --tls-cert")
      ->envname("BERTH_AGENT_TLS_KEY");
  a->add_option("--ca-cert", ca_cert,
                "PEM CA certificate to verify the master and other agents (https://)")
      ->envname("BERTH_CA_CERT");
}

CLI::App* add_agent_command(CLI::App& app, AgentFlags& flags, std::string& ca_cert,
                            std::string& config) {
  auto* a = app.add_subcommand("agent", "Run an agent: registers with the master and runs tasks");
  add_config_option(a, config);
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
  add_agent_resources(a, flags);
  add_agent_tasks(a, flags);
  add_agent_http(a, flags, ca_cert);
  return a;
}

}  // namespace

ServiceCommands add_service_commands(CLI::App& app, ServiceFlags& flags) {
  ServiceCommands commands;
  commands.master = add_master_command(app, flags.master, flags.ca_cert, flags.config);
  commands.agent = add_agent_command(app, flags.agent, flags.ca_cert, flags.config);
  return commands;
}

Result<agent::AgentOptions> agent_options(const AgentFlags& flags) {
  agent::AgentOptions options = flags.options;
  Status range = agent::parse_port_range(flags.ports, &options.port_begin, &options.port_end);
  if (!range) return range.error();
  if (!flags.attributes.empty()) {
    auto parsed = agent::parse_attributes(flags.attributes);
    if (!parsed) return parsed.error();
    options.attributes = *parsed;
  }
  options.service_router = !flags.no_service_router;
  return options;
}

}  // namespace berth::cmd
