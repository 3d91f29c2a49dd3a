// The HTTP server: Boost.Beast, synchronous, one thread per connection. Connections beyond
// max_connections are refused by closing them, so a flood cannot exhaust threads.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "http/beast_session.h"
#include "http/connection_slots.h"
#include "http/http.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class BeastServer final : public Server {
 public:
  BeastServer(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)), acceptor_(io_) {}

  ~BeastServer() override { stop(); }

  Status start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return make_error(ErrorCode::kInvalidArgument, "invalid listen address '" + options_.host + "'");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return make_error(ErrorCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                                     std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
    return {};
  }

  uint16_t port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    boost::system::error_code ec;
    // shutdown() wakes the blocking accept() on Linux; close() alone may not.
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    acceptor_.close(ec);
    slots_.shut_down_all_and_wait();
  }

 private:
  void accept_loop() {
    while (!stopped_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) {
        if (stopped_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (!slots_.admit(socket.native_handle())) {
        socket.close(ec);
        continue;
      }
      std::thread([this, s = std::move(socket)]() mutable { session(std::move(s)); }).detach();
    }
  }

  void session(tcp::socket socket) {
    int fd = socket.native_handle();
    std::string remote;
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    socket.set_option(tcp::no_delay(true), ec);
    internal::serve_connection(socket, handler_, options_.max_body_bytes, stopped_, remote);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    slots_.release(fd);
  }

  ServerOptions options_;
  Handler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread accept_thread_;
  std::atomic<bool> stopped_{false};
  uint16_t port_ = 0;
  internal::ConnectionSlots slots_{options_.max_connections};
};

}  // namespace

Result<std::unique_ptr<Server>> serve(const ServerOptions& options, Handler handler) {
  auto server = std::make_unique<BeastServer>(options, std::move(handler));
  Status started = server->start();
  if (!started) return started.error();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace berth::http
