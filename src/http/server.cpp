// The TCP server behind serve(): an acceptor on the connection engine's I/O thread. The
// engine (connection_engine.h) reads, deadlines, admits and evicts; see ServerOptions.
#include <sys/resource.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>

#include "http/connection_engine.h"
#include "http/http.h"
#include "http/tls_contexts.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Accepting again after a failure (e.g. EMFILE) waits this long, so it cannot spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

// Every open connection is a file descriptor: the idle set alone may hold a thousand.
void raise_open_file_limit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = limit.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
  });
}

class TcpServer final : public Server {
 public:
  TcpServer(const ServerOptions& options, Handler handler, std::shared_ptr<asio::ssl::context> tls)
      : options_(options),
        engine_(options, std::move(handler), std::move(tls)),
        acceptor_(engine_.io()),
        retry_timer_(engine_.io()) {}

  ~TcpServer() override { stop(); }

  Status start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec)
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid listen address '" + options_.host + "'");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return make_error(ErrorCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                                     std::to_string(options_.port) + ": " +
                                                     ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    accept_next();
    engine_.start();
    return {};
  }

  uint16_t port() const override { return port_; }

  void stop() override {
    if (engine_.stopping()) return;
    engine_.run_on_io([this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      retry_timer_.cancel();
    });
    engine_.stop();
  }

 private:
  void accept_next() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
      if (ec) {
        retry_timer_.expires_after(kAcceptRetryDelay);
        retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) accept_next();
        });
        return;
      }
      engine_.adopt(std::move(socket));
      accept_next();
    });
  }

  const ServerOptions options_;
  internal::ConnectionEngine engine_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> serve(const ServerOptions& options, Handler handler) {
  std::shared_ptr<asio::ssl::context> tls;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "TLS needs both a certificate file and a key file (got certificate '" +
                            options.tls_cert_file + "', key '" + options.tls_key_file + "')");
    }
    auto context = internal::make_server_tls_context(options.tls_cert_file, options.tls_key_file);
    if (!context) return context.error();
    tls = std::move(*context);
  }
  raise_open_file_limit();
  auto server = std::make_unique<TcpServer>(options, std::move(handler), std::move(tls));
  Status started = server->start();
  if (!started) return started.error();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace berth::http
