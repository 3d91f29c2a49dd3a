// Internal to src/http: the part of the TCP (server.cpp) and unix-socket (unix_server.cpp)
// servers that serves accepted connections. One I/O thread reads requests for every
// connection asynchronously, under deadlines, and keeps the idle ones in a ConnectionBook; a
// request that has arrived in full runs its handler on a WorkerPool thread, and one whose
// answer is deferred (Response::defer) waits for it on the I/O thread alone. The servers own
// their acceptors, which run on io() and hand each new connection to adopt().
// Only Asio's socket headers here; Beast and OpenSSL stay in engine_session.h, which only
// connection_engine.cpp includes.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "http/http.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace berth::http::internal {

struct EngineCore;

class ConnectionEngine {
 public:
  // Uses the limits and deadlines of `options` (not host, port or the TLS file names).
  // `tls`: null = plain HTTP; else every TCP connection must open with a TLS handshake.
  ConnectionEngine(const ServerOptions& options, Handler handler,
                   std::shared_ptr<boost::asio::ssl::context> tls);
  ~ConnectionEngine();
  ConnectionEngine(const ConnectionEngine&) = delete;
  ConnectionEngine& operator=(const ConnectionEngine&) = delete;

  boost::asio::io_context& io();
  void start();  // starts the I/O thread

  // On the I/O thread: takes over a connection just accepted. It is admitted (closing the
  // oldest idle connection of its client, or overall, when the idle set is full) or closed.
  void adopt(boost::asio::ip::tcp::socket socket);
  void adopt(boost::asio::local::stream_protocol::socket socket, const std::string& remote);

  // Runs `work` on the I/O thread and waits for it (e.g. closing an acceptor). Not from the
  // I/O thread itself.
  void run_on_io(const std::function<void()>& work);

  // Closes every connection, waits for running handlers to return, stops and joins the I/O
  // thread and the workers. Idempotent; not from the I/O thread or a handler.
  void stop();
  bool stopping() const;

 private:
  std::unique_ptr<EngineCore> core_;
  std::thread io_thread_;
};

}  // namespace berth::http::internal
