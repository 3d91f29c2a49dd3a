// Internal to src/http: the per-connection HTTP/1.1 loop shared by the TCP server
// (server.cpp) and the unix-socket server (unix_server.cpp). It includes Boost.Beast, so
// nothing outside src/http may include it.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <string>

#include "http/http.h"

namespace berth::http::internal {

// A Beast response with the status and headers of `response`.
template <typename Body>
boost::beast::http::response<Body> response_head(const Response& response, unsigned version) {
  namespace bhttp = boost::beast::http;
  bhttp::response<Body> res{static_cast<bhttp::status>(response.status), version};
  res.set(bhttp::field::server, "berth");
  res.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) res.set(name, value);
  return res;
}

template <typename Stream>
bool write_response(Stream& stream, const Response& response, unsigned version, bool keep_alive) {
  namespace bhttp = boost::beast::http;
  auto res = response_head<bhttp::string_body>(response, version);
  res.keep_alive(keep_alive);
  res.body() = response.body;
  res.prepare_payload();
  boost::system::error_code ec;
  bhttp::write(stream, res, ec);
  return !ec;
}

// True when the peer of `fd` has closed or reset the connection. A peer that sent bytes (a
// pipelined request) is still there; the bytes are left unread.
inline bool peer_gone(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

// Writes all of `data` to `fd`, waiting for the peer to take it in steps of at most a second
// so a stop is noticed. False when the write fails, the server stops, or the peer takes no
// byte for kStreamStallLimitMs. Plain send(): Asio's blocking write would wait forever on a
// peer that stopped reading.
inline bool send_all(int fd, const std::string& data, const std::atomic<bool>& stopped) {
  size_t sent = 0;
  auto progress = std::chrono::steady_clock::now();
  while (sent < data.size()) {
    if (stopped) return false;
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      progress = std::chrono::steady_clock::now();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    if (std::chrono::steady_clock::now() - progress > std::chrono::milliseconds(kStreamStallLimitMs)) {
      return false;
    }
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 1000);
  }
  return true;
}

// Sends a streamed response (Response::stream): headers without a length, then every chunk
// the producer hands over, until it says it is done, the peer goes away or `stopped`.
template <typename Stream>
void write_stream(Stream& stream, const Response& response, unsigned version,
                  const std::atomic<bool>& stopped) {
  namespace bhttp = boost::beast::http;
  auto res = response_head<bhttp::empty_body>(response, version);
  res.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> serializer{res};
  boost::system::error_code ec;
  bhttp::write_header(stream, serializer, ec);
  if (ec) return;
  const int fd = stream.native_handle();
  std::string chunk;
  while (!stopped) {
    chunk.clear();
    if (!response.stream(&chunk)) return;
    if (chunk.empty()) {
      if (peer_gone(fd)) return;
      continue;
    }
    if (!send_all(fd, chunk, stopped)) return;
  }
}

// Reads requests from `stream` and answers each with `handler` until the peer closes, asks
// to close, sends something unparsable, or `stopped` becomes true. A body over
// `max_body_bytes` gets 413 and ends the connection. The caller closes the stream.
template <typename Stream>
void serve_connection(Stream& stream, const Handler& handler, size_t max_body_bytes,
                      const std::atomic<bool>& stopped, const std::string& remote) {
  namespace bhttp = boost::beast::http;
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;
  while (!stopped) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(max_body_bytes);
    parser.header_limit(64 * 1024);
    bhttp::read(stream, buffer, parser, ec);
    if (ec == bhttp::error::body_limit) {
      Response too_big{413, "application/json", {}, R"({"message":"Request body too large"})"};
      write_response(stream, too_big, 11, false);
      return;
    }
    if (ec) return;
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
    Response response = handler(request);
    if (response.stream) {
      write_stream(stream, response, req.version(), stopped);
      return;
    }
    if (!write_response(stream, response, req.version(), keep_alive) || !keep_alive) return;
  }
}

}  // namespace berth::http::internal
