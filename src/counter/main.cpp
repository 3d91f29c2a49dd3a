// berth-counter: the Moby Counter demo app, run as a berth (Marathon-style) task with its
// data directory on a berth volume. Wires the real clock, click log and HTTP server together.
//
//   berth-counter [--port N] [--host ADDR] [--data-dir DIR]
//
// Defaults come from the task environment: PORT0 (else 8080) and BERTH_VOLUME_DATA (else
// /data); HOST and MESOS_TASK_ID name the node and task in /v1/ping and on the page.
// Stops cleanly on SIGTERM or SIGINT.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "counter/click_log.h"
#include "counter/counter_app.h"
#include "http/http.h"

namespace {

using berth::counter::ClickLog;
using berth::counter::CounterApp;
using berth::counter::CounterIdentity;

constexpr const char* kUsage =
    "usage: berth-counter [--port N] [--host ADDR] [--data-dir DIR]\n"
    "  --port      TCP port to serve on (default: $PORT0, else 8080; 0 picks a free port)\n"
    "  --host      address to listen on (default: 0.0.0.0)\n"
    "  --data-dir  directory holding clicks.jsonl (default: $BERTH_VOLUME_DATA, else /data)\n";

struct Flags {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  std::string data_dir = "/data";
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::optional<uint16_t> parse_port(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int value = std::stoi(text);
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// Returns the flags, or an exit code after printing usage or the error.
std::optional<Flags> parse_flags(int argc, char** argv, int* exit_code) {
  Flags flags;
  flags.data_dir = env_or("BERTH_VOLUME_DATA", flags.data_dir);
  std::string port_text = env_or("PORT0", "8080");
  std::string port_source = std::getenv("PORT0") ? "PORT0" : "the default";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      *exit_code = 0;
      return std::nullopt;
    }
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name != "--port" && name != "--host" && name != "--data-dir") {
      std::fprintf(stderr, "berth-counter: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      *exit_code = 2;
      return std::nullopt;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "berth-counter: %s needs a value\n%s", name.c_str(), kUsage);
        *exit_code = 2;
        return std::nullopt;
      }
      value = argv[++i];
    }
    if (name == "--port") {
      port_text = value;
      port_source = "--port";
    } else if (name == "--host") {
      flags.host = value;
    } else {
      flags.data_dir = value;
    }
  }
  auto port = parse_port(port_text);
  if (!port) {
    std::fprintf(stderr, "berth-counter: port '%s' from %s is not a number from 0 to 65535\n",
                 port_text.c_str(), port_source.c_str());
    *exit_code = 2;
    return std::nullopt;
  }
  flags.port = *port;
  if (flags.data_dir.empty()) {
    std::fprintf(stderr, "berth-counter: --data-dir must not be empty\n");
    *exit_code = 2;
    return std::nullopt;
  }
  return flags;
}

CounterIdentity identity_from_environment() {
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) != 0) hostname[0] = '\0';
  return CounterIdentity{env_or("HOST", hostname), env_or("MESOS_TASK_ID", "")};
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto flags = parse_flags(argc, argv, &exit_code);
  if (!flags) return exit_code;

  // Blocked before any thread starts, so every thread inherits the mask and sigwait() below
  // is the only place SIGTERM is taken.
  sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto log = ClickLog::open(flags->data_dir);
  if (!log) {
    std::fprintf(stderr, "berth-counter: cannot open the click log: %s\n",
                 log.error().message.c_str());
    return 1;
  }
  berth::SystemClock clock;
  CounterIdentity identity = identity_from_environment();
  CounterApp app(**log, clock, identity);

  berth::http::ServerOptions options;
  options.host = flags->host;
  options.port = flags->port;
  options.max_connections = 256;
  options.max_body_bytes = 4096;  // a click is {"x":..,"y":..}
  auto server =
      berth::http::serve(options, [&app](const berth::http::Request& r) { return app.handle(r); });
  if (!server) {
    std::fprintf(stderr, "berth-counter: %s\n", server.error().message.c_str());
    return 1;
  }

  std::string torn;
  if ((*log)->torn_bytes_dropped() > 0) {
    torn =
        " (dropped a torn last line of " + std::to_string((*log)->torn_bytes_dropped()) + " bytes)";
  }
  std::printf(
      "berth-counter: loaded %zu clicks from %s%s; serving on %s:%u as node '%s' task '%s'\n",
      (*log)->size(), (*log)->path().c_str(), torn.c_str(), flags->host.c_str(),
      static_cast<unsigned>((*server)->port()), identity.node.c_str(), identity.task.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::printf("berth-counter: stopping on %s\n", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  (*server)->stop();
  return 0;
}
