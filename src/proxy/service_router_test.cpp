// ServiceRouter against real sockets on 127.0.0.1. The backends and clients are plain
// blocking POSIX sockets so the tests do not depend on the code under test's I/O library.
#include "proxy/service_router.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::proxy {
namespace {

using namespace std::chrono_literals;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A listening socket on 127.0.0.1 (port 0 = any free port). Returns the fd; *port gets the port.
int listen_on(uint16_t wanted, int backlog, uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address = loopback(wanted);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << errno;
  EXPECT_EQ(::listen(fd, backlog), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

// A port nothing listens on right now (connections to it are refused).
uint16_t free_port() {
  uint16_t port = 0;
  ::close(listen_on(0, 1, &port));
  return port;
}

bool send_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// A backend task: greets each connection with "<name>\n", echoes what it reads, and closes its
// write side when the client closes its own. With answer_after_eof it echoes nothing and
// instead answers "<n> bytes\n" once the client has closed its write side.
class TestBackend {
 public:
  explicit TestBackend(std::string name, bool answer_after_eof = false)
      : name_(std::move(name)), answer_after_eof_(answer_after_eof) {
    listen_fd_ = listen_on(0, 64, &port_);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestBackend() {
    stopping_ = true;
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& thread : connections_) thread.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  Backend backend() const { return Backend{"127.0.0.1", port_}; }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.push_back(fd);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    if (send_all(fd, name_ + "\n")) {
      char buffer[8192];
      size_t received = 0;
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
        received += static_cast<size_t>(n);
        if (!answer_after_eof_ && !send_all(fd, std::string(buffer, static_cast<size_t>(n)))) break;
      }
      if (n == 0 && answer_after_eof_) send_all(fd, std::to_string(received) + " bytes\n");
      ::shutdown(fd, SHUT_WR);
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(open_fds_, fd);
    ::close(fd);
  }

  std::string name_;
  bool answer_after_eof_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> connections_;
};

// A client connection with a receive timeout, so a broken router fails a test instead of
// hanging it.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address = loopback(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool send(const std::string& data) { return send_all(fd_, data); }
  void close_write() { ::shutdown(fd_, SHUT_WR); }

  // Up to and without the next '\n'; "" on EOF or timeout.
  std::string read_line() {
    std::string line;
    char c;
    while (::recv(fd_, &c, 1, 0) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return "";
  }

  std::string read_exactly(size_t size) {
    std::string data(size, '\0');
    size_t got = 0;
    while (got < size) {
      ssize_t n = ::recv(fd_, data.data() + got, size - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    data.resize(got);
    return data;
  }

  std::string read_to_eof() {
    std::string data;
    char buffer[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        eof_ = n == 0;
        return data;
      }
      data.append(buffer, static_cast<size_t>(n));
    }
  }
  bool saw_eof() const { return eof_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
};

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = 3s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

ServiceRouter::Options test_options() {
  ServiceRouter::Options options;
  options.listen_host = "127.0.0.1";
  options.connect_timeout = 300ms;
  options.cooldown = 2s;
  options.hold_when_empty = 3s;
  return options;
}

RoutingTable one_route(uint16_t port, std::vector<Backend> backends, uint64_t version = 1) {
  return RoutingTable{version, {Route{port, "/app", std::move(backends)}}};
}

class ServiceRouterTest : public ::testing::Test {
 protected:
  void start(ServiceRouter::Options options = test_options()) {
    router_ = std::make_unique<ServiceRouter>(std::move(options));
    Status started = router_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }

  void apply_ok(const RoutingTable& table) {
    ApplyReport report = router_->apply(table);
    ASSERT_TRUE(report.status.ok()) << report.status.error().message;
    ASSERT_TRUE(report.listen_failures.empty()) << report.listen_failures[0].message;
  }

  size_t held(uint16_t port) {
    for (const auto& listener : router_->stats().listeners) {
      if (listener.service_port == port) return listener.held_connections;
    }
    return 0;
  }

  std::unique_ptr<ServiceRouter> router_;
};

TEST_F(ServiceRouterTest, ForwardsBytesBothWaysAndPassesTheHalfClose) {
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}));

  Client client(port);
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.read_line(), "a");
  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] {
    client.send(payload);
    client.close_write();  // the backend sees EOF, answers the rest, then closes its side
  });
  std::string echoed = client.read_to_eof();
  writer.join();
  EXPECT_TRUE(client.saw_eof());
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);

  auto stats = router_->stats();
  EXPECT_EQ(stats.forwarded, 1u);
  EXPECT_EQ(stats.bytes_to_backends, payload.size());
  EXPECT_EQ(stats.bytes_to_clients, payload.size() + 2);
  EXPECT_TRUE(wait_until([&] { return router_->stats().active_connections == 0; }));
}

TEST_F(ServiceRouterTest, PassesTheClientsHalfCloseAndStillDeliversTheAnswer) {
  TestBackend a("a", /*answer_after_eof=*/true);
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}));
  Client client(port);
  ASSERT_TRUE(client.send("hello"));
  client.close_write();
  EXPECT_EQ(client.read_to_eof(), "a\n5 bytes\n");
  EXPECT_TRUE(client.saw_eof());
}

TEST_F(ServiceRouterTest, RoundRobinsAcrossTwoBackends) {
  TestBackend a("a"), b("b");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend(), b.backend()}));
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    Client client(port);
    names.push_back(client.read_line());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "a", "b"}));
}

TEST_F(ServiceRouterTest, ReportsEachBackendsFirstForwardOnceWhileItStaysRouted) {
  TestBackend a("a"), b("b");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}));
  EXPECT_TRUE(router_->take_first_forwards().empty());
  for (int i = 0; i < 2; ++i) {
    Client client(port);
    EXPECT_EQ(client.read_line(), "a");
  }
  auto first = router_->take_first_forwards();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].backend, a.backend());
  EXPECT_TRUE(router_->take_first_forwards().empty());
  // A backend that leaves its route and comes back (a task that failed over to the same
  // address) is new again.
  apply_ok(one_route(port, {b.backend()}, 2));
  apply_ok(one_route(port, {a.backend()}, 3));
  Client again(port);
  EXPECT_EQ(again.read_line(), "a");
  auto second = router_->take_first_forwards();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].backend, a.backend());
}

TEST_F(ServiceRouterTest, SkipsADeadBackend) {
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {Backend{"127.0.0.1", free_port()}, a.backend()}));
  for (int i = 0; i < 3; ++i) {
    Client client(port);
    EXPECT_EQ(client.read_line(), "a") << "connection " << i;
  }
  // Refused once, then skipped while it cools down.
  EXPECT_EQ(router_->stats().connect_failures, 1u);
}

TEST_F(ServiceRouterTest, TriesTheNextBackendWhenOneDoesNotAnswer) {
  // A listener whose accept queue is full drops new SYNs: connecting to it hangs.
  uint16_t silent_port = 0;
  int silent = listen_on(0, 0, &silent_port);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(silent_port);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    fillers.push_back(fd);
  }
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {Backend{"127.0.0.1", silent_port}, a.backend()}));
  auto began = std::chrono::steady_clock::now();
  Client client(port);
  EXPECT_EQ(client.read_line(), "a");
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
  EXPECT_EQ(router_->stats().connect_failures, 1u);
  for (int fd : fillers) ::close(fd);
  ::close(silent);
}

TEST_F(ServiceRouterTest, ResolvesABackendGivenByHostName) {
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {Backend{"localhost", a.port()}}));
  Client client(port);
  EXPECT_EQ(client.read_line(), "a");
}

TEST_F(ServiceRouterTest, NewBackendSetTakesNewConnectionsAndOldOnesKeepGoing) {
  TestBackend a("a"), b("b");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}, 1));
  Client first(port);
  EXPECT_EQ(first.read_line(), "a");

  apply_ok(one_route(port, {b.backend()}, 2));
  Client second(port);
  EXPECT_EQ(second.read_line(), "b");
  ASSERT_TRUE(first.send("still here"));
  EXPECT_EQ(first.read_exactly(10), "still here");
  EXPECT_EQ(router_->stats().table_version, 2u);
}

TEST_F(ServiceRouterTest, HoldsAClientUntilABackendAppears) {
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {}));
  Client client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("early"));  // sent before any backend exists; must not be lost
  ASSERT_TRUE(wait_until([&] { return held(port) == 1; }));

  apply_ok(one_route(port, {a.backend()}, 2));
  EXPECT_EQ(client.read_line(), "a");
  EXPECT_EQ(client.read_exactly(5), "early");
}

TEST_F(ServiceRouterTest, HoldsAClientWhoseBackendsAreDeadUntilTheFailoverRoute) {
  TestBackend replacement("replacement");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {Backend{"127.0.0.1", free_port()}}));
  Client client(port);
  ASSERT_TRUE(wait_until([&] { return held(port) == 1; }));

  apply_ok(one_route(port, {replacement.backend()}, 2));
  EXPECT_EQ(client.read_line(), "replacement");
}

TEST_F(ServiceRouterTest, ClosesAHeldClientAfterTheHoldTime) {
  auto options = test_options();
  options.hold_when_empty = 200ms;
  start(options);
  uint16_t port = free_port();
  apply_ok(one_route(port, {}));
  auto began = std::chrono::steady_clock::now();
  Client client(port);
  EXPECT_EQ(client.read_to_eof(), "");
  EXPECT_TRUE(client.saw_eof());
  auto waited = std::chrono::steady_clock::now() - began;
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(router_->stats().held_expired, 1u);
}

TEST_F(ServiceRouterTest, RemovingARouteClosesItsListenerButNotItsConnections) {
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}));
  Client established(port);
  EXPECT_EQ(established.read_line(), "a");

  apply_ok(RoutingTable{2, {}});
  Client refused(port);
  EXPECT_FALSE(refused.connected());
  EXPECT_TRUE(router_->stats().listeners.empty());
  ASSERT_TRUE(established.send("ping"));
  EXPECT_EQ(established.read_exactly(4), "ping");
}

TEST_F(ServiceRouterTest, APortInUseIsReportedAndRetriedOnTheNextApply) {
  TestBackend a("a");
  start();
  uint16_t busy_port = 0;
  int squatter = listen_on(0, 1, &busy_port);
  uint16_t free = free_port();
  RoutingTable table{
      1, {Route{busy_port, "/busy", {a.backend()}}, Route{free, "/free", {a.backend()}}}};

  ApplyReport report = router_->apply(table);
  ASSERT_TRUE(report.status.ok());
  ASSERT_EQ(report.listen_failures.size(), 1u);
  EXPECT_EQ(report.listen_failures[0].service_port, busy_port);
  EXPECT_NE(report.listen_failures[0].message.find(std::to_string(busy_port)), std::string::npos);
  auto stats = router_->stats();
  ASSERT_EQ(stats.listeners.size(), 2u);
  for (const auto& listener : stats.listeners) {
    EXPECT_EQ(listener.listening, listener.service_port == free);
    EXPECT_EQ(listener.error.empty(), listener.service_port == free);
  }
  Client other(free);
  EXPECT_EQ(other.read_line(), "a");  // the rest of the table is served

  ::close(squatter);
  apply_ok(table);
  Client retried(busy_port);
  EXPECT_EQ(retried.read_line(), "a");
}

TEST_F(ServiceRouterTest, AnInvalidTableChangesNothing) {
  TestBackend a("a");
  start();
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}));
  ApplyReport report =
      router_->apply(RoutingTable{2, {Route{port, "/x", {}}, Route{port, "/y", {}}}});
  EXPECT_FALSE(report.status.ok());
  Client client(port);
  EXPECT_EQ(client.read_line(), "a");
  EXPECT_EQ(router_->stats().table_version, 1u);
}

TEST_F(ServiceRouterTest, ClosesConnectionsBeyondTheLimitAtOnce) {
  auto options = test_options();
  options.max_connections_per_listener = 1;
  start(options);
  uint16_t port = free_port();
  apply_ok(one_route(port, {}));
  Client first(port);
  ASSERT_TRUE(wait_until([&] { return held(port) == 1; }));
  Client second(port);
  EXPECT_EQ(second.read_to_eof(), "");
  EXPECT_TRUE(second.saw_eof());
  EXPECT_EQ(router_->stats().refused_over_limit, 1u);

  router_->stop();  // closes the held one too
  EXPECT_EQ(first.read_to_eof(), "");
  EXPECT_TRUE(first.saw_eof());
}

TEST_F(ServiceRouterTest, ServesATableAppliedBeforeStart) {
  TestBackend a("a");
  router_ = std::make_unique<ServiceRouter>(test_options());
  uint16_t port = free_port();
  apply_ok(one_route(port, {a.backend()}));
  ASSERT_TRUE(router_->start().ok());
  Client client(port);
  EXPECT_EQ(client.read_line(), "a");
}

TEST(ServiceRouter, RejectsAListenHostThatIsNotAnAddress) {
  ServiceRouter::Options options;
  options.listen_host = "localhost:80";
  ServiceRouter router(options);
  Status started = router.start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(started.error().message.find("localhost:80"), std::string::npos);
}

}  // namespace
}  // namespace berth::proxy
