// The HTTP client: Boost.Beast, synchronous, one connection per request, each step bounded
// by a deadline so a silent peer cannot block the caller forever. https:// URLs go through
// OpenSSL with the process's client context (tls_contexts.h); unix_request() and unix_stream()
// speak the same exchange over a unix socket under one deadline for the whole call.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iterator>
#include <optional>
#include <vector>

#include "http/http.h"
#include "http/tls_contexts.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

struct BaseUrl {
  bool tls = false;
  std::string host;  // as written, e.g. "[::1]", for the Host header
  std::string port;
  std::string address() const {  // for the resolver and certificate checks
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      return host.substr(1, host.size() - 2);
    return host;
  }
};

bool parse_base_url(const std::string& base_url, BaseUrl* url) {
  std::string rest = base_url;
  if (rest.rfind("https://", 0) == 0) {
    url->tls = true;
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) return false;
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || (rest.front() == '[' && rest.back() == ']')) {
    url->host = rest;
    url->port = url->tls ? "443" : "80";
  } else {
    url->host = rest.substr(0, colon);
    url->port = rest.substr(colon + 1);
  }
  return !url->host.empty() && !url->port.empty();
}

// Asks OpenSSL to check, during the handshake, that the certificate names `address`: an IP
// address SAN for an IP, else a DNS name (also sent as SNI).
bool expect_peer_name(SSL* ssl_handle, const std::string& address) {
  boost::system::error_code ec;
  asio::ip::make_address(address, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), address.c_str()) == 1;
  SSL_set_hostflags(ssl_handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl_handle, address.c_str()) == 1 &&
         SSL_set_tlsext_host_name(ssl_handle, address.c_str()) == 1;
}

Error handshake_error(SSL* ssl_handle, const std::string& base_url,
                      const boost::system::error_code& ec) {
  long verify = SSL_get_verify_result(ssl_handle);
  if (verify != X509_V_OK) {
    return make_error(ErrorCode::kUnavailable,
                      "TLS certificate verification failed for " + base_url + ": " +
                          X509_verify_cert_error_string(verify) +
                          "; give berth the CA certificate that signed the server's certificate "
                          "(--ca-cert)");
  }
  std::string hint;
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_WRONG_VERSION_NUMBER) {
    hint = " (does the server speak plain HTTP? then use http://)";
  }
  return make_error(ErrorCode::kUnavailable,
                    "TLS handshake with " + base_url + " failed: " + ec.message() + hint);
}

// When each step of an exchange must end: `per_step` after the step starts (the TCP client),
// or at `at`, one deadline for the whole call (the unix-socket client).
struct Deadline {
  std::chrono::milliseconds per_step{0};
  std::optional<std::chrono::steady_clock::time_point> at;

  template <class Stream>
  void arm(Stream& stream) const {
    if (at) {
      beast::get_lowest_layer(stream).expires_at(*at);
    } else {
      beast::get_lowest_layer(stream).expires_after(per_step);
    }
  }
};

// How an exchange went: the answer, or the step that failed and why.
struct Exchanged {
  enum class Failed { kNothing, kSend, kReceive };
  Failed failed = Failed::kNothing;
  boost::system::error_code ec;
  ClientResponse response;
};

template <class Fields>
void copy_headers(const Fields& fields, ClientResponse* out) {
  for (auto& field : fields) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out->headers[name] = std::string(field.value());
  }
}

// Sends `req` on a connected `stream` and reads the answer, each step within `deadline`.
// `max_header_bytes` 0 keeps Beast's default.
template <class Stream>
Exchanged exchange(Stream& stream, asio::io_context& io, bhttp::request<bhttp::string_body>& req,
                   const Deadline& deadline, size_t max_response_bytes,
                   size_t max_header_bytes = 0) {
  auto run = [&io] {
    io.restart();
    io.run();
  };
  Exchanged out;
  boost::system::error_code& ec = out.ec;
  deadline.arm(stream);
  bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) { ec = e; });
  run();
  if (ec) {
    out.failed = Exchanged::Failed::kSend;
    return out;
  }

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  if (max_header_bytes > 0) parser.header_limit(static_cast<uint32_t>(max_header_bytes));
  parser.body_limit(max_response_bytes);
  deadline.arm(stream);
  bhttp::async_read(stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e; });
  run();
  if (ec == ssl::error::stream_truncated && parser.is_header_done() && !parser.is_done()) {
    // A peer that ends a close-delimited body without TLS's close_notify: take the end.
    ec = {};
    parser.put_eof(ec);
  }
  if (ec) {
    out.failed = Exchanged::Failed::kReceive;
    return out;
  }
  auto& res = parser.get();
  out.response.status = static_cast<int>(res.result_int());
  copy_headers(res, &out.response);
  out.response.body = std::move(res.body());
  return out;
}

// An exchange over TCP, as request() reports it.
Result<ClientResponse> exchange_result(Exchanged&& exchanged, size_t max_response_bytes,
                                       const std::string& base_url, const std::string& method,
                                       const std::string& target) {
  const auto& ec = exchanged.ec;
  if (exchanged.failed == Exchanged::Failed::kSend)
    return make_error(ErrorCode::kUnavailable,
                      "sending to " + base_url + " failed: " + ec.message());
  if (ec == bhttp::error::body_limit) {
    return make_error(ErrorCode::kUnavailable, "the answer from " + base_url + " for " + method +
                                                   " " + target + " is larger than " +
                                                   std::to_string(max_response_bytes) + " bytes");
  }
  if (ec) {
    return make_error(ErrorCode::kUnavailable, "no answer from " + base_url + " for " + method +
                                                   " " + target + ": " + ec.message());
  }
  return std::move(exchanged.response);
}

}  // namespace

namespace {

// Connects to `base_url` (TLS for https://), then runs `talk(stream, io)` on the connected
// stream (a beast::tcp_stream or an ssl::stream over one) and shuts the connection down.
template <class Talk>
Result<ClientResponse> over_connection(const std::string& base_url,
                                       std::chrono::milliseconds deadline, Talk&& talk) {
  BaseUrl url;
  if (!parse_base_url(base_url, &url)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "invalid URL '" + base_url + "': expected http://host:port or https://host:port");
  }
  std::shared_ptr<ssl::context> tls;
  if (url.tls) {
    auto context = internal::client_tls_context();
    if (!context) return context.error();
    tls = std::move(*context);
  }
  try {
    // Asynchronous operations driven to completion one by one, so that tcp_stream's deadline
    // bounds each step (synchronous asio calls would ignore socket timeouts).
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(url.address(), url.port, ec);
    if (ec)
      return make_error(ErrorCode::kUnavailable,
                        "cannot resolve " + url.host + ": " + ec.message());
    beast::tcp_stream stream(io);
    stream.expires_after(deadline);
    stream.async_connect(endpoints,
                         [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
    io.run();
    if (ec) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot connect to " + base_url + ": " + ec.message());
    }
    stream.socket().set_option(tcp::no_delay(true), ec);
    if (!url.tls) {
      auto result = talk(stream, io, url);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return result;
    }
    ssl::stream<beast::tcp_stream> tls_stream(std::move(stream), *tls);
    if (!expect_peer_name(tls_stream.native_handle(), url.address())) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot check TLS peer name '" + url.host + "'");
    }
    beast::get_lowest_layer(tls_stream).expires_after(deadline);
    tls_stream.async_handshake(ssl::stream_base::client,
                               [&](boost::system::error_code e) { ec = e; });
    io.restart();
    io.run();
    if (ec) return handshake_error(tls_stream.native_handle(), base_url, ec);
    auto result = talk(tls_stream, io, url);
    beast::get_lowest_layer(tls_stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    return result;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, std::string("HTTP request failed: ") + e.what());
  }
}

bhttp::request<bhttp::string_body> make_request(
    const BaseUrl& url, const std::string& method, const std::string& target,
    const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, url.host + ":" + url.port);
  req.set(bhttp::field::user_agent, "berth");
  req.set(bhttp::field::accept, "application/json");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.set(bhttp::field::content_type, "application/json");
  }
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

void run_io(asio::io_context& io) {
  io.restart();
  io.run();
}

}  // namespace

Result<ClientResponse> request(const std::string& base_url, const std::string& method,
                               const std::string& target, const std::string& body, int timeout_ms,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               size_t max_response_bytes) {
  WaitingScope outbound;  // a handler waiting here lets another thread run
  auto deadline = std::chrono::milliseconds(timeout_ms);
  return over_connection(
      base_url, deadline, [&](auto& stream, asio::io_context& io, const BaseUrl& url) {
        auto req = make_request(url, method, target, body, headers);
        return exchange_result(
            exchange(stream, io, req, Deadline{deadline, std::nullopt}, max_response_bytes),
            max_response_bytes, base_url, method, target);
      });
}

namespace {

// Sends `req` on a connected stream and reads the answer's header into `parser`, whose body the
// caller then reads piece by piece; the status and headers, or why there are none. Each step
// has `deadline`.
template <class Stream, class Request>
Result<ClientResponse> send_and_read_header(Stream& stream, asio::io_context& io, Request& req,
                                            beast::flat_buffer& buffer,
                                            bhttp::response_parser<bhttp::buffer_body>& parser,
                                            std::chrono::milliseconds deadline,
                                            const std::string& base_url,
                                            const std::string& target) {
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).expires_after(deadline);
  bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) { ec = e; });
  run_io(io);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "sending to " + base_url + " failed: " + ec.message());
  }
  parser.body_limit(boost::none);
  beast::get_lowest_layer(stream).expires_after(deadline);
  bhttp::async_read_header(stream, buffer, parser,
                           [&](boost::system::error_code e, size_t) { ec = e; });
  run_io(io);
  if (ec) {
    return make_error(ErrorCode::kUnavailable,
                      "no answer from " + base_url + " for GET " + target + ": " + ec.message());
  }
  ClientResponse head;
  head.status = static_cast<int>(parser.get().result_int());
  copy_headers(parser.get(), &head);
  return head;
}

}  // namespace

Result<ClientResponse> stream_get(const std::string& base_url, const std::string& target,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::function<bool(std::string_view)>& on_data,
                                  int connect_timeout_ms) {
  WaitingScope outbound;  // a handler waiting here lets another thread run
  auto deadline = std::chrono::milliseconds(connect_timeout_ms);
  return over_connection(
      base_url, deadline,
      [&](auto& stream, asio::io_context& io, const BaseUrl& url) -> Result<ClientResponse> {
        auto req = make_request(url, "GET", target, "", headers);
        req.set(bhttp::field::accept, "text/event-stream");
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::buffer_body> parser;
        Result<ClientResponse> head =
            send_and_read_header(stream, io, req, buffer, parser, deadline, base_url, target);
        if (!head) return head.error();
        ClientResponse out = std::move(*head);
        boost::system::error_code ec;
        constexpr size_t kMaxErrorBody = 1 << 20;
        char chunk[16384];
        // Once streaming, the stream is open-ended: no deadline, it ends when the server ends it.
        beast::get_lowest_layer(stream).expires_never();
        while (!parser.is_done()) {
          parser.get().body().data = chunk;
          parser.get().body().size = sizeof chunk;
          bhttp::async_read_some(stream, buffer, parser,
                                 [&](boost::system::error_code e, size_t) { ec = e; });
          run_io(io);
          if (ec == bhttp::error::need_buffer) ec = {};
          if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
              ec == ssl::error::stream_truncated)
            break;
          if (ec)
            return make_error(ErrorCode::kUnavailable,
                              "the stream from " + base_url + " broke: " + ec.message());
          std::string_view got(chunk, sizeof chunk - parser.get().body().size);
          if (out.status != 200) {
            out.body.append(
                got.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, out.body.size())));
          } else if (!got.empty() && !on_data(got)) {
            break;
          }
        }
        return out;
      });
}

namespace {

// download()'s BodyReader over a connected `Stream` whose answer header has been read.
template <class Stream>
class StreamBodyReader final : public BodyReader {
 public:
  // The most one read() hands over, and what the connection's buffer should hold: Beast reads
  // from the socket only as much as that buffer has room for.
  static constexpr size_t kPieceBytes = 256 << 10;

  StreamBodyReader(Stream& stream, asio::io_context& io, beast::flat_buffer& buffer,
                   bhttp::response_parser<bhttp::buffer_body>& parser, std::string base_url,
                   std::chrono::milliseconds stall)
      : stream_(stream),
        io_(io),
        buffer_(buffer),
        parser_(parser),
        base_url_(std::move(base_url)),
        stall_(stall),
        piece_(kPieceBytes),
        header_fields_(static_cast<size_t>(
            std::distance(parser.get().base().begin(), parser.get().base().end()))) {}

  Result<std::string_view> read() override {
    while (!parser_.is_done()) {
      parser_.get().body().data = piece_.data();
      parser_.get().body().size = piece_.size();
      boost::system::error_code ec;
      beast::get_lowest_layer(stream_).expires_after(stall_);
      bhttp::async_read_some(stream_, buffer_, parser_,
                             [&](boost::system::error_code e, size_t) { ec = e; });
      run_io(io_);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return broken(ec);
      size_t got = piece_.size() - parser_.get().body().size;
      if (got > 0) return std::string_view(piece_.data(), got);
    }
    if (!trailer_read_) {
      // Trailer fields join the header's in the parser, after them.
      trailer_read_ = true;
      auto it = parser_.get().base().begin();
      std::advance(it, header_fields_);
      for (; it != parser_.get().base().end(); ++it) {
        std::string name(it->name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        trailer_[name] = std::string(it->value());
      }
    }
    return std::string_view();
  }

  const std::map<std::string, std::string>& trailer() const override { return trailer_; }

 private:
  Error broken(const boost::system::error_code& ec) const {
    if (ec == beast::error::timeout) {
      return make_error(ErrorCode::kUnavailable, "the answer from " + base_url_ +
                                                     " stalled: no byte for " +
                                                     std::to_string(stall_.count()) + " ms");
    }
    if (ec == bhttp::error::partial_message || ec == asio::error::eof ||
        ec == ssl::error::stream_truncated || ec == bhttp::error::end_of_stream) {
      return make_error(ErrorCode::kUnavailable, "the answer from " + base_url_ +
                                                     " ended before its end: the sender " +
                                                     "closed the connection part way");
    }
    return make_error(ErrorCode::kUnavailable,
                      "the answer from " + base_url_ + " broke: " + ec.message());
  }

  Stream& stream_;
  asio::io_context& io_;
  beast::flat_buffer& buffer_;
  bhttp::response_parser<bhttp::buffer_body>& parser_;
  const std::string base_url_;
  const std::chrono::milliseconds stall_;
  std::vector<char> piece_;
  const size_t header_fields_;
  bool trailer_read_ = false;
  std::map<std::string, std::string> trailer_;
};

}  // namespace

Result<ClientResponse> download(
    const std::string& base_url, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::function<Status(const ClientResponse& head, BodyReader& body)>& consume,
    const DownloadOptions& options) {
  WaitingScope outbound;  // a handler waiting here lets another thread run
  auto deadline = std::chrono::milliseconds(options.header_timeout_ms);
  return over_connection(
      base_url, deadline,
      [&](auto& stream, asio::io_context& io, const BaseUrl& url) -> Result<ClientResponse> {
        auto req = make_request(url, "GET", target, "", headers);
        using Reader = StreamBodyReader<std::remove_reference_t<decltype(stream)>>;
        beast::flat_buffer buffer;
        buffer.reserve(Reader::kPieceBytes);
        bhttp::response_parser<bhttp::buffer_body> parser;
        Result<ClientResponse> answered =
            send_and_read_header(stream, io, req, buffer, parser, deadline, base_url, target);
        if (!answered) return answered.error();
        ClientResponse head = std::move(*answered);
        Reader body(stream, io, buffer, parser, base_url,
                    std::chrono::milliseconds(options.stall_timeout_ms));
        if (head.status == 200) {
          if (Status s = consume(head, body); !s) return s.error();
          return head;
        }
        constexpr size_t kMaxErrorBody = 1 << 20;
        while (head.body.size() < kMaxErrorBody) {
          Result<std::string_view> piece = body.read();
          if (!piece || piece->empty()) break;
          head.body.append(piece->substr(0, kMaxErrorBody - head.body.size()));
        }
        return head;
      });
}

namespace {

using unix_socket_stream = beast::basic_stream<asio::local::stream_protocol>;

UnixFailure unix_failure(UnixFailure::Step step, const boost::system::error_code& ec) {
  UnixFailure failure;
  failure.step = step;
  if (ec == beast::error::timeout) {
    failure.kind = UnixFailure::Kind::kTimedOut;
  } else if (ec == bhttp::error::body_limit) {
    failure.kind = UnixFailure::Kind::kTooLarge;
  }
  failure.reason = ec.message();
  return failure;
}

bhttp::request<bhttp::string_body> make_unix_request(const UnixRequest& request) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(request.method), request.target, 11};
  req.set(bhttp::field::host, request.host);
  req.set(bhttp::field::user_agent, "berth");
  if (!request.body.empty()) req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(false);
  req.body() = request.body;
  req.prepare_payload();
  return req;
}

// Connects to `socket_path` by `deadline`, then runs `talk(stream, io)` and closes the socket.
// Third-party exceptions (allocation, asio) end here.
template <class Talk>
UnixAnswer over_unix_connection(const std::string& socket_path, const Deadline& deadline,
                                Talk&& talk) {
  UnixAnswer answer;
  try {
    asio::io_context io;
    unix_socket_stream stream(io);
    boost::system::error_code ec;
    deadline.arm(stream);
    stream.async_connect(asio::local::stream_protocol::endpoint(socket_path),
                         [&](boost::system::error_code e) { ec = e; });
    io.run();
    if (ec) {
      answer.failure = unix_failure(UnixFailure::Step::kConnect, ec);
      return answer;
    }
    talk(stream, io, &answer);
    stream.close();
  } catch (const std::exception& e) {
    answer.failure =
        UnixFailure{UnixFailure::Step::kConnect, UnixFailure::Kind::kException, e.what()};
  }
  return answer;
}

}  // namespace

UnixAnswer unix_request(const std::string& socket_path, const UnixRequest& request) {
  WaitingScope outbound;  // a handler waiting here lets another thread run
  Deadline deadline{request.timeout, std::chrono::steady_clock::now() + request.timeout};
  return over_unix_connection(
      socket_path, deadline,
      [&](unix_socket_stream& stream, asio::io_context& io, UnixAnswer* out) {
        auto req = make_unix_request(request);
        Exchanged exchanged = exchange(stream, io, req, deadline, request.max_response_bytes,
                                       request.max_header_bytes);
        if (exchanged.failed == Exchanged::Failed::kNothing) {
          out->response = std::move(exchanged.response);
        } else {
          out->failure = unix_failure(exchanged.failed == Exchanged::Failed::kSend
                                          ? UnixFailure::Step::kSend
                                          : UnixFailure::Step::kReceive,
                                      exchanged.ec);
        }
      });
}

UnixAnswer unix_stream(const std::string& socket_path, const UnixRequest& request,
                       const std::function<bool(std::string_view)>& on_data) {
  WaitingScope outbound;  // a handler waiting here lets another thread run
  Deadline deadline{request.timeout, std::chrono::steady_clock::now() + request.timeout};
  return over_unix_connection(
      socket_path, deadline,
      [&](unix_socket_stream& stream, asio::io_context& io, UnixAnswer* out) {
        auto req = make_unix_request(request);
        boost::system::error_code ec;
        deadline.arm(stream);
        bhttp::async_write(stream, req, [&](boost::system::error_code e, size_t) { ec = e; });
        run_io(io);
        if (ec) {
          out->failure = unix_failure(UnixFailure::Step::kSend, ec);
          return;
        }
        // A buffer_body parser with async_read_some hands over the body as it arrives
        // (async_read would wait until the piece buffer is full).
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.header_limit(static_cast<uint32_t>(request.max_header_bytes));
        parser.body_limit(boost::none);
        deadline.arm(stream);
        bhttp::async_read_header(stream, buffer, parser,
                                 [&](boost::system::error_code e, size_t) { ec = e; });
        run_io(io);
        if (ec) {
          out->failure = unix_failure(UnixFailure::Step::kReceive, ec);
          return;
        }
        out->response.status = static_cast<int>(parser.get().result_int());
        copy_headers(parser.get(), &out->response);
        const bool ok = out->response.status == 200;
        const size_t max_error_body = request.max_response_bytes;
        char piece[16 << 10];
        bool stopped = false;
        while (!parser.is_done() && !stopped) {
          parser.get().body().data = piece;
          parser.get().body().size = sizeof piece;
          deadline.arm(stream);
          bhttp::async_read_some(stream, buffer, parser,
                                 [&](boost::system::error_code e, size_t) { ec = e; });
          run_io(io);
          if (ec == bhttp::error::need_buffer) ec = {};
          std::string_view got(piece, sizeof piece - parser.get().body().size);
          if (!ok) {
            std::string& body = out->response.body;
            body.append(got.substr(0, max_error_body - std::min(max_error_body, body.size())));
          } else if (!got.empty()) {
            stopped = !on_data(got);
          }
          if (ec) {
            out->failure = unix_failure(UnixFailure::Step::kStream, ec);
            return;
          }
        }
      });
}

}  // namespace berth::http
