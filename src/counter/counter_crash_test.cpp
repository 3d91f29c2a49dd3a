// Runs the real berth-counter binary (BERTH_COUNTER_BINARY), kill -9's it while clients are
// posting clicks, restarts it on the same data directory and checks that every click that got
// a 201 is there. SIGKILL keeps the page cache, so this proves "acknowledged after write()"
// and the reload path; losing power is what the fsync() before the 201 is for.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "counter/test_dir.h"
#include "http/http.h"

extern char** environ;

namespace berth::counter {
namespace {

using nlohmann::json;

class CounterProcess {
 public:
  // Starts berth-counter on a free loopback port and waits for its start line.
  CounterProcess(const std::string& data_dir, const std::string& task_id) {
    std::vector<std::string> args = {BERTH_COUNTER_BINARY, "--host", "127.0.0.1", "--port", "0",
                                     "--data-dir",         data_dir};
    std::vector<std::string> env = {"MESOS_TASK_ID=" + task_id, "HOST=test-node"};
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    for (auto& e : env) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::execve(BERTH_COUNTER_BINARY, argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
    start_line_ = read_line(std::chrono::seconds(20));
    std::string marker = "serving on 127.0.0.1:";
    size_t at = start_line_.find(marker);
    if (at != std::string::npos) {
      url_ =
          "http://127.0.0.1:" + std::to_string(std::stoi(start_line_.substr(at + marker.size())));
    }
  }

  ~CounterProcess() {
    if (pid_ > 0) kill_hard();
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  bool started() const { return !url_.empty(); }
  const std::string& url() const { return url_; }
  const std::string& start_line() const { return start_line_; }

  void kill_hard() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // SIGTERM, then the wait status.
  int terminate() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  std::string read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (::read(out_fd_, &c, 1) != 1 || c == '\n') break;
      line += c;
    }
    return line;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string start_line_;
  std::string url_;
};

using Acked = std::map<int64_t, std::pair<int64_t, int64_t>>;  // id -> (x, y)

// Every acknowledged click is in GET /v1/clicks, and the ids there are exactly 1..N.
void expect_all_acknowledged_clicks(const std::string& url, const Acked& acked) {
  auto response = http::request(url, "GET", "/v1/clicks");
  ASSERT_TRUE(response.ok()) << response.error().message;
  json clicks = json::parse(response->body, nullptr, false);
  ASSERT_TRUE(clicks.is_array()) << response->body.substr(0, 200);
  std::map<int64_t, std::pair<int64_t, int64_t>> stored;
  for (size_t i = 0; i < clicks.size(); ++i) {
    int64_t id = clicks[i]["id"];
    EXPECT_EQ(id, static_cast<int64_t>(i + 1));
    stored[id] = {clicks[i]["x"].get<int64_t>(), clicks[i]["y"].get<int64_t>()};
  }
  for (const auto& [id, xy] : acked) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << "acknowledged click " << id << " is missing";
    EXPECT_EQ(it->second, xy) << "click " << id;
  }
}

// Posts clicks from `threads` clients until `enough` are acknowledged, then kill -9's the
// process while the others are still posting.
void post_then_kill(CounterProcess& process, int round, int threads, size_t enough, Acked* acked) {
  std::mutex mu;
  std::condition_variable cv;
  size_t acked_this_round = 0;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        int64_t x = t, y = round * 100000 + i;
        std::string body = json{{"x", x}, {"y", y}}.dump();
        auto response = http::request(process.url(), "POST", "/v1/clicks", body, 5000);
        if (!response.ok() || response->status != 201) return;  // killed mid-request
        int64_t id = json::parse(response->body)["id"];
        std::lock_guard<std::mutex> lock(mu);
        (*acked)[id] = {x, y};
        ++acked_this_round;
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return acked_this_round >= enough; });
    process.kill_hard();  // under the lock: no acknowledgement is recorded after the kill
  }
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_GE(acked_this_round, enough);
}

TEST(CounterCrash, EveryAcknowledgedClickSurvivesKillNineAndRestart) {
  TestDir dir;
  Acked acked;
  for (int round = 0; round < 3; ++round) {
    CounterProcess process(dir.path(), "counter.round-" + std::to_string(round));
    ASSERT_TRUE(process.started()) << "start line: '" << process.start_line() << "'";
    EXPECT_NE(process.start_line().find("loaded "), std::string::npos) << process.start_line();
    expect_all_acknowledged_clicks(process.url(), acked);
    if (::testing::Test::HasFatalFailure()) return;
    post_then_kill(process, round, 4, 40, &acked);
  }

  CounterProcess last(dir.path(), "counter.last");
  ASSERT_TRUE(last.started()) << "start line: '" << last.start_line() << "'";
  expect_all_acknowledged_clicks(last.url(), acked);
  auto ping = http::request(last.url(), "GET", "/v1/ping");
  ASSERT_TRUE(ping.ok());
  json pong = json::parse(ping->body);
  EXPECT_EQ(pong["task"], "counter.last");
  EXPECT_EQ(pong["node"], "test-node");
  EXPECT_GE(pong["clicks"].get<size_t>(), acked.size());
  EXPECT_NE(last.start_line().find("loaded " + pong["clicks"].dump() + " clicks"),
            std::string::npos)
      << last.start_line();

  int status = last.terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

TEST(CounterCrash, BadFlagsExitWithUsage) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(BERTH_COUNTER_BINARY, BERTH_COUNTER_BINARY, "--port", "99999", nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << "wait status " << status;
}

}  // namespace
}  // namespace berth::counter
