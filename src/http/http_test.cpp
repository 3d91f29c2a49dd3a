#include "http/http.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "http/raw_connection_test_support.h"

namespace berth::http {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string base_url(const std::unique_ptr<Server>& server) {
  return "http://127.0.0.1:" + std::to_string(server->port());
}

Response echo_path(const Request& request) {
  Response response;
  response.body = request.path;
  return response;
}

}  // namespace

TEST(Url, SplitsAndDecodesPathAndQuery) {
  std::string path;
  std::multimap<std::string, std::string> query;
  split_target("/v2/apps/prod%2Fweb?embed=apps.tasks&embed=apps.counts&force=true&x=a%20b", &path,
               &query);
  EXPECT_EQ(path, "/v2/apps/prod/web");
  EXPECT_EQ(query.count("embed"), 2u);
  EXPECT_EQ(query.find("force")->second, "true");
  EXPECT_EQ(query.find("x")->second, "a b");
}

TEST(Url, ReadsQueryBooleansInAnyCase) {
  Request request;
  split_target("/v2/apps/x?force=True&scale=FALSE&a=1&b=0&c&d=maybe", &request.path,
               &request.query);
  EXPECT_TRUE(request.query_flag("force", false));
  EXPECT_FALSE(request.query_flag("scale", true));
  EXPECT_TRUE(request.query_flag("a", false));
  EXPECT_FALSE(request.query_flag("b", true));
  EXPECT_TRUE(request.query_flag("c", false));
  EXPECT_TRUE(request.query_flag("d", true));
  EXPECT_FALSE(request.query_flag("d", false));
  EXPECT_FALSE(request.query_flag("absent", false));
}

TEST(Url, EncodesWhatItDecodes) {
  EXPECT_EQ(percent_decode(percent_encode("/a b?c&d=e")), "/a b?c&d=e");
}

TEST(Server, AnswersRequestsOverKeepAliveAndClientReadsThem) {
  auto server = serve({"127.0.0.1", 0}, [](const Request& r) {
    Response res;
    res.status = r.method == "POST" ? 201 : 200;
    res.headers.push_back({"X-Echo", r.query_value("v")});
    res.body = r.body.empty() ? r.path : r.body;
    return res;
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto got = request(base, "GET", "/hello?v=42");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "/hello");
  EXPECT_EQ(got->headers["x-echo"], "42");
  auto posted = request(base, "POST", "/x", "{\"a\":1}");
  ASSERT_TRUE(posted.ok());
  EXPECT_EQ(posted->status, 201);
  EXPECT_EQ(posted->body, "{\"a\":1}");
}

TEST(Client, ReportsUnreachablePeerAsUnavailable) {
  auto got = request("http://127.0.0.1:1", "GET", "/", "", 500);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
}

TEST(Client, TimesOutOnASilentPeer) {
  std::atomic<bool> release{false};
  auto server = serve({"127.0.0.1", 0}, [&](const Request&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Response{};
  });
  ASSERT_TRUE(server.ok());
  auto got = request("http://127.0.0.1:" + std::to_string((*server)->port()), "GET", "/", "", 200);
  release = true;
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
}

TEST(Server, RejectsOversizedBodiesWith413) {
  ServerOptions options{"127.0.0.1", 0};
  options.max_body_bytes = 100;
  auto server = serve(options, [](const Request&) { return Response{}; });
  ASSERT_TRUE(server.ok());
  auto got = request("http://127.0.0.1:" + std::to_string((*server)->port()), "POST", "/",
                     std::string(1000, 'x'));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->status, 413);
}

TEST(Server, StreamsChunksAsTheProducerHandsThemOver) {
  std::mutex mu;
  std::condition_variable cv;
  int released = 1;  // chunks the producer may send so far
  int sent = 0;
  auto server = serve({"127.0.0.1", 0}, [&](const Request&) {
    Response res;
    res.content_type = "text/event-stream";
    res.body = "ignored";
    res.stream = [&](std::string* chunk) {
      std::unique_lock<std::mutex> lock(mu);
      if (sent == 3) return false;
      if (!cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return sent < released; }))
        return true;
      *chunk = "chunk-" + std::to_string(++sent) + "\n";
      return true;
    };
    return res;
  });
  ASSERT_TRUE(server.ok());
  RawConnection client((*server)->port(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.read_until("chunk-1\n", 5000)) << client.received();
  EXPECT_NE(client.received().find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(client.received().find("text/event-stream"), std::string::npos);
  EXPECT_NE(client.received().find("Connection: close"), std::string::npos);
  EXPECT_EQ(client.received().find("Content-Length"), std::string::npos);
  EXPECT_EQ(client.received().find("chunk-2"), std::string::npos) << "sent before it was produced";
  for (int i = 2; i <= 3; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      released = i;
    }
    cv.notify_all();
    ASSERT_TRUE(client.read_until("chunk-" + std::to_string(i) + "\n", 5000)) << client.received();
  }
  // The producer said it was done: the server closes the connection.
  EXPECT_FALSE(client.read_until("more", 5000));
  EXPECT_EQ(client.received().find("ignored"), std::string::npos);
}

TEST(Server, AStreamProducerLearnsThatTheClientWentAway) {
  auto ended = std::make_shared<std::atomic<bool>>(false);
  std::atomic<int> calls{0};
  struct Guard {
    explicit Guard(std::shared_ptr<std::atomic<bool>> flag) : ended(std::move(flag)) {}
    ~Guard() { *ended = true; }
    std::shared_ptr<std::atomic<bool>> ended;
  };
  auto server = serve({"127.0.0.1", 0}, [&](const Request&) {
    Response res;
    auto guard = std::make_shared<Guard>(ended);
    res.stream = [guard, &calls](std::string* chunk) {
      // Idle like an event stream with nothing to say: the server must notice the close
      // without a write failing.
      if (calls++ == 0) *chunk = "hello\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return true;
    };
    return res;
  });
  ASSERT_TRUE(server.ok());
  RawConnection client((*server)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_until("hello\n", 5000)) << client.received();
  EXPECT_FALSE(*ended);
  client.close();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!*ended && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(*ended) << "the producer was still called " << calls
                      << " times after the client left";
}

TEST(Server, StopEndsAnOpenStream) {
  auto server = serve({"127.0.0.1", 0}, [](const Request&) {
    Response res;
    res.stream = [](std::string* chunk) {
      *chunk = ":\n\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return true;
    };
    return res;
  });
  ASSERT_TRUE(server.ok());
  RawConnection client((*server)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_until(":\n\n", 5000));
  (*server)->stop();  // returns only once the streaming connection's thread let go
  SUCCEED();
}

// --- connection handling under floods and slow clients ----------------------------------

TEST(Server, AnswersAFreshClientWithinASecondWhileFiveThousandIdleSocketsAreOpen) {
  auto server = serve({"127.0.0.1", 0}, echo_path);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 5000; ++i) {
    idle.push_back(std::make_unique<RawConnection>((*server)->port()));
    ASSERT_TRUE(idle.back()->connected()) << "socket " << i;
  }
  auto start = Clock::now();
  auto got = request(base_url(*server), "GET", "/heartbeat", "", 5000);
  int64_t took = ms_since(start);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->body, "/heartbeat");
  EXPECT_LT(took, 2000);
  std::cout << "fresh client answered in " << took << " ms with 5000 idle sockets open\n";
  // The flood only churned its own sockets: its oldest were closed to make room.
  EXPECT_TRUE(idle.front()->wait_closed(2000));
  EXPECT_FALSE(idle.back()->closed_now());
}

TEST(Server, AnswersFreshClientsWhileAFloodKeepsOpeningSockets) {
  auto server = serve({"127.0.0.1", 0}, echo_path);
  ASSERT_TRUE(server.ok());
  std::atomic<bool> done{false};
  std::atomic<int> opened{0};
  std::thread flood([&] {
    std::deque<std::unique_ptr<RawConnection>> held;
    while (!done) {
      held.push_back(std::make_unique<RawConnection>((*server)->port()));
      ++opened;
      if (held.size() > 5000) held.pop_front();
    }
  });
  while (opened < 2000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int64_t slowest = 0;
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    auto got = request(base_url(*server), "GET", "/heartbeat", "", 5000);
    slowest = std::max(slowest, ms_since(start));
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(got->status, 200);
  }
  done = true;
  flood.join();
  EXPECT_LT(slowest, 2000);
  std::cout << "slowest of 20 requests during a flood of " << opened << " connections: " << slowest
            << " ms\n";
}

TEST(Server, AFloodFromOneAddressLeavesIdleSocketsOfOtherAddressesOpen) {
  auto server = serve({"127.0.0.1", 0}, echo_path);
  ASSERT_TRUE(server.ok());
  std::vector<std::unique_ptr<RawConnection>> other;
  for (int i = 0; i < 5; ++i) {
    other.push_back(std::make_unique<RawConnection>((*server)->port(), "", "127.0.0.2"));
    ASSERT_TRUE(other.back()->connected());
  }
  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 2000; ++i)
    flood.push_back(std::make_unique<RawConnection>((*server)->port()));
  EXPECT_TRUE(flood.front()->wait_closed(2000));
  for (auto& connection : other) EXPECT_FALSE(connection->closed_now());
  // And they still work.
  ASSERT_TRUE(other.front()->send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(other.front()->read_until("/other", 2000)) << other.front()->received();
}

TEST(Server, ClosesAFreshSocketThatSendsNothing) {
  ServerOptions options{"127.0.0.1", 0};
  options.new_connection_timeout = std::chrono::milliseconds(300);
  auto server = serve(options, echo_path);
  ASSERT_TRUE(server.ok());
  auto start = Clock::now();
  RawConnection silent((*server)->port());
  ASSERT_TRUE(silent.wait_closed(5000));
  EXPECT_GE(ms_since(start), 250);
  EXPECT_EQ(silent.received(), "");
}

TEST(Server, AnswersAHalfSentHeaderWith408AtTheHeaderDeadline) {
  ServerOptions options{"127.0.0.1", 0};
  options.header_timeout = std::chrono::milliseconds(500);
  auto server = serve(options, echo_path);
  ASSERT_TRUE(server.ok());
  auto start = Clock::now();
  RawConnection half((*server)->port(), "GET /x HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(half.wait_closed(5000));
  int64_t took = ms_since(start);
  EXPECT_GE(took, 450);
  EXPECT_LT(took, 2000);
  EXPECT_NE(half.received().find("HTTP/1.1 408"), std::string::npos) << half.received();
  std::cout << "half-sent header closed after " << took << " ms (deadline 500 ms)\n";
}

TEST(Server, CutsOffASlowlorisAtTheHeaderDeadline) {
  ServerOptions options{"127.0.0.1", 0};
  options.header_timeout = std::chrono::milliseconds(1000);
  auto server = serve(options, echo_path);
  ASSERT_TRUE(server.ok());
  RawConnection slow((*server)->port());
  std::string header = "GET / HTTP/1.1\r\nX-Slow: " + std::string(1000, 'a');
  auto start = Clock::now();
  bool cut_off = false;
  for (size_t i = 0; i < header.size() && ms_since(start) < 5000; ++i) {
    if (!slow.send(header.substr(i, 1)) || slow.wait_closed(200)) {
      cut_off = true;
      break;
    }
  }
  int64_t took = ms_since(start);
  ASSERT_TRUE(cut_off) << "a byte every 200 ms kept the connection for " << took << " ms";
  EXPECT_GE(took, 900);
  EXPECT_LT(took, 2000);
  std::cout << "slowloris (a byte every 200 ms) cut off after " << took
            << " ms (deadline 1000 ms)\n";
}

TEST(Server, AnswersABodyThatDoesNotArriveWith408) {
  ServerOptions options{"127.0.0.1", 0};
  options.body_timeout = std::chrono::milliseconds(300);
  auto server = serve(options, echo_path);
  ASSERT_TRUE(server.ok());
  RawConnection partial((*server)->port(),
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  ASSERT_TRUE(partial.wait_closed(5000));
  EXPECT_NE(partial.received().find("HTTP/1.1 408"), std::string::npos) << partial.received();
  EXPECT_NE(partial.received().find("body"), std::string::npos) << partial.received();
}

TEST(Server, ServesSeveralRequestsOnOneKeepAliveConnectionThenClosesItWhenIdle) {
  ServerOptions options{"127.0.0.1", 0};
  options.keep_alive_timeout = std::chrono::milliseconds(300);
  auto server = serve(options, echo_path);
  ASSERT_TRUE(server.ok());
  RawConnection connection((*server)->port(), "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(connection.read_until("/one", 2000)) << connection.received();
  EXPECT_EQ(connection.received().find("Connection: close"), std::string::npos);
  ASSERT_TRUE(connection.send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(connection.read_until("/two", 2000)) << connection.received();
  // Pipelined: both requests in one write.
  ASSERT_TRUE(connection.send(
      "GET /three HTTP/1.1\r\nHost: x\r\n\r\nGET /four HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(connection.read_until("/four", 2000)) << connection.received();
  EXPECT_NE(connection.received().find("/three"), std::string::npos);
  auto idle_since = Clock::now();
  ASSERT_TRUE(connection.wait_closed(5000));
  EXPECT_GE(ms_since(idle_since), 250);
}

TEST(Server, AnswersCurlsExpectContinueRightAway) {
  auto server = serve({"127.0.0.1", 0}, [](const Request& r) {
    return Response{200, "text/plain", {}, r.body};
  });
  ASSERT_TRUE(server.ok());
  RawConnection connection(
      (*server)->port(),
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(connection.read_until("HTTP/1.1 100 Continue\r\n\r\n", 2000))
      << connection.received();
  ASSERT_TRUE(connection.send("hello"));
  EXPECT_TRUE(connection.read_until("\r\n\r\nhello", 2000)) << connection.received();
}

// A handler that blocks on /block until released, and counts who is inside.
class BlockingHandler {
 public:
  Response operator()(const Request& request) {
    if (request.path != "/block") return echo_path(request);
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return released_; });
    --inside_;
    return echo_path(request);
  }
  bool wait_inside(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return inside_ >= count; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int inside_ = 0;
  bool released_ = false;
};

TEST(Server, AnswersWith503AtOnceWhenEveryWorkerIsBusy) {
  ServerOptions options{"127.0.0.1", 0};
  options.max_busy_connections = 2;
  BlockingHandler handler;
  auto server = serve(options, [&](const Request& r) { return handler(r); });
  ASSERT_TRUE(server.ok());
  std::string base = base_url(*server);
  std::vector<std::thread> blocked;
  std::atomic<int> answered{0};
  for (int i = 0; i < 2; ++i) {
    blocked.emplace_back([&] {
      auto got = request(base, "GET", "/block", "", 10000);
      if (got.ok() && got->status == 200) ++answered;
    });
  }
  ASSERT_TRUE(handler.wait_inside(2));
  auto start = Clock::now();
  auto refused = request(base, "GET", "/now", "", 5000);
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("busy"), std::string::npos);
  EXPECT_LT(ms_since(start), 1000);
  handler.release();
  for (auto& thread : blocked) thread.join();
  EXPECT_EQ(answered, 2);
  auto after = request(base, "GET", "/after");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

TEST(Server, OneAddressAtItsBusyLimitLeavesOthersServed) {
  ServerOptions options{"127.0.0.1", 0};
  options.max_busy_connections_per_client = 1;
  BlockingHandler handler;
  auto server = serve(options, [&](const Request& r) { return handler(r); });
  ASSERT_TRUE(server.ok());
  RawConnection busy((*server)->port(), "GET /block HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2");
  ASSERT_TRUE(handler.wait_inside(1));
  RawConnection refused((*server)->port(), "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2");
  EXPECT_TRUE(refused.read_until("HTTP/1.1 503", 2000)) << refused.received();
  auto other = request(base_url(*server), "GET", "/other", "", 2000);
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->status, 200);
  handler.release();
  EXPECT_TRUE(busy.read_until("/block", 2000));
}

TEST(Server, RunsHandlersOnItsFixedThreadsAndTheReservedOnesOnTheirOwn) {
  ServerOptions options{"127.0.0.1", 0};
  options.worker_threads = 1;
  options.reserved_worker_threads = 1;
  options.reserved = [](const Request& request) { return request.path == "/agent"; };
  BlockingHandler handler;
  auto server = serve(options, [&](const Request& r) { return handler(r); });
  ASSERT_TRUE(server.ok());
  RawConnection blocking((*server)->port(), "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(handler.wait_inside(1));
  // The one ordinary thread is taken: the next ordinary request waits for it...
  RawConnection waiting((*server)->port(), "GET /waits HTTP/1.1\r\nHost: x\r\n\r\n");
  // ...while a reserved one runs on its own thread.
  auto agent = request(base_url(*server), "GET", "/agent", "", 5000);
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  EXPECT_EQ(agent->body, "/agent");
  EXPECT_FALSE(waiting.read_until("/waits", 300)) << "ran past the pool's one thread";
  handler.release();
  EXPECT_TRUE(blocking.read_until("/block", 5000));
  EXPECT_TRUE(waiting.read_until("/waits", 5000)) << waiting.received();
}

TEST(Server, RunsUrgentRequestsOnThreadsOfTheirOwnAndStampsTheirArrival) {
  ServerOptions options{"127.0.0.1", 0};
  options.worker_threads = 1;
  options.reserved_worker_threads = 1;
  options.urgent_worker_threads = 1;
  options.reserved = [](const Request& r) { return r.path != "/api"; };
  options.urgent = [](const Request& r) { return r.path == "/beat"; };
  BlockingHandler handler;
  auto server = serve(options, [&](const Request& r) {
    if (r.path != "/beat") return handler(r);
    const auto now = std::chrono::steady_clock::now();
    Response res;
    res.body = r.received != std::chrono::steady_clock::time_point{} && r.received <= now
                   ? "stamped"
                   : "not stamped";
    return res;
  });
  ASSERT_TRUE(server.ok());
  // The reserved pool's one thread is taken: the next reserved request waits for it...
  RawConnection blocking((*server)->port(), "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(handler.wait_inside(1));
  RawConnection waiting((*server)->port(), "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  // ...while an urgent one runs on its own thread, and an ordinary one on the ordinary thread.
  auto beat = request(base_url(*server), "GET", "/beat", "", 5000);
  ASSERT_TRUE(beat.ok()) << beat.error().message;
  EXPECT_EQ(beat->body, "stamped");
  auto api = request(base_url(*server), "GET", "/api", "", 5000);
  ASSERT_TRUE(api.ok()) << api.error().message;
  EXPECT_EQ(api->body, "/api");
  EXPECT_FALSE(waiting.read_until("/status", 300)) << "ran past the reserved pool's one thread";
  handler.release();
  EXPECT_TRUE(blocking.read_until("/block", 5000));
  EXPECT_TRUE(waiting.read_until("/status", 5000)) << waiting.received();
}

TEST(Server, AHandlerWaitingOnAnOutboundCallLeavesItsThreadToOthers) {
  BlockingHandler slow_peer;
  auto peer = serve({"127.0.0.1", 0}, [&](const Request& r) { return slow_peer(r); });
  ASSERT_TRUE(peer.ok());
  const std::string peer_url = base_url(*peer);
  ServerOptions options{"127.0.0.1", 0};
  options.worker_threads = 1;
  auto server = serve(options, [&](const Request& r) {
    if (r.path != "/proxy") return echo_path(r);
    auto got = request(peer_url, "GET", "/block", "", 10000);
    Response res;
    res.body = got.ok() ? "proxied " + got->body : got.error().message;
    return res;
  });
  ASSERT_TRUE(server.ok());
  RawConnection proxied((*server)->port(), "GET /proxy HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(slow_peer.wait_inside(1));
  // The one thread waits on the peer: the next request runs all the same.
  auto plain = request(base_url(*server), "GET", "/plain", "", 5000);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->body, "/plain");
  slow_peer.release();
  EXPECT_TRUE(proxied.read_until("proxied /block", 5000)) << proxied.received();
}

TEST(Server, StreamsHoldNoThreadBetweenTheirPiecesAndWakeTheirProducer) {
  // Producers that have something only after the test's go: 60 streams on a server of 2
  // worker threads. A stream that held a thread would leave the others and the plain request
  // unserved.
  std::mutex mu;
  std::vector<std::function<void()>> wakes;
  std::atomic<bool> go{false};
  ServerOptions options{"127.0.0.1", 0};
  options.worker_threads = 2;
  auto server = serve(options, [&](const Request& r) {
    if (r.path != "/stream") return echo_path(r);
    Response res;
    res.content_type = "text/event-stream";
    res.stream = [&go, sent = false](std::string* chunk) mutable {
      if (go && !sent) {
        *chunk = "event: go\n\n";
        sent = true;
      }
      return true;
    };
    res.notify = [&](std::function<void()> wake) {
      std::lock_guard<std::mutex> lock(mu);
      wakes.push_back(std::move(wake));
    };
    return res;
  });
  ASSERT_TRUE(server.ok());
  std::vector<std::unique_ptr<RawConnection>> streams;
  for (int i = 0; i < 60; ++i) {
    streams.push_back(std::make_unique<RawConnection>((*server)->port(),
                                                      "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(streams.back()->read_until("\r\n\r\n", 5000)) << "stream " << i;
  }
  auto plain = request(base_url(*server), "GET", "/plain", "", 5000);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->body, "/plain");
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(wakes.size(), 60u);
  }
  // A wake brings the event at once; without it the producer would be asked again only after
  // a second of silence.
  go = true;
  auto woken = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& wake : wakes) wake();
  }
  for (auto& stream : streams) {
    ASSERT_TRUE(stream->read_until("event: go\n\n", 5000)) << stream->received();
  }
  int64_t took = ms_since(woken);
  EXPECT_LT(took, 900) << "the events came with the idle poll, not the wake";
  streams.clear();
  (*server)->stop();
  // A wake after the stream and the server ended does nothing.
  std::lock_guard<std::mutex> lock(mu);
  for (auto& wake : wakes) wake();
}

TEST(Server, AWakeWhileTheProducerRunsIsNotLost) {
  // The first call wakes its own stream and says nothing: the second must follow at once.
  std::function<void()> wake;
  std::atomic<int> calls{0};
  Clock::time_point first_call;
  auto server = serve({"127.0.0.1", 0}, [&](const Request&) {
    Response res;
    res.notify = [&](std::function<void()> w) { wake = std::move(w); };
    res.stream = [&](std::string* chunk) {
      int call = ++calls;
      if (call == 1) {
        first_call = Clock::now();
        wake();
      } else if (call == 2) {
        *chunk = "second after " + std::to_string(ms_since(first_call)) + " ms\n";
      }
      return true;
    };
    return res;
  });
  ASSERT_TRUE(server.ok());
  RawConnection client((*server)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.read_until(" ms\n", 5000)) << client.received();
  auto at = client.received().find("second after ");
  ASSERT_NE(at, std::string::npos) << client.received();
  int waited = std::stoi(client.received().substr(at + 13));
  EXPECT_LT(waited, 900) << "asked again only by the idle poll: the wake was lost";
}

TEST(Server, StopsPromptlyWithIdleAndHalfSentConnectionsOpen) {
  auto server = serve({"127.0.0.1", 0}, echo_path);
  ASSERT_TRUE(server.ok());
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 100; ++i) open.push_back(std::make_unique<RawConnection>((*server)->port()));
  RawConnection half((*server)->port(), "GET / HTTP/1.1\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the server take them in
  auto start = Clock::now();
  (*server)->stop();
  EXPECT_LT(ms_since(start), 2000);
  EXPECT_TRUE(half.wait_closed(1000));
}

TEST(UnixServer, AnswersAHalfSentHeaderWith408AtTheHeaderDeadline) {
  std::string path = "/tmp/berth-http-test-" + std::to_string(::getpid()) + ".sock";
  auto server = serve_unix(path, echo_path, 1 << 20, std::chrono::milliseconds(300));
  ASSERT_TRUE(server.ok()) << server.error().message;
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  RawConnection connection(fd);
  ASSERT_TRUE(connection.send("GET /whole HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(connection.read_until("/whole", 2000)) << connection.received();
  ASSERT_TRUE(connection.send("GET /half HTTP/1.1\r\n"));
  auto start = Clock::now();
  ASSERT_TRUE(connection.wait_closed(5000));
  EXPECT_GE(ms_since(start), 250);
  EXPECT_NE(connection.received().find("HTTP/1.1 408"), std::string::npos) << connection.received();
}

}  // namespace berth::http
