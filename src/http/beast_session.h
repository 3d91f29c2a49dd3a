// Internal to src/http: the per-connection HTTP/1.1 loop shared by the TCP server
// (server.cpp) and the unix-socket server (unix_server.cpp). It includes Boost.Beast, so
// nothing outside src/http may include it.
#pragma once

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <string>

#include "http/http.h"

namespace berth::http::internal {

template <typename Stream>
bool write_response(Stream& stream, const Response& response, unsigned version, bool keep_alive) {
  namespace bhttp = boost::beast::http;
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
  res.set(bhttp::field::server, "berth");
  res.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = response.body;
  res.prepare_payload();
  boost::system::error_code ec;
  bhttp::write(stream, res, ec);
  return !ec;
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
    if (!write_response(stream, response, req.version(), keep_alive) || !keep_alive) return;
  }
}

}  // namespace berth::http::internal
