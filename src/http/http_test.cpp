#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/http.h"

namespace berth::http {
namespace {

// A raw loopback connection that sends one request, so a test sees the bytes of a streamed
// answer as they arrive (the client in client.cpp reads whole responses).
class RawConnection {
 public:
  RawConnection(uint16_t port, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                 ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  }
  ~RawConnection() { close(); }
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads until everything received so far contains `text` or `timeout_ms` passes.
  bool read_until(const std::string& text, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (received_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      received_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

}  // namespace

TEST(Url, SplitsAndDecodesPathAndQuery) {
  std::string path;
  std::multimap<std::string, std::string> query;
  split_target("/v2/apps/prod%2Fweb?embed=apps.tasks&embed=apps.counts&force=true&x=a%20b", &path, &query);
  EXPECT_EQ(path, "/v2/apps/prod/web");
  EXPECT_EQ(query.count("embed"), 2u);
  EXPECT_EQ(query.find("force")->second, "true");
  EXPECT_EQ(query.find("x")->second, "a b");
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
      if (!cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return sent < released; })) return true;
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
  EXPECT_TRUE(*ended) << "the producer was still called " << calls << " times after the client left";
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

}  // namespace berth::http
