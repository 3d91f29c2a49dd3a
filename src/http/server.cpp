// The HTTP server: Boost.Beast, synchronous, one thread per connection. Connections beyond
// max_connections are refused by closing them, so a flood cannot exhaust threads.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "http/http.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
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
    std::unique_lock<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    drained_.wait(lock, [this] { return active_ == 0; });
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
      std::unique_lock<std::mutex> lock(mu_);
      if (active_ >= options_.max_connections) {
        socket.close(ec);
        continue;
      }
      ++active_;
      open_fds_.insert(socket.native_handle());
      lock.unlock();
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
    beast::flat_buffer buffer;
    while (!stopped_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(64 * 1024);
      bhttp::read(socket, buffer, parser, ec);
      if (ec == bhttp::error::body_limit) {
        Response too_big{413, "application/json", {}, R"({"message":"Request body too large"})"};
        write_response(socket, too_big, 11, false);
        break;
      }
      if (ec) break;
      auto& req = parser.get();
      Request request;
      request.method = std::string(req.method_string());
      request.target = std::string(req.target());
      split_target(request.target, &request.path, &request.query);
      for (auto& field : req) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        request.headers[name] = std::string(field.value());
      }
      request.body = std::move(req.body());
      request.remote_address = remote;
      bool keep_alive = req.keep_alive();
      Response response = handler_(request);
      if (!write_response(socket, response, req.version(), keep_alive) || !keep_alive) break;
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(fd);
    --active_;
    drained_.notify_all();
  }

  static bool write_response(tcp::socket& socket, const Response& response, unsigned version,
                             bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
    res.set(bhttp::field::server, "berth");
    res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = response.body;
    res.prepare_payload();
    boost::system::error_code ec;
    bhttp::write(socket, res, ec);
    return !ec;
  }

  ServerOptions options_;
  Handler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread accept_thread_;
  std::atomic<bool> stopped_{false};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable drained_;
  size_t active_ = 0;
  std::set<int> open_fds_;
};

}  // namespace

Result<std::unique_ptr<Server>> serve(const ServerOptions& options, Handler handler) {
  auto server = std::make_unique<BeastServer>(options, std::move(handler));
  Status started = server->start();
  if (!started) return started.error();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace berth::http
