// The HTTP client: Boost.Beast, synchronous, one connection per request, each step bounded
// by a deadline so a silent peer cannot block the caller forever.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/http.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

bool parse_base_url(const std::string& base_url, std::string* host, std::string* port) {
  std::string rest = base_url;
  const std::string scheme = "http://";
  if (rest.rfind(scheme, 0) == 0) rest = rest.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) return false;
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    *host = rest;
    *port = "80";
  } else {
    *host = rest.substr(0, colon);
    *port = rest.substr(colon + 1);
  }
  return !host->empty() && !port->empty();
}

}  // namespace

Result<ClientResponse> request(const std::string& base_url, const std::string& method,
                               const std::string& target, const std::string& body, int timeout_ms,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               size_t max_response_bytes) {
  std::string host, port;
  if (!parse_base_url(base_url, &host, &port)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid URL '" + base_url + "': expected http://host:port");
  }
  try {
    // Asynchronous operations driven to completion one by one, so that tcp_stream's deadline
    // bounds each step (synchronous asio calls would ignore socket timeouts).
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return make_error(ErrorCode::kUnavailable, "cannot resolve " + host + ": " + ec.message());
    beast::tcp_stream stream(io);
    auto deadline = std::chrono::milliseconds(timeout_ms);
    auto run = [&io] {
      io.restart();
      io.run();
    };
    stream.expires_after(deadline);
    stream.async_connect(endpoints, [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot connect to " + base_url + ": " + ec.message());
    }
    stream.socket().set_option(tcp::no_delay(true), ec);

    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, host + ":" + port);
    req.set(bhttp::field::user_agent, "berth");
    req.set(bhttp::field::accept, "application/json");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.set(bhttp::field::content_type, "application/json");
    }
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.keep_alive(false);
    req.prepare_payload();
    stream.expires_after(deadline);
    bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) { ec = e; });
    run();
    if (ec) return make_error(ErrorCode::kUnavailable, "sending to " + base_url + " failed: " + ec.message());

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response_bytes);
    stream.expires_after(deadline);
    bhttp::async_read(stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e; });
    run();
    if (ec == bhttp::error::body_limit) {
      return make_error(ErrorCode::kUnavailable,
                        "the answer from " + base_url + " for " + method + " " + target +
                            " is larger than " + std::to_string(max_response_bytes) + " bytes");
    }
    if (ec) {
      return make_error(ErrorCode::kUnavailable, "no answer from " + base_url + " for " + method +
                                                     " " + target + ": " + ec.message());
    }
    auto& res = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (auto& field : res) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = std::move(res.body());
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, std::string("HTTP request failed: ") + e.what());
  }
}

}  // namespace berth::http
