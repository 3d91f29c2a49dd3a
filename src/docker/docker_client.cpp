// DockerClient over Boost.Beast: one unix-socket connection per call, asynchronous operations
// driven one by one on a private io_context so that a single deadline bounds the whole call
// (synchronous asio calls would ignore it). The JSON and log formats live in docker_wire.cpp.
#include "docker/docker_client.h"

#include <sys/un.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>

#include "docker/docker_wire.h"
#include "http/http.h"

namespace berth::docker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using unix_stream = asio::local::stream_protocol;
using SteadyClock = std::chrono::steady_clock;

// Every call but wait and follow: generous next to create (~25 ms) and start (~0.7 s), but a
// daemon that hangs cannot hold a caller forever.
constexpr std::chrono::milliseconds kCallTimeout = std::chrono::seconds(30);
// Bounds what one answer may make us hold in memory (the logs of a chatty container included).
constexpr size_t kMaxBodyBytes = kMaxAnswerBytes;
constexpr size_t kMaxHeaderBytes = 64 << 10;

struct Reply {
  int status = 0;
  std::string api_version;  // the Api-Version header
  std::string body;
};

// One connection to the Docker socket. Each step runs until it completes or the call's
// deadline passes; then the socket is closed, which ends the step with an error.
class Connection {
 public:
  Connection(const std::string& socket_path, std::chrono::milliseconds timeout)
      : socket_path_(socket_path),
        socket_(io_),
        timeout_(timeout),
        deadline_(SteadyClock::now() + timeout) {}

  // false when the deadline passed first; `*ec` is the step's own result otherwise.
  template <typename Start>
  bool run(Start&& start, boost::system::error_code* ec) {
    bool done = false;
    start([ec, &done](boost::system::error_code e, auto&&...) {
      *ec = e;
      done = true;
    });
    io_.restart();
    io_.run_until(deadline_);
    if (done) return true;
    timed_out_ = true;
    close();
    io_.restart();
    io_.run();
    return false;
  }

  // Whether some step ran out of time.
  bool timed_out() const { return timed_out_; }

  Status open(const std::string& op) {
    if (socket_path_.empty() || socket_path_.size() >= sizeof(sockaddr_un::sun_path)) {
      return make_error(ErrorCode::kInvalidArgument,
                        op + ": the Docker socket path '" + socket_path_ + "' must be 1 to " +
                            std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes long");
    }
    boost::system::error_code ec;
    bool in_time = run(
        [&](auto handler) {
          socket_.async_connect(unix_stream::endpoint(socket_path_), std::move(handler));
        },
        &ec);
    if (!in_time || ec) {
      return make_error(ErrorCode::kUnavailable,
                        op + ": Docker does not answer on " + socket_path_ + " (" +
                            (in_time ? ec.message() : std::string("connect timed out")) +
                            "); is dockerd running, and may this process use its socket?");
    }
    return {};
  }

  Status send(const std::string& op, const std::string& method, const std::string& target,
              const std::string& body) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    // Docker's Go server rejects HTTP/1.1 without a Host; the docker CLI sends a dummy one too.
    req.set(bhttp::field::host, "docker");
    req.set(bhttp::field::user_agent, "berth");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.keep_alive(false);
    req.body() = body;
    req.prepare_payload();
    boost::system::error_code ec;
    bool in_time =
        run([&](auto handler) { bhttp::async_write(socket_, req, std::move(handler)); }, &ec);
    if (!in_time || ec) return failure(op, in_time, ec, "sending the request");
    return {};
  }

  // Reads a whole answer (headers and body).
  Result<Reply> receive(const std::string& op) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    boost::system::error_code ec;
    bool in_time =
        run([&](auto handler) { bhttp::async_read(socket_, buffer_, parser, std::move(handler)); },
            &ec);
    if (!in_time || ec) return failure(op, in_time, ec, "reading the answer");
    auto& res = parser.get();
    Reply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.api_version = std::string(res["Api-Version"]);
    reply.body = std::move(res.body());
    return reply;
  }

  // What went wrong in a step, for the user.
  Error failure(const std::string& op, bool in_time, const boost::system::error_code& ec,
                const std::string& step) const {
    if (!in_time) {
      return make_error(ErrorCode::kUnavailable,
                        op + ": Docker on " + socket_path_ + " did not answer within " +
                            std::to_string(timeout_.count()) + " ms (" + step + ")");
    }
    if (ec == bhttp::error::body_limit) {
      return make_error(ErrorCode::kInternal, op + ": Docker's answer is larger than the " +
                                                  std::to_string(kMaxBodyBytes >> 20) +
                                                  " MiB this client accepts");
    }
    return make_error(ErrorCode::kUnavailable,
                      op + ": " + step + " on " + socket_path_ + " failed: " + ec.message());
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  unix_stream::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  std::string socket_path_;
  asio::io_context io_;
  unix_stream::socket socket_;
  beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
  SteadyClock::time_point deadline_;
  bool timed_out_ = false;
};

Error docker_error(const std::string& op, const Reply& reply) {
  return make_error(error_code_for_status(reply.status),
                    op + ": " + docker_error_message(reply.status, reply.body));
}

Status require_id(const std::string& op, const std::string& id) {
  if (id.empty()) return make_error(ErrorCode::kInvalidArgument, op + ": empty container id");
  return {};
}

}  // namespace

DockerClient::DockerClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

std::string DockerClient::api_version() const {
  return prefix_.size() > 2 ? prefix_.substr(2) : std::string();
}

namespace {

// One request and its whole answer; `*timed_out` (when given) tells a call that ran out of
// time from one that could not reach Docker. Third-party exceptions (allocation, asio) end here.
Result<Reply> call(const std::string& socket_path, const std::string& op, const std::string& method,
                   const std::string& target, const std::string& body,
                   std::chrono::milliseconds timeout, bool* timed_out = nullptr) {
  try {
    Connection connection(socket_path, timeout);
    Result<Reply> reply = [&]() -> Result<Reply> {
      if (Status opened = connection.open(op); !opened) return opened.error();
      if (Status sent = connection.send(op, method, target, body); !sent) return sent.error();
      return connection.receive(op);
    }();
    if (timed_out) *timed_out = connection.timed_out();
    return reply;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, op + ": " + e.what());
  }
}

}  // namespace

Status DockerClient::connect() {
  const std::string op = "docker ping";
  auto reply = call(socket_path_, op, "GET", "/_ping", "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) {
    return make_error(ErrorCode::kUnavailable,
                      op + ": Docker on " + socket_path_ +
                          " is not ready: " + docker_error_message(reply->status, reply->body));
  }
  std::optional<std::string> version = negotiate_api_version(reply->api_version);
  if (!version) {
    return make_error(ErrorCode::kInternal, op + ": Docker on " + socket_path_ +
                                                " sent no usable Api-Version header (got '" +
                                                reply->api_version + "')");
  }
  prefix_ = "/v" + *version;
  return {};
}

Result<std::string> DockerClient::create_container(const std::string& name,
                                                   const std::string& body_json) {
  const std::string op = "docker create";
  std::string target = prefix_ + "/containers/create";
  if (!name.empty()) target += "?name=" + http::percent_encode(name);
  auto reply = call(socket_path_, op, "POST", target, body_json, kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 201 && reply->status != 200) return docker_error(op, *reply);
  return parse_create_answer(reply->body);
}

Status DockerClient::start_container(const std::string& id) {
  const std::string op = "docker start";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply =
      call(socket_path_, op, "POST", prefix_ + "/containers/" + http::percent_encode(id) + "/start",
           "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 204 || reply->status == 304) return {};
  Error error = docker_error(op, *reply);
  // A start the runtime refuses comes back as 400 (command not found) or 500 (a mount failed);
  // both are a failed start to our callers, not a bad request of ours.
  if (error.code == ErrorCode::kInvalidArgument) error.code = ErrorCode::kInternal;
  return error;
}

Status DockerClient::kill_container(const std::string& id, const std::string& signal) {
  const std::string op = "docker kill";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply = call(socket_path_, op, "POST",
                    prefix_ + "/containers/" + http::percent_encode(id) +
                        "/kill?signal=" + http::percent_encode(signal),
                    "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 204) return {};
  return docker_error(op, *reply);
}

Status DockerClient::remove_container(const std::string& id) {
  const std::string op = "docker rm";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply =
      call(socket_path_, op, "DELETE",
           prefix_ + "/containers/" + http::percent_encode(id) + "?force=1", "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 204) return {};
  return docker_error(op, *reply);
}

Result<ContainerState> DockerClient::inspect_container(const std::string& id) {
  const std::string op = "docker inspect";
  if (Status ok = require_id(op, id); !ok) return ok.error();
  auto reply =
      call(socket_path_, op, "GET", prefix_ + "/containers/" + http::percent_encode(id) + "/json",
           "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  return parse_inspect_answer(reply->body);
}

Result<std::vector<ContainerState>> DockerClient::list_containers(const std::string& label_filter) {
  const std::string op = "docker ps";
  auto reply =
      call(socket_path_, op, "GET",
           prefix_ + "/containers/json?" + list_containers_query(label_filter), "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  return parse_list_answer(reply->body);
}

Result<WaitResult> DockerClient::wait_container(const std::string& id,
                                                std::chrono::milliseconds timeout) {
  const std::string op = "docker wait";
  if (Status ok = require_id(op, id); !ok) return ok.error();
  bool timed_out = false;
  auto reply =
      call(socket_path_, op, "POST",
           prefix_ + "/containers/" + http::percent_encode(id) + "/wait?condition=not-running", "",
           timeout, &timed_out);
  if (!reply && timed_out) {
    return make_error(ErrorCode::kUnavailable, op + ": container " + id + " did not stop within " +
                                                   std::to_string(timeout.count()) + " ms");
  }
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  return parse_wait_answer(reply->body);
}

Status DockerClient::logs(const std::string& id, std::string* out, std::string* err) {
  const std::string op = "docker logs";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply = call(socket_path_, op, "GET",
                    prefix_ + "/containers/" + http::percent_encode(id) + "/logs?stdout=1&stderr=1",
                    "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  if (out) out->clear();
  if (err) err->clear();
  demux_logs(reply->body, out, err);
  return {};
}

Status DockerClient::follow_logs(const std::string& id,
                                 const std::function<bool(int, const std::string&)>& chunk,
                                 std::chrono::milliseconds timeout) {
  const std::string op = "docker logs --follow";
  if (Status ok = require_id(op, id); !ok) return ok;
  try {
    Connection connection(socket_path_, timeout);
    if (Status opened = connection.open(op); !opened) return opened;
    std::string target =
        prefix_ + "/containers/" + http::percent_encode(id) + "/logs?stdout=1&stderr=1&follow=1";
    if (Status sent = connection.send(op, "GET", target, ""); !sent) return sent;

    // A buffer_body parser with async_read_some hands over the body as it arrives (async_read
    // would wait until the piece buffer is full); Beast undoes the chunked transfer encoding.
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(boost::none);
    boost::system::error_code ec;
    bool in_time = connection.run(
        [&](auto handler) {
          bhttp::async_read_header(connection.socket(), connection.buffer(), parser,
                                   std::move(handler));
        },
        &ec);
    // Docker 20.10 sends no headers until the container writes something, so a silent
    // container and the end of the caller's time look alike here: both end the follow.
    if (!in_time) return {};
    if (ec) return connection.failure(op, in_time, ec, "reading the answer");
    const int status = static_cast<int>(parser.get().result_int());

    std::array<char, 16 << 10> piece;
    std::string error_body;  // only for a failed call, bounded by kMaxBodyBytes
    LogDemuxer demuxer;
    bool stopped = false;
    LogDemuxer::Sink sink = [&](int stream, std::string_view data) {
      stopped = !chunk(stream, std::string(data));
      return !stopped;
    };
    while (!parser.is_done() && !stopped) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      in_time = connection.run(
          [&](auto handler) {
            bhttp::async_read_some(connection.socket(), connection.buffer(), parser,
                                   std::move(handler));
          },
          &ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      size_t received = piece.size() - parser.get().body().size;
      if (status != 200) {
        error_body.append(piece.data(), std::min(received, kMaxBodyBytes - error_body.size()));
      } else if (received > 0) {
        demuxer.feed(std::string_view(piece.data(), received), sink);
      }
      // Following ends when the caller's time is up: what arrived until then is the result.
      if (!in_time) {
        if (status == 200) return {};
        return connection.failure(op, in_time, ec, "reading the answer");
      }
      if (ec) return connection.failure(op, in_time, ec, "reading the log stream");
    }
    connection.close();
    if (status != 200) return docker_error(op, Reply{status, "", error_body});
    return {};
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, op + ": " + e.what());
  }
}

Result<bool> DockerClient::image_exists(const std::string& image) {
  const std::string op = "docker image inspect";
  if (image.empty()) return make_error(ErrorCode::kInvalidArgument, op + ": empty image name");
  // Docker routes /images/{name:.*}/json on the decoded path, so "berth/busybox" may be encoded
  // whole.
  auto reply = call(socket_path_, op, "GET",
                    prefix_ + "/images/" + http::percent_encode(image) + "/json", "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 200) return true;
  if (reply->status == 404) return false;
  return docker_error(op, *reply);
}

}  // namespace berth::docker
