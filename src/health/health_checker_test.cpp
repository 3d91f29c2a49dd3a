// HealthChecker and its probes against real local servers and processes. Checks run every
// 100 ms; waits are bounded condition waits, never fixed sleeps.
#include "health/health_checker.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "health/probes.h"
#include "http/http.h"

namespace berth::health {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr auto kWait = 10s;  // a generous bound; every test ends long before it on success

// Collects the checker's change callbacks.
class Recorder {
 public:
  HealthChecker::ChangeCallback callback() {
    return [this](const HealthChange& change) {
      std::lock_guard<std::mutex> lock(mutex_);
      changes_.push_back(change);
      cv_.notify_all();
    };
  }
  // Waits until `pred(changes)` holds; returns a copy of the changes either way.
  template <typename Pred>
  std::vector<HealthChange> wait_until(Pred pred) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, kWait, [&] { return pred(changes_); });
    return changes_;
  }
  std::vector<HealthChange> changes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return changes_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<HealthChange> changes_;
};

bool any_change(const std::vector<HealthChange>& changes) { return !changes.empty(); }
bool kill_due(const std::vector<HealthChange>& changes) {
  return !changes.empty() && changes.back().should_kill;
}

HealthCheckSpec fast_spec(const std::string& protocol) {
  HealthCheckSpec spec;
  spec.protocol = protocol;
  spec.interval = 100ms;
  spec.timeout = 2s;
  spec.delay = 0ms;
  spec.grace_period = 0s;
  spec.max_consecutive_failures = 3;
  return spec;
}

HealthTask task_for(const std::string& id, std::vector<uint32_t> ports, HealthCheckSpec spec,
                    const Clock& clock) {
  HealthTask task;
  task.task_id = id;
  task.host = "127.0.0.1";
  task.ports = std::move(ports);
  task.specs = {std::move(spec)};
  task.started_at = clock.wall_now();
  return task;
}

// A local port nothing listens on: bound, never listened to, then closed.
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Waits until `pred()` holds, polling; for state the checker has no callback for.
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = Steady::now() + kWait;
  while (!pred()) {
    if (Steady::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/berth-health-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// True when `pid` is gone or a zombie (nobody may be left to reap it in a container).
bool process_dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && line.size() > close_paren + 2 &&
         line[close_paren + 2] == 'Z';
}

TEST(HealthChecker, HttpCheckFlipsToUnhealthyAndAsksForAKillAfterMaxFailures) {
  std::atomic<int> status{200};
  std::mutex path_mutex;
  std::string seen_target;
  auto server = http::serve({"127.0.0.1", 0}, [&](const http::Request& request) {
    {
      std::lock_guard<std::mutex> lock(path_mutex);
      seen_target = request.target;
    }
    http::Response response;
    response.status = status.load();
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec spec = fast_spec("HTTP");
  spec.path = "/health?deep=1";
  ASSERT_TRUE(checker.register_task(task_for("web.1", {(*server)->port()}, spec, clock)).ok());

  auto changes = recorder.wait_until(any_change);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].task_id, "web.1");
  EXPECT_TRUE(changes[0].healthy);
  EXPECT_FALSE(changes[0].should_kill);
  {
    std::lock_guard<std::mutex> lock(path_mutex);
    EXPECT_EQ(seen_target, "/health?deep=1");
  }

  status = 500;
  changes = recorder.wait_until(kill_due);
  ASSERT_TRUE(kill_due(changes));
  ASSERT_GE(changes.size(), 3u);
  // The flip to unhealthy comes at the first failure, the kill at the third.
  EXPECT_FALSE(changes[1].healthy);
  EXPECT_FALSE(changes[1].should_kill);
  EXPECT_EQ(changes[1].cause, "500 Internal Server Error");
  EXPECT_FALSE(changes.back().healthy);
  EXPECT_EQ(changes.back().cause, "500 Internal Server Error");

  auto results = checker.results("web.1");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_GE(results[0].consecutive_failures(), 3u);
  EXPECT_TRUE(results[0].first_success().has_value());
  auto json = checker.results_json("web.1", "web.instance-1");
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["alive"], false);
  EXPECT_EQ(json[0]["instanceId"], "web.instance-1");
  EXPECT_EQ(json[0]["lastFailureCause"], "500 Internal Server Error");

  // Recovering clears the kill and flips back to healthy.
  status = 200;
  changes = recorder.wait_until([](const auto& c) { return c.back().healthy; });
  EXPECT_TRUE(changes.back().healthy);
  EXPECT_FALSE(changes.back().should_kill);
}

TEST(HealthChecker, IgnoresFailuresDuringTheGracePeriod) {
  std::atomic<int> hits{0};
  auto server = http::serve({"127.0.0.1", 0}, [&](const http::Request&) {
    ++hits;
    http::Response response;
    response.status = 503;
    return response;
  });
  ASSERT_TRUE(server.ok());
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec spec = fast_spec("HTTP");
  spec.grace_period = 60s;
  ASSERT_TRUE(checker.register_task(task_for("web.1", {(*server)->port()}, spec, clock)).ok());
  ASSERT_TRUE(eventually([&] { return hits.load() >= 4; }));
  auto results = checker.results("web.1");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].alive().has_value());
  EXPECT_EQ(results[0].consecutive_failures(), 0u);
  EXPECT_TRUE(recorder.changes().empty());
}

TEST(HealthChecker, Http1xxLeavesHealthUnchangedOnlyWhenIgnored) {
  std::atomic<int> hits{0};
  auto server = http::serve({"127.0.0.1", 0}, [&](const http::Request&) {
    ++hits;
    http::Response response;
    response.status = 102;
    response.content_type.clear();
    return response;
  });
  ASSERT_TRUE(server.ok());
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec ignoring = fast_spec("HTTP");
  ignoring.ignore_http_1xx = true;
  ASSERT_TRUE(
      checker.register_task(task_for("ignoring", {(*server)->port()}, ignoring, clock)).ok());
  ASSERT_TRUE(
      checker.register_task(task_for("counting", {(*server)->port()}, fast_spec("HTTP"), clock))
          .ok());

  auto changes = recorder.wait_until(any_change);
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes[0].task_id, "counting");
  EXPECT_FALSE(changes[0].healthy);
  EXPECT_EQ(changes[0].cause, "102 Processing");
  int seen = hits.load();
  ASSERT_TRUE(eventually([&] { return hits.load() >= seen + 4; }));
  auto results = checker.results("ignoring");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].alive().has_value());
  EXPECT_EQ(results[0].consecutive_failures(), 0u);
  for (const auto& change : recorder.changes()) EXPECT_EQ(change.task_id, "counting");
}

TEST(HealthChecker, TcpCheckPassesOnAListeningPortAndFailsOnAClosedOne) {
  auto server =
      http::serve({"127.0.0.1", 0}, [](const http::Request&) { return http::Response{}; });
  ASSERT_TRUE(server.ok());
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec spec = fast_spec("TCP");
  spec.max_consecutive_failures = 0;  // never kill: only health flips are reported
  ASSERT_TRUE(checker.register_task(task_for("open", {(*server)->port()}, spec, clock)).ok());
  ASSERT_TRUE(checker.register_task(task_for("closed", {closed_port()}, spec, clock)).ok());

  auto changes = recorder.wait_until([](const auto& c) { return c.size() >= 2; });
  ASSERT_EQ(changes.size(), 2u);
  for (const auto& change : changes) {
    EXPECT_FALSE(change.should_kill);
    if (change.task_id == "open") {
      EXPECT_TRUE(change.healthy);
    } else {
      EXPECT_FALSE(change.healthy);
      EXPECT_NE(change.cause.find("Connection refused"), std::string::npos) << change.cause;
    }
  }
  // Failures keep counting but a never-kill check stays silent.
  ASSERT_TRUE(eventually([&] { return checker.results("closed")[0].consecutive_failures() >= 5; }));
  EXPECT_EQ(recorder.changes().size(), 2u);
}

TEST(HealthChecker, CommandCheckSeesTheTaskEnvironmentAndSandbox) {
  TempDir sandbox;
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec spec = fast_spec("COMMAND");
  spec.command = "test \"$APP_MODE\" = ready && test \"$(pwd -P)\" = \"$EXPECTED_DIR\"";
  HealthTask task = task_for("cmd.1", {}, spec, clock);
  task.env = {{"APP_MODE", "ready"},
              {"EXPECTED_DIR", std::filesystem::canonical(sandbox.path()).string()},
              {"PATH", "/usr/bin:/bin"}};
  task.sandbox_dir = sandbox.path();
  ASSERT_TRUE(checker.register_task(task).ok());
  auto changes = recorder.wait_until(any_change);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].healthy) << changes[0].cause;
}

TEST(HealthChecker, CommandCheckFailsOnANonZeroExitWithItsOutput) {
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec spec = fast_spec("COMMAND");
  spec.command = "echo database unreachable >&2; exit 1";
  spec.max_consecutive_failures = 2;
  ASSERT_TRUE(checker.register_task(task_for("cmd.1", {}, spec, clock)).ok());
  auto changes = recorder.wait_until(kill_due);
  ASSERT_TRUE(kill_due(changes));
  EXPECT_EQ(changes.back().cause, "command exited with status 1: database unreachable");
}

TEST(HealthChecker, CommandCheckFailsAtItsTimeout) {
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  HealthCheckSpec spec = fast_spec("COMMAND");
  spec.command = "sleep 30";
  spec.timeout = 200ms;
  auto started = Steady::now();
  ASSERT_TRUE(checker.register_task(task_for("cmd.1", {}, spec, clock)).ok());
  auto changes = recorder.wait_until(any_change);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].healthy);
  EXPECT_EQ(changes[0].cause, "command timed out after 200ms");
  EXPECT_LT(Steady::now() - started, 5s);
}

TEST(HealthChecker, StopsPromptlyWhileACommandRuns) {
  TempDir dir;
  std::string marker = dir.path() + "/started";
  SystemClock clock;
  auto checker = std::make_unique<HealthChecker>(clock, nullptr);
  HealthCheckSpec spec = fast_spec("COMMAND");
  spec.command = "touch " + marker + "; sleep 30";
  spec.timeout = 60s;
  ASSERT_TRUE(checker->register_task(task_for("cmd.1", {}, spec, clock)).ok());
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(marker); }));
  auto started = Steady::now();
  checker.reset();
  EXPECT_LT(Steady::now() - started, 5s);
}

TEST(HealthChecker, UnregisterForgetsTheTaskAndItsChanges) {
  std::atomic<int> old_hits{0}, new_hits{0};
  auto old_server = http::serve({"127.0.0.1", 0}, [&](const http::Request&) {
    ++old_hits;
    return http::Response{};
  });
  auto new_server = http::serve({"127.0.0.1", 0}, [&](const http::Request&) {
    ++new_hits;
    return http::Response{};
  });
  ASSERT_TRUE(old_server.ok() && new_server.ok());
  SystemClock clock;
  Recorder recorder;
  HealthChecker checker(clock, recorder.callback());
  ASSERT_TRUE(
      checker.register_task(task_for("web.1", {(*old_server)->port()}, fast_spec("HTTP"), clock))
          .ok());
  recorder.wait_until(any_change);
  checker.unregister_task("web.1");
  EXPECT_TRUE(checker.results("web.1").empty());
  EXPECT_EQ(checker.results_json("web.1", "x"), nlohmann::json::array());
  int seen = old_hits.load();
  // The same id, re-registered against another server: several intervals pass while the old
  // registration probes nothing more (at most one probe was already in flight).
  ASSERT_TRUE(
      checker.register_task(task_for("web.1", {(*new_server)->port()}, fast_spec("HTTP"), clock))
          .ok());
  ASSERT_TRUE(eventually([&] { return new_hits.load() >= 4; }));
  EXPECT_LE(old_hits.load(), seen + 1);
  auto changes = recorder.changes();
  ASSERT_EQ(changes.size(), 2u);  // healthy once per registration
  EXPECT_TRUE(changes[1].healthy);
}

TEST(HealthChecker, RefusesBadRegistrationsAndChangesNothing) {
  SystemClock clock;
  HealthCheckerOptions options;
  options.max_tasks = 1;
  HealthChecker checker(clock, nullptr, options);

  HealthCheckSpec spec = fast_spec("HTTP");
  spec.port_index = 3;
  auto bad_port = checker.register_task(task_for("web.1", {31000}, spec, clock));
  ASSERT_FALSE(bad_port.ok());
  EXPECT_EQ(bad_port.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_port.error().message.find("healthChecks(0) of task web.1: portIndex: got 3"),
            std::string::npos)
      << bad_port.error().message;
  EXPECT_TRUE(checker.results("web.1").empty());

  HealthCheckSpec never = fast_spec("TCP");
  never.interval = 3600s;
  never.delay = 3600s;
  ASSERT_TRUE(checker.register_task(task_for("web.1", {31000}, never, clock)).ok());
  auto again = checker.register_task(task_for("web.1", {31000}, never, clock));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto full = checker.register_task(task_for("web.2", {31000}, never, clock));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable);
}

TEST(CommandProbe, KillsTheWholeProcessGroupAtTheTimeout) {
  TempDir dir;
  std::string pid_file = dir.path() + "/child.pid";
  std::atomic<bool> cancelled{false};
  CommandProbe probe;
  probe.command = "sleep 30 & echo $! > " + pid_file + "; wait";
  probe.env = {{"PATH", "/usr/bin:/bin"}};
  probe.timeout = 300ms;
  ProbeResult result = probe_command(probe, cancelled);
  EXPECT_EQ(result.outcome, ProbeOutcome::kFail);
  EXPECT_EQ(result.cause, "command timed out after 300ms");
  std::ifstream in(pid_file);
  pid_t child = 0;
  ASSERT_TRUE(in >> child);
  EXPECT_TRUE(eventually([&] { return process_dead(child); })) << "background sleep survived";
}

TEST(CommandProbe, ReportsAMissingSandbox) {
  std::atomic<bool> cancelled{false};
  CommandProbe probe;
  probe.command = "true";
  probe.sandbox_dir = "/nonexistent/berth-sandbox";
  ProbeResult result = probe_command(probe, cancelled);
  EXPECT_EQ(result.outcome, ProbeOutcome::kFail);
  EXPECT_NE(result.cause.find("/nonexistent/berth-sandbox"), std::string::npos) << result.cause;
}

TEST(HttpProbe, ReportsAnUnreachablePeer) {
  ProbeResult result = probe_http("127.0.0.1", closed_port(), "/", 500ms, false);
  EXPECT_EQ(result.outcome, ProbeOutcome::kFail);
  EXPECT_FALSE(result.cause.empty());
}

}  // namespace
}  // namespace berth::health
