#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "agent/master_endpoints.h"
#include "api/event_callbacks.h"
#include "api/marathon_api.h"
#include "base/ids.h"
#include "base/thread_priority.h"
#include "cmd/commands.h"
#include "cmd/lease_clock.h"
#include "cmd/master_parts.h"
#include "cmd/service_notify.h"
#include "http/http.h"
#include "master/master_core.h"
#include "metrics/registry.h"
#include "store/store.h"
#include "store/store_url.h"

namespace berth::cmd {

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // an agent's "stop, and stop every task" (Mesos's too)
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  in >> token;
  return token;
}

std::string local_admin_token(const std::string& data_dir) {
  const char* from_env = std::getenv("BERTH_TOKEN");
  if (from_env != nullptr && *from_env != '\0') return from_env;
  return read_token_file(data_dir + "/admin-token");
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

namespace {

// The token another master (of the same cluster, sharing --admin-token-file) is writing to
// `path` right now: its content, once it is there (within about a second).
Result<std::string> created_by_another(const std::string& path) {
  for (int i = 0; i < 50; ++i) {
    std::string token = read_token_file(path);
    if (!token.empty()) return token;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error(ErrorCode::kUnavailable, path + " exists but holds no token");
}

// The admin token of `path`, created (mode 0600, as "admin.<secret>") when the file is missing.
Result<std::string> admin_token(const std::string& path, IdSource& ids) {
  std::string token = read_token_file(path);
  if (!token.empty()) {
    ::chmod(path.c_str(), 0600);
    return token;
  }
  token = "admin." + ids.secret();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) return created_by_another(path);
  if (fd < 0)
    return make_error(ErrorCode::kUnavailable,
                      "cannot create " + path + ": " + std::strerror(errno));
  std::string line = token + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) return make_error(ErrorCode::kUnavailable, "cannot write " + path);
  return token;
}

// The --store URL, by default sqlite://<data-dir>/berth.db (docs/architecture.md §5).
std::string store_url(const MasterFlags& flags) {
  return flags.store.empty() ? "sqlite://" + flags.data_dir + "/berth.db" : flags.store;
}

// Opens the store `url` names; logs why and returns nullptr when it cannot.
std::unique_ptr<Store> open_master_store(const std::string& url, const StoreUrl& parsed) {
  Result<std::unique_ptr<Store>> store = open_store(parsed);
  if (!store) {
    spdlog::error("cannot open the store {}: {}", url, store.error().message);
    return nullptr;
  }
  if (parsed.kind == StoreUrl::Kind::kSqlite) {
    // A store written by an older master may have been created readable by all.
    for (const char* suffix : {"", "-wal", "-shm"}) {
      ::chmod((parsed.sqlite_path + suffix).c_str(), 0600);
    }
  }
  spdlog::info("the master's state is in {}", url);
  return std::move(*store);
}

// Creates the data directory, readable by the master's user only. Logs why it cannot.
bool create_data_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  }
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", dir, ec.message());
    return false;
  }
  return true;
}

// Whether the master may listen as `flags` say: TLS needs both files, and plain HTTP beyond
// loopback needs --insecure (docs/security.md). Logs why not.
bool listening_allowed(const MasterFlags& flags, bool tls) {
  if (tls && (flags.tls_cert.empty() || flags.tls_key.empty())) {
    spdlog::error("--tls-cert and --tls-key go together: give both, or neither for plain HTTP");
    return false;
  }
  if (!is_loopback(flags.host) && !tls && !flags.insecure) {
    spdlog::error(
        "refusing to listen on {} without TLS: anyone on the network could read tokens and "
        "data. Give --tls-cert and --tls-key, listen on 127.0.0.1, or pass --insecure",
        flags.host);
    return false;
  }
  return true;
}

// --join-token, else the token in <data-dir>/join-token, created there when it is missing.
std::string join_token(const MasterFlags& flags, IdSource& ids) {
  std::string token = flags.join_token;
  if (!token.empty()) return token;
  std::string path = flags.data_dir + "/join-token";
  std::ifstream in(path);
  if (!(in >> token)) {
    token = ids.uuid();
    if (!write_private_file(path, token + "\n"))
      spdlog::warn("cannot write {}: agents must be given the join token another way", path);
  }
  spdlog::info("agents join with the token in {}", path);
  return token;
}

// The agents' heartbeat and lease timing, or nullopt (logged) when it is not safe.
std::optional<lease::LeaseOptions> lease_timing(const MasterFlags& flags) {
  // docs/fencing.md §3: an agent is declared lost only after its lease L plus a margin for clock
  // drift, or its datasets could be handed over while it may still write them.
  lease::LeaseOptions timing;
  timing.heartbeat_interval = std::chrono::milliseconds(flags.heartbeat_interval_ms);
  timing.lease = std::chrono::milliseconds(flags.lease_ms);
  timing.margin = std::chrono::milliseconds(flags.lost_timeout_ms - flags.lease_ms);
  if (Status safe = lease::check_timing(timing); !safe) {
    spdlog::error("{}", safe.error().message);
    return std::nullopt;
  }
  return timing;
}

}  // namespace

// The host in the leader's address (/v2/leader).
std::string advertised_host(const MasterFlags& flags) {
  if (!flags.advertised_host.empty()) return flags.advertised_host;
  return flags.host == "0.0.0.0" ? "127.0.0.1" : flags.host;
}

// The master core's options from `flags`, or nullopt (logged) when a flag is invalid.
std::optional<master::MasterOptions> master_options(const MasterFlags& flags,
                                                    const std::string& join_token,
                                                    const lease::LeaseOptions& timing) {
  master::MasterOptions options;
  options.join_token = join_token;
  options.log = [](const std::string& line) { spdlog::info("{}", line); };
  options.timing = timing;
  options.max_heartbeats_per_second = flags.max_heartbeats_per_second;
  if (flags.task_launch_timeout_ms <= 0) {
    spdlog::error("--task-launch-timeout-ms must be positive, got {}",
                  flags.task_launch_timeout_ms);
    return std::nullopt;
  }
  options.task_launch_timeout = std::chrono::milliseconds(flags.task_launch_timeout_ms);
  options.default_dataset_driver = flags.dataset_driver;
  unsigned begin = 0, end = 0;
  char extra = 0;
  if (std::sscanf(flags.service_ports.c_str(), "%u-%u%c", &begin, &end, &extra) != 2 ||
      begin == 0 || end > 65536 || begin >= end) {
    spdlog::error("invalid --service-ports '{}': expected BEGIN-END, e.g. 10000-20000",
                  flags.service_ports);
    return std::nullopt;
  }
  options.service_port_min = begin;
  options.service_port_max = end;
  options.leader = advertised_host(flags) + ":" + std::to_string(flags.port);
  return options;
}

// Loads the API tokens and sets up who may call: the admin token, --http-credentials, agents
// by their secrets, or anyone with --no-auth. 0, or the exit code of a failure it logged.
int set_up_auth(api::Authenticator& auth, master::MasterCore& core, const MasterFlags& flags,
                IdSource& ids) {
  Status tokens_loaded = auth.load();
  if (!tokens_loaded) {
    spdlog::error("cannot load API tokens: {}", tokens_loaded.error().message);
    return 1;
  }
  const std::string admin_token_file =
      flags.admin_token_file.empty() ? flags.data_dir + "/admin-token" : flags.admin_token_file;
  auto admin = admin_token(admin_token_file, ids);
  if (!admin) {
    spdlog::error("{}", admin.error().message);
    return 1;
  }
  auth.add_bootstrap_admin(*admin);
  if (!flags.http_credentials.empty()) {
    Status basic = auth.set_basic_credentials(flags.http_credentials);
    if (!basic) {
      spdlog::error("{}", basic.error().message);
      return 2;
    }
  }
  auth.set_agent_lookup(
      [&core](const std::string& secret) { return core.agent_with_secret(secret); });
  if (flags.no_auth) {
    if (!is_loopback(flags.host)) {
      spdlog::error("--no-auth serves anyone as admin: allowed on a loopback address only, not {}",
                    flags.host);
      return 2;
    }
    spdlog::warn("--no-auth: API clients need no credential (agents still do)");
    auth.disable();
  }
  spdlog::info(
      "API clients authenticate: the admin token is in {} (Authorization: Bearer <token>; "
      "berth token create makes more)",
      admin_token_file);
  return 0;
}

namespace {
// An agent's call: it carries a credential, checked by the handler (a forged one gets 401 at
// once), and it may use the agents' busy slots and threads (docs/security.md §5).
bool agent_call(const http::Request& request) {
  return request.path.starts_with("/berth/v1/agents/") && !request.header("authorization").empty();
}
}  // namespace

http::ServerOptions server_options(const MasterFlags& flags) {
  http::ServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  options.tls_cert_file = flags.tls_cert;
  options.tls_key_file = flags.tls_key;
  // Every agent keeps a command poll open (deferred: it holds no thread and no busy slot) next
  // to its short heartbeat and status calls: room for 10,000 agents (docs/protocol.md §5). Each
  // connection is a file descriptor, so the process's RLIMIT_NOFILE hard limit must be above
  // this (serve() raises the soft limit to it; berth-master.service sets 1048576).
  options.max_connections = 16384;
  // Agents keep their lease however busy the API is (docs/security.md): their calls carry a
  // credential and may use slots no API client can fill. A forged credential is refused by
  // the handler at once, so it cannot hold a reserved slot.
  options.reserved_busy_connections = 128;
  options.reserved = agent_call;
  // A small fixed pool runs every handler (docs/protocol.md §5): long polls and event streams
  // hold no thread. The agents' calls have threads of their own, so no API request, however
  // slow, delays a heartbeat.
  options.worker_threads = 16;
  options.reserved_worker_threads = 16;
  // Heartbeats have threads of their own, so no agent's poll or status report waiting for
  // the state lock delays one; each waits for the lock within its budget counted from arrival.
  options.urgent = [](const http::Request& request) {
    return request.method == "POST" && request.path.ends_with("/heartbeat") && agent_call(request);
  };
  options.urgent_worker_threads = 16;
  return options;
}

namespace {

// Serves the API and reconciles until SIGINT or SIGTERM; the process's exit code.
int serve(const MasterFlags& flags, bool tls, master::MasterCore& core, Clock& clock,
          api::Authenticator& auth, const std::string& leader) {
  api::ApiInfo info;
  info.http_address = leader;
  info.store_url = store_url(flags);
  auto server = http::serve(server_options(flags), [&](const http::Request& request) {
    return api::handle_request(core, clock, info, auth, request);
  });
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  spdlog::info("berth master serving Marathon's API on {}://{}:{} (data in {})",
               tls ? "https" : "http", advertised_host(flags), (*server)->port(), flags.data_dir);
  notify_service_ready();
  api::EventCallbacks callbacks(core);
  std::atomic<bool> stopping{false};
  std::thread controller([&] {
    spdlog::info("controller thread priority: {}", favour_thread(kControllerNice));
    auto warned = std::chrono::steady_clock::now() - std::chrono::minutes(2);
    while (!stopping) {
      core.reconcile();
      if (!is_loopback(flags.host) && !tls &&
          std::chrono::steady_clock::now() - warned >= std::chrono::minutes(1)) {
        spdlog::warn(
            "--insecure: serving plain HTTP on {}; tokens and data cross the network unencrypted",
            flags.host);
        warned = std::chrono::steady_clock::now();
      }
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

}  // namespace

int run_master(const MasterFlags& flags) {
  // The master builds large short-lived answers (an agent's whole dataset assignment list, an
  // app's tasks) on many request threads; with glibc's default of one heap per thread and
  // core they stay resident in every heap that ever held one, and RSS grows with threads x
  // cluster size (bench/master_memory_outbox.sh: 159 MB at 3,000 datasets, 44 MB with two).
  ::mallopt(M_ARENA_MAX, 2);
  block_stop_signals();
  // A bad --store stops the master before it writes anything.
  const Result<StoreUrl> parsed_store = parse_store_url(store_url(flags));
  if (!parsed_store) {
    spdlog::error("{}", parsed_store.error().message);
    return 2;
  }
  // The store, tokens and logs the master writes are its own (docs/security.md).
  ::umask(077);
  if (!create_data_dir(flags.data_dir)) return 1;
  const bool tls = !flags.tls_cert.empty() || !flags.tls_key.empty();
  if (!listening_allowed(flags, tls)) return 2;
  RandomIdSource ids;
  const std::string token = join_token(flags, ids);
  std::optional<lease::LeaseOptions> timing = lease_timing(flags);
  if (!timing) return 2;
  std::unique_ptr<Store> store = open_master_store(store_url(flags), *parsed_store);
  if (!store) return 1;
  SystemClock clock;
  std::optional<master::MasterOptions> options = master_options(flags, token, *timing);
  if (!options) return 2;
  // One registry for the process: counters outlast a leader's terms (docs/compatibility.md §2.9).
  metrics::Registry metrics(clock.mono_now());
  options->metrics = &metrics;
  // Ticks at the heartbeat's pace; a stall of a quarter of the margin is worth a line.
  LeaseClock lease_clock(metrics,
                         std::min(timing->heartbeat_interval, std::chrono::milliseconds(50)),
                         std::max(timing->margin / 4, std::chrono::milliseconds(10)));
  // On etcd, several masters may share the state: one leads, elected (docs/architecture.md §5).
  if (parsed_store->kind == StoreUrl::Kind::kEtcd) {
    store.reset();
    return serve_elected(flags, tls, *parsed_store, *options, clock, ids);
  }
  master::MasterCore core(*options, *store, clock, ids);
  Status loaded = core.load();
  if (!loaded) {
    spdlog::error("cannot load state: {}", loaded.error().message);
    return 1;
  }
  api::Authenticator auth(*store, clock, ids);
  if (int failed = set_up_auth(auth, core, flags, ids)) return failed;
  return serve(flags, tls, core, clock, auth, options->leader);
}

int run_agent(agent::AgentOptions options) {
  if (auto masters = agent::MasterEndpoints::parse(options.master_url); !masters) {
    spdlog::error("--master: {}", masters.error().message);
    return 1;
  }
  block_stop_signals();
  agent::AgentParts parts = agent::real_agent_parts(options);
  agent::Agent agent(std::move(options), std::move(parts));
  std::thread signals([&] {
    // SIGTERM and SIGINT leave the tasks running for the agent's next start to adopt; SIGUSR1
    // stops them too (docs/fencing.md §6).
    agent.stop(wait_for_stop_signal() == SIGUSR1);
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
