// Deferred answers (Response::defer) end to end on loopback: a handler parks its Reply, and the
// test answers it from another thread, lets its deadline pass, leaves as the client or stops
// the server.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/http.h"
#include "http/raw_connection_test_support.h"

namespace berth::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

std::string base_url(const std::unique_ptr<Server>& server) {
  return "http://127.0.0.1:" + std::to_string(server->port());
}

std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

Response text(int status, std::string body) {
  return Response{status, "text/plain", {}, std::move(body)};
}

size_t thread_count() {
  size_t n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)task;
    ++n;
  }
  return n;
}

// Polls `condition` until it holds or `timeout_ms` passes: for state the server changes with no
// event a test could wait on (a Reply becoming abandoned).
bool eventually(const std::function<bool()>& condition, int timeout_ms = 5000) {
  auto deadline = Clock::now() + milliseconds(timeout_ms);
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// The Replies a deferring handler parked, in the order their requests arrived.
class Parked {
 public:
  void add(std::string path, std::shared_ptr<Reply> reply) {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.push_back(std::move(path));
    replies_.push_back(std::move(reply));
    cv_.notify_all();
  }
  // Waits until `n` are parked; false after `timeout_ms`.
  bool wait_for(size_t n, int timeout_ms = 10000) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, milliseconds(timeout_ms), [&] { return replies_.size() >= n; });
  }
  std::shared_ptr<Reply> reply(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return replies_.at(i);
  }
  std::string path(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_.at(i);
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return replies_.size();
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    replies_.clear();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> paths_;
  std::vector<std::shared_ptr<Reply>> replies_;
};

// Answers /now at once and parks every other request; the fallback says "fallback <path>" and
// goes out after `timeout` (zero: no deadline).
Handler deferring(Parked& parked, milliseconds timeout = milliseconds{0}) {
  return [&parked, timeout](const Request& request) {
    if (request.path == "/now") return text(200, "now");
    Response response = text(200, "fallback " + request.path);
    response.defer_timeout = timeout;
    response.defer = [&parked, path = request.path](std::shared_ptr<Reply> reply) {
      parked.add(path, std::move(reply));
    };
    return response;
  };
}

}  // namespace

TEST(DeferredReply, IsSentWhenAnotherThreadCompletesItLater) {
  Parked parked;
  auto server = serve({"127.0.0.1", 0}, deferring(parked));
  ASSERT_TRUE(server.ok()) << server.error().message;
  RawConnection client((*server)->port(), get("/late"));
  ASSERT_TRUE(parked.wait_for(1));
  EXPECT_FALSE(client.read_until("HTTP/1.1", 100)) << "answered before the Reply was completed";
  auto start = Clock::now();
  std::thread answerer([reply = parked.reply(0)] {
    std::this_thread::sleep_for(milliseconds(200));
    EXPECT_TRUE(reply->complete(text(202, "late answer")));
  });
  ASSERT_TRUE(client.read_until("late answer", 5000)) << client.received();
  answerer.join();
  EXPECT_GE(ms_since(start), 200);
  EXPECT_EQ(client.received().rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << client.received();
  EXPECT_EQ(client.received().find("fallback"), std::string::npos);
  EXPECT_FALSE(parked.reply(0)->abandoned());
  EXPECT_FALSE(parked.reply(0)->complete(text(200, "again"))) << "only the first answer counts";
}

TEST(DeferredReply, TwoThousandWaitingRequestsHoldNoThreadOrBusySlot) {
  constexpr size_t kRequests = 2000;
  constexpr size_t kWave = 4;  // requests sent before waiting for them to be parked
  Parked parked;
  ServerOptions options{"127.0.0.1", 0};
  // At most 16 handlers run at once, on at most 16 worker threads: a request that held a thread
  // or a busy slot while it waited would leave the rest answered 503.
  options.max_busy_connections = 16;
  options.max_busy_connections_per_client = 16;
  options.max_idle_connections_per_client = options.max_idle_connections;
  size_t before = thread_count();
  auto server = serve(options, deferring(parked));
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (size_t i = 0; i < kRequests; ++i) {
    std::string path = "/";
    path += std::to_string(i);  // not "/" + ...: GCC 12 warns falsely (-Wrestrict) on that
    clients.push_back(std::make_unique<RawConnection>((*server)->port(), get(path)));
    ASSERT_TRUE(clients.back()->connected()) << "connection " << i;
    if ((i + 1) % kWave == 0 && !parked.wait_for(i + 1)) {
      FAIL() << parked.size() << " parked of " << i + 1 << "; the last client got "
             << clients.back()->received();
    }
  }
  size_t waiting = thread_count();
  std::cout << "threads: " << before << " before the server, " << waiting << " with " << kRequests
            << " requests waiting\n";
  EXPECT_LE(waiting - before, 1u + 16u) << "more than the I/O thread and the workers' bound";
  for (size_t i = 0; i < kRequests; ++i) {
    EXPECT_TRUE(parked.reply(i)->complete(text(200, "answer " + parked.path(i))));
  }
  for (size_t i = 0; i < kRequests; ++i) {
    std::string body = "answer /" + std::to_string(i);
    ASSERT_TRUE(clients[i]->read_until(body, 10000)) << i << ": " << clients[i]->received();
    const std::string& received = clients[i]->received();
    EXPECT_EQ(received.substr(received.size() - body.size()), body) << "another's answer";
  }
}

TEST(DeferredReply, AClientThatLeavesAbandonsItsReplyAndAnAnswerAfterwardsIsHarmless) {
  Parked parked;
  auto server = serve({"127.0.0.1", 0}, deferring(parked));
  ASSERT_TRUE(server.ok());
  RawConnection client((*server)->port(), get("/gone"));
  ASSERT_TRUE(parked.wait_for(1));
  auto reply = parked.reply(0);
  EXPECT_FALSE(reply->abandoned());
  client.close();
  EXPECT_TRUE(eventually([&] { return reply->abandoned(); })) << "the close went unnoticed";
  EXPECT_FALSE(reply->complete(text(200, "too late")));
  auto got = request(base_url(*server), "GET", "/now", "", 3000);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->body, "now");
}

TEST(DeferredReply, AClientThatSendsMoreWhileWaitingIsServedInOrderOrNoticedWhenItLeaves) {
  Parked parked;
  auto server = serve({"127.0.0.1", 0}, deferring(parked));
  ASSERT_TRUE(server.ok());
  RawConnection pipelining((*server)->port(), get("/first"));
  RawConnection leaving((*server)->port(), get("/leaving"));
  ASSERT_TRUE(parked.wait_for(2));
  ASSERT_TRUE(pipelining.send(get("/now")));
  ASSERT_TRUE(leaving.send(get("/now")));
  leaving.close();
  auto leaving_reply = parked.path(0) == "/leaving" ? parked.reply(0) : parked.reply(1);
  auto first_reply = parked.path(0) == "/leaving" ? parked.reply(1) : parked.reply(0);
  EXPECT_TRUE(eventually([&] { return leaving_reply->abandoned(); }));
  EXPECT_FALSE(pipelining.read_until("HTTP/1.1", 50)) << "the next request jumped the queue";
  ASSERT_TRUE(first_reply->complete(text(200, "answer /first")));
  ASSERT_TRUE(pipelining.read_until("\r\n\r\nnow", 5000)) << pipelining.received();
  EXPECT_LT(pipelining.received().find("answer /first"), pipelining.received().find("now"));
}

TEST(DeferredReply, StopClosesWaitingConnectionsAndAnswersAfterItAreHarmless) {
  Parked parked;
  auto server = serve({"127.0.0.1", 0}, deferring(parked));
  ASSERT_TRUE(server.ok());
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawConnection>((*server)->port(), get("/wait")));
  }
  ASSERT_TRUE(parked.wait_for(3));
  auto start = Clock::now();
  (*server)->stop();
  EXPECT_LT(ms_since(start), 2000);
  for (auto& client : clients) {
    EXPECT_TRUE(client->wait_closed(5000));
    EXPECT_EQ(client->received(), "") << "a stopping server answers no deferred request";
  }
  EXPECT_TRUE(parked.reply(0)->abandoned());
  EXPECT_FALSE(parked.reply(0)->complete(text(200, "after stop")));
  server->reset();  // the server and its I/O context are gone
  EXPECT_FALSE(parked.reply(1)->complete(text(200, "after destruction")));
  parked.clear();  // the last copies of unanswered Replies go
}

TEST(DeferredReply, TheDeadlineSendsTheHandlersFallback) {
  Parked parked;
  auto server = serve({"127.0.0.1", 0}, deferring(parked, milliseconds(300)));
  ASSERT_TRUE(server.ok());
  auto start = Clock::now();
  auto got = request(base_url(*server), "GET", "/poll", "", 5000);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "fallback /poll");
  EXPECT_GE(ms_since(start), 300);
  EXPECT_LT(ms_since(start), 3000);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_TRUE(parked.reply(0)->abandoned()) << "its owner learns it may drop it";
  EXPECT_FALSE(parked.reply(0)->complete(text(200, "late")));
}

TEST(DeferredReply, KeepAliveCarriesOnAfterAnAnswerAndAFallback) {
  Parked parked;
  auto server = serve({"127.0.0.1", 0}, deferring(parked, milliseconds(300)));
  ASSERT_TRUE(server.ok());
  RawConnection client((*server)->port(), get("/first"));
  ASSERT_TRUE(parked.wait_for(1));
  ASSERT_TRUE(parked.reply(0)->complete(text(200, "answer /first")));
  ASSERT_TRUE(client.read_until("answer /first", 5000)) << client.received();
  ASSERT_TRUE(client.send(get("/second")));
  ASSERT_TRUE(client.read_until("fallback /second", 5000)) << client.received();
  ASSERT_TRUE(client.send(get("/now")));
  ASSERT_TRUE(client.read_until("\r\n\r\nnow", 5000)) << client.received();
  EXPECT_FALSE(client.closed_now());
  EXPECT_EQ(client.received().find("Connection: close"), std::string::npos);
  EXPECT_EQ(parked.size(), 2u) << "all three requests came on the one connection";
}

TEST(DeferredReply, WaitingRequestsHoldNoBusySlotAndCountAgainstMaxConnections) {
  Parked parked;
  ServerOptions options{"127.0.0.1", 0};
  options.max_connections = 4;
  options.max_busy_connections = 1;
  options.max_busy_connections_per_client = 1;
  auto server = serve(options, deferring(parked));
  ASSERT_TRUE(server.ok());
  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (size_t i = 0; i < 3; ++i) {
    waiting.push_back(std::make_unique<RawConnection>((*server)->port(), get("/wait")));
    ASSERT_TRUE(parked.wait_for(i + 1)) << "refused: " << waiting.back()->received();
  }
  RawConnection plain((*server)->port(),
                      "GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(plain.read_until("\r\n\r\nnow", 5000)) << plain.received();
  EXPECT_TRUE(plain.wait_closed(5000));
  waiting.push_back(std::make_unique<RawConnection>((*server)->port(), get("/wait")));
  ASSERT_TRUE(parked.wait_for(4));
  // Four connections wait: the fifth finds nothing to displace and is closed unanswered.
  RawConnection fifth((*server)->port(), get("/now"));
  EXPECT_TRUE(fifth.wait_closed(5000));
  EXPECT_EQ(fifth.received(), "");
  for (size_t i = 0; i < 4; ++i) EXPECT_FALSE(parked.reply(i)->abandoned()) << i;
}

TEST(DeferredReply, AHookThatAnswersAtOnceDropsItsReplyOrThrowsIsAnsweredAtOnce) {
  auto server = serve({"127.0.0.1", 0}, [](const Request& request) {
    Response response = text(200, "fallback " + request.path);
    response.defer = [path = request.path](std::shared_ptr<Reply> reply) {
      if (path == "/inside") reply->complete(text(201, "answered inside"));
      if (path == "/throws") throw std::runtime_error("no registry");
      // "/dropped" keeps no copy of its Reply, and there is no deadline.
    };
    return response;
  });
  ASSERT_TRUE(server.ok());
  auto inside = request(base_url(*server), "GET", "/inside", "", 3000);
  ASSERT_TRUE(inside.ok()) << inside.error().message;
  EXPECT_EQ(inside->status, 201);
  EXPECT_EQ(inside->body, "answered inside");
  auto dropped = request(base_url(*server), "GET", "/dropped", "", 3000);
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(dropped->body, "fallback /dropped");
  auto threw = request(base_url(*server), "GET", "/throws", "", 3000);
  ASSERT_TRUE(threw.ok()) << threw.error().message;
  EXPECT_EQ(threw->status, 500);
  EXPECT_NE(threw->body.find("no registry"), std::string::npos) << threw->body;
}

}  // namespace berth::http
