// The connection engine (connection_engine.h). Each connection is a Session: an asynchronous
// state machine on the one I/O thread that waits for a request, reads it under deadlines,
// hands it to a worker thread and writes the answer. Its steps, with the limit on each:
//   wait for the first byte   new_connection_timeout (keep_alive_timeout between requests)
//   TLS handshake and header  header_timeout from the first byte
//   body                      body_timeout from the end of the header
//   handler                   none (handlers may block; the worker thread is the cost)
//   deferred answer           the handler's defer_timeout (no thread: watched on the I/O thread)
//   answer                    kStreamStallLimitMs without progress
// Until its request is complete a connection is idle in the ConnectionBook and may be
// closed to make room for a new one. Sockets are closed only on the I/O thread; a worker
// thread touches its connection's socket only to poll it while the I/O thread leaves it be.
#include "http/connection_engine.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "http/connection_book.h"
#include "http/deferred_reply.h"
#include "http/engine_parts.h"
#include "http/worker_pool.h"

namespace berth::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;
using boost::system::error_code;
using std::chrono::milliseconds;

namespace {

constexpr size_t kHeaderLimitBytes = 64 * 1024;
constexpr size_t kTlsReadBytes = 4096;      // one read of a keep-alive TLS connection
constexpr size_t kDrainBytes = 4096;        // one read while lingering before a close
constexpr milliseconds kAnswerLimit{1000};  // to write an error answer (408, 413, 503...)
constexpr milliseconds kLingerLimit{1000};  // to let the peer read it before we close
constexpr milliseconds kStreamStall{kStreamStallLimitMs};
constexpr milliseconds kWorkerIdleExit{10000};
// How often a deferred connection whose peer sent more bytes is looked at for a close.
constexpr milliseconds kDeferredRecheck{200};

// The status line and headers of `response`; no Content-Length when `content_length` is
// empty (a streamed answer: chunked for HTTP/1.1, delimited by the close for HTTP/1.0).
// `version` is the request's (11 for HTTP/1.1), so an HTTP/1.0 client hears keep-alive.
std::string head_text(const Response& response, unsigned version, bool keep_alive,
                      std::optional<size_t> content_length) {
  bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), version};
  head.set(bhttp::field::server, "berth");
  head.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) head.set(name, value);
  if (content_length) head.content_length(*content_length);
  if (!content_length && version >= 11) head.set(bhttp::field::transfer_encoding, "chunked");
  head.keep_alive(keep_alive);
  std::string text = "HTTP/" + std::to_string(version / 10) + "." + std::to_string(version % 10) +
                     " " + std::to_string(response.status) + " " + std::string(head.reason()) +
                     "\r\n";
  for (const auto& field : head) {
    text.append(field.name_string());
    text += ": ";
    text.append(field.value());
    text += "\r\n";
  }
  return text + "\r\n";
}

Request to_request(bhttp::request<bhttp::string_body>& message, const std::string& remote) {
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  split_target(request.target, &request.path, &request.query);
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[name] = std::string(field.value());
  }
  request.body = std::move(message.body());
  request.remote_address = remote;
  return request;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

}  // namespace

// What the engine asks of a connection, whatever its stream type.
class SessionBase : public ReplyTarget {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;               // I/O thread
  virtual void shut_down_for_stop() = 0;  // I/O thread
};

// The state shared by the engine and its sessions. Members that session destructors touch
// (mu, drained, live) are declared before `io`, so they outlive the handlers it destroys.
struct EngineCore {
  EngineCore(const ServerOptions& o, Handler h, std::shared_ptr<ssl::context> t)
      : options(o),
        handler(std::move(h)),
        tls(std::move(t)),
        book(ConnectionBook::Limits{o.max_connections, o.max_idle_connections,
                                    o.max_idle_connections_per_client, o.max_busy_connections,
                                    o.max_busy_connections_per_client,
                                    o.reserved_busy_connections}),
        pool(o.max_busy_connections + o.reserved_busy_connections, kWorkerIdleExit) {}

  const ServerOptions options;
  const Handler handler;
  const std::shared_ptr<ssl::context> tls;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable drained;
  size_t live = 0;      // sessions not yet destroyed, guarded by mu
  ConnectionBook book;  // I/O thread only
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> open;  // I/O thread only
  uint64_t next_id = 1;                                           // I/O thread only
  WorkerPool pool;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{asio::make_work_guard(io)};
};

namespace {

enum class Phase { kWaitFirst, kWaitNext, kHeader, kBody, kHandler, kDeferred, kWrite, kClosing };

template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, ssl::stream<tcp::socket>>;

 public:
  template <class... Args>
  Session(EngineCore& core, uint64_t id, std::string remote, Args&&... stream_args)
      : core_(core),
        id_(id),
        remote_(std::move(remote)),
        stream_(std::forward<Args>(stream_args)...),
        timer_(core.io),
        fd_(lowest().native_handle()) {
    std::lock_guard<std::mutex> lock(core_.mu);
    ++core_.live;
  }

  ~Session() override {
    if (link_) link_->abandon();
    std::lock_guard<std::mutex> lock(core_.mu);
    if (--core_.live == 0) core_.drained.notify_all();
  }

  void start() {
    arm(core_.options.new_connection_timeout, Phase::kWaitFirst);
    wait_readable();
  }

  void close() override {
    if (closed_.exchange(true)) return;
    if (link_) link_->abandon();
    std::shared_ptr<Session> waiting = std::move(deferred_self_);  // released on return
    core_.book.remove(id_);
    core_.open.erase(id_);
    disarm();
    error_code ec;
    lowest().close(ec);
  }

  // A handler may still be running or streaming: its connection is shut down, not closed, so
  // the worker's fd stays valid; the handler's answer then fails to go out and the
  // connection closes.
  void shut_down_for_stop() override {
    if (busy_) {
      ::shutdown(fd_, SHUT_RDWR);
    } else {
      close();
    }
  }

 private:
  auto& lowest() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  bool closed() const { return closed_.load(); }
  std::shared_ptr<Session> self() { return this->shared_from_this(); }

  // --- deadlines ---------------------------------------------------------------------
  void arm(milliseconds limit, Phase phase) {
    phase_ = phase;
    timed_out_ = false;
    ++timer_generation_;
    if (limit.count() <= 0) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(limit);
    timer_.async_wait(
        [weak = this->weak_from_this(), generation = timer_generation_](error_code ec) {
          auto session = weak.lock();
          if (ec || !session || session->timer_generation_ != generation) return;
          session->on_timeout();
        });
  }

  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  // Waiting connections just close; a pending read or write is cancelled and its handler
  // sees timed_out_.
  void on_timeout() {
    if (closed()) return;
    if (phase_ == Phase::kDeferred) return on_deferred_timer();
    timed_out_ = true;
    if (phase_ == Phase::kWaitFirst || phase_ == Phase::kWaitNext) return close();
    error_code ec;
    lowest().cancel(ec);
  }

  // --- reading a request ----------------------------------------------------------------
  void wait_readable() {
    lowest().async_wait(asio::socket_base::wait_read,
                        [s = self()](error_code ec) { s->on_readable(ec); });
  }

  void on_readable(error_code ec) {
    if (closed()) return;
    if (ec) return close();
    if (phase_ == Phase::kWaitFirst || phase_ == Phase::kWaitNext) {
      arm(core_.options.header_timeout, Phase::kHeader);
    }
    if constexpr (kTls) {
      if (!handshaken_) return detect_tls();
    }
    read_header();
  }

  // A TLS connection opens with a handshake record (0x16). Anything else is most likely
  // plain HTTP sent to the HTTPS port, which gets a readable answer.
  void detect_tls() {
    unsigned char first = 0;
    ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return wait_readable();
    if (n <= 0) return close();
    if (first != 0x16) {
      return answer_and_close(400, "this port speaks HTTPS only: use an https:// URL",
                              /*raw=*/true);
    }
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, [s = self()](error_code ec) {
        if (s->closed()) return;
        if (ec) return s->close();
        s->handshaken_ = true;
        s->read_header();
      });
    }
  }

  void wait_next_request() {
    if constexpr (kTls) {
      // TLS may already hold the next request's bytes, so read rather than wait on the socket.
      stream_.async_read_some(buffer_.prepare(kTlsReadBytes),
                              [s = self()](error_code ec, size_t n) {
                                if (s->closed()) return;
                                if (ec) return s->close();
                                s->buffer_.commit(n);
                                s->arm(s->core_.options.header_timeout, Phase::kHeader);
                                s->read_header();
                              });
    } else {
      wait_readable();
    }
  }

  void read_header() {
    parser_.emplace();
    parser_->body_limit(core_.options.max_body_bytes);
    parser_->header_limit(kHeaderLimitBytes);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [s = self()](error_code ec, size_t) { s->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (closed()) return;
    if (ec) return on_read_error(ec);
    arm(core_.options.body_timeout, Phase::kBody);
    auto expect = parser_->get()[bhttp::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      // curl waits a second for this before sending a larger body.
      out_head_ = "HTTP/1.1 100 Continue\r\n\r\n";
      out_body_.clear();
      return write_out(false, core_.options.body_timeout, [s = self()](bool ok) {
        if (!ok) return s->close();
        s->arm(s->core_.options.body_timeout, Phase::kBody);
        s->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_, [s = self()](error_code ec, size_t) {
      if (s->closed()) return;
      if (ec) return s->on_read_error(ec);
      s->disarm();
      s->dispatch();
    });
  }

  void on_read_error(error_code ec) {
    if (ec == bhttp::error::body_limit) return answer_and_close(413, "Request body too large");
    if (ec == bhttp::error::header_limit) return answer_and_close(431, "Request header too large");
    if (timed_out_) {
      bool header = phase_ == Phase::kHeader;
      milliseconds limit = header ? core_.options.header_timeout : core_.options.body_timeout;
      return answer_and_close(408, std::string("the request ") + (header ? "header" : "body") +
                                       " did not arrive within " + std::to_string(limit.count()) +
                                       " ms; send the whole request at once");
    }
    if (is_parse_error(ec)) return answer_and_close(400, "malformed HTTP request: " + ec.message());
    close();
  }

  // --- handling ---------------------------------------------------------------------------
  void dispatch() {
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    version_ = message.version() == 10 ? 10 : 11;
    Request request = to_request(message, remote_);
    parser_.reset();
    bool may_reserve = core_.options.reserved && core_.options.reserved(request);
    if (!core_.book.try_busy(id_, may_reserve)) {
      return answer_and_close(503, "the server is busy with other requests; retry shortly");
    }
    busy_ = true;
    phase_ = Phase::kHandler;
    bool submitted = core_.pool.submit([s = self(), request = std::move(request)]() mutable {
      run_handler(std::move(s), request);
    });
    if (!submitted) close();
  }

  // On a worker thread. The session travels back to the I/O thread with the answer.
  static void run_handler(std::shared_ptr<Session> s, const Request& request) {
    Response response = call_handler(s->core_.handler, request);
    if (response.stream) return stream_response(std::move(s), std::move(response));
    if (response.defer) return defer_response(std::move(s), std::move(response));
    asio::io_context& io = s->core_.io;
    asio::post(io, [s = std::move(s), response = std::move(response)]() mutable {
      s->send_response(std::move(response));
    });
  }

  void send_response(Response response) {
    if (closed()) return;
    bool keep = keep_alive_ && !core_.stopping;
    out_head_ = head_text(response, version_, keep, response.body.size());
    out_body_ = std::move(response.body);
    write_out(false, kStreamStall, [s = self(), keep](bool ok) {
      if (s->closed()) return;
      if (!ok) return s->close();
      if (!keep) return s->finish_and_close();
      s->back_to_idle();
    });
  }

  // --- deferred answers ----------------------------------------------------------------
  // On a worker thread: the rest of `response` is the fallback; the hook gets the Reply.
  static void defer_response(std::shared_ptr<Session> s, Response response) {
    auto defer = std::move(response.defer);
    response.defer = nullptr;
    milliseconds timeout = response.defer_timeout;
    asio::io_context& io = s->core_.io;
    auto link = std::make_shared<ReplyLink>(io, s, std::move(response));
    std::shared_ptr<Reply> reply = make_reply(link);
    asio::post(io, [s = std::move(s), link = std::move(link), timeout]() mutable {
      s->enter_deferred(std::move(link), timeout);
    });
    try {
      defer(reply);
    } catch (const std::exception& e) {
      reply->complete(Response{
          500, "application/json", {}, json_message(std::string("internal error: ") + e.what())});
    }
  }  // unless the hook kept a copy of the Reply, its fallback goes out now

  // The connection gives its busy slot back and waits, held alive by deferred_self_, for its
  // answer, its deadline, its client's close or the server's stop.
  void enter_deferred(std::shared_ptr<ReplyLink> link, milliseconds timeout) {
    if (closed() || core_.stopping) {
      link->abandon();
      return close();
    }
    link_ = std::move(link);
    busy_ = false;
    core_.book.defer(id_);
    deferred_self_ = self();
    phase_ = Phase::kDeferred;
    deadline_.reset();
    if (timeout.count() > 0) deadline_ = std::chrono::steady_clock::now() + timeout;
    recheck_ = false;
    if (early_) {
      Response answer = std::move(*early_);
      early_.reset();
      return deliver(std::move(answer));
    }
    arm_deferred();
    watch_peer();
  }

  void deliver(Response response) override {
    if (closed()) return;
    if (phase_ == Phase::kHandler) {  // answered before enter_deferred() ran
      early_ = std::move(response);
      return;
    }
    if (phase_ != Phase::kDeferred) return;
    leave_deferred();
    send_response(std::move(response));
  }

  void leave_deferred() {
    ++watch_generation_;
    disarm();
    error_code ec;
    lowest().cancel(ec);  // the peer watch; nothing else is pending
    link_.reset();
    deferred_self_.reset();  // every caller holds the session
  }

  // The timer runs to the deadline, or sooner to look at a peer that sent more bytes.
  void arm_deferred() {
    milliseconds limit{0};
    if (deadline_) {
      auto left = std::chrono::ceil<milliseconds>(*deadline_ - std::chrono::steady_clock::now());
      limit = std::max(left, milliseconds{1});
    }
    if (recheck_ && (limit.count() == 0 || limit > kDeferredRecheck)) limit = kDeferredRecheck;
    arm(limit, Phase::kDeferred);
  }

  void on_deferred_timer() {
    if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
      std::optional<Response> fallback = link_->expire();
      if (!fallback) {  // answered: the answer is on its way to deliver()
        deadline_.reset();
        return arm_deferred();
      }
      leave_deferred();
      return send_response(std::move(*fallback));
    }
    if (peer_gone(fd_)) return close();
    arm_deferred();
  }

  // A peer that closes makes the socket readable. Bytes from a peer still there (a pipelined
  // request, or TLS's close_notify ahead of its FIN) stay unread for the next request, and the
  // timer looks at the peer from then on.
  void watch_peer() {
    lowest().async_wait(asio::socket_base::wait_read,
                        [s = self(), generation = watch_generation_](error_code ec) {
                          if (s->closed() || generation != s->watch_generation_) return;
                          if (ec || peer_gone(s->fd_)) return s->close();
                          s->recheck_ = true;
                          s->arm_deferred();
                        });
  }

  void back_to_idle() {
    busy_ = false;
    core_.book.idle(id_);
    out_head_ = std::string();
    out_body_ = std::string();
    if (buffer_.size() > 0) {  // a pipelined request
      arm(core_.options.header_timeout, Phase::kHeader);
      return read_header();
    }
    buffer_.shrink_to_fit();
    arm(core_.options.keep_alive_timeout, Phase::kWaitNext);
    wait_next_request();
  }

  // On a worker thread: the status line, then each chunk the producer hands over, until it
  // says it is done, the peer goes away, a write fails or the server stops. HTTP/1.1 clients
  // get each piece as one chunk of a chunked body (so a client reading whole chunks, as
  // Python's requests does, sees every event as it is sent), ended by the last chunk. A finite
  // body (Response::finish) gets its last chunk only when the producer completed it.
  static void stream_response(std::shared_ptr<Session> s, Response response) {
    const bool chunked = s->version_ >= 11;
    bool ok = s->write_from_worker(head_text(response, s->version_, false, std::nullopt), "");
    bool produced = false;  // the producer said the body is done
    while (ok && !s->core_.stopping && !s->closed()) {
      std::string chunk;
      if (!response.stream(&chunk)) {
        produced = true;
        break;
      }
      if (chunk.empty()) {
        if (peer_gone(s->fd_)) break;
        continue;
      }
      // The size line goes out as the head, so the chunk's bytes are not copied again.
      std::string size_line = chunked ? chunk_size_line(chunk.size()) : "";
      if (chunked) chunk += "\r\n";
      ok = s->write_from_worker(std::move(size_line), std::move(chunk));
    }
    std::optional<Fields> trailer = Fields{};
    if (response.finish) trailer = ok && produced ? response.finish() : std::nullopt;
    if (ok && trailer && chunked && !s->closed()) s->write_from_worker("", last_chunk(*trailer));
    response.stream = nullptr;  // the producer's state learns of the end now
    response.finish = nullptr;
    asio::io_context& io = s->core_.io;
    if (!trailer) {
      asio::post(io, [s = std::move(s)] { s->close(); });
      return;
    }
    asio::post(io, [s = std::move(s)] { s->finish_and_close(); });
  }

  bool write_from_worker(std::string head, std::string body) {
    std::promise<bool> written;
    std::future<bool> result = written.get_future();
    asio::post(core_.io,
               [s = self(), &written, head = std::move(head), body = std::move(body)]() mutable {
                 s->out_head_ = std::move(head);
                 s->out_body_ = std::move(body);
                 s->write_out(false, kStreamStall, [&written](bool ok) { written.set_value(ok); });
               });
    return result.get();
  }

  // --- writing and closing --------------------------------------------------------------
  // Writes out_head_ then out_body_, cut off when no byte goes out for `stall`; `done` always
  // runs, with false on any failure.
  void write_out(bool raw, milliseconds stall, std::function<void(bool)> done) {
    written_ = 0;
    write_raw_ = raw;
    write_stall_ = stall;
    write_done_ = std::move(done);
    write_more();
  }

  void write_more() {
    size_t head = out_head_.size();
    if (closed() || written_ >= head + out_body_.size()) {
      if (!closed()) disarm();
      auto done = std::move(write_done_);
      write_done_ = nullptr;
      return done(!closed());
    }
    arm(write_stall_, phase_ == Phase::kClosing ? Phase::kClosing : Phase::kWrite);
    std::array<asio::const_buffer, 2> buffers;
    if (written_ < head) {
      buffers = {asio::buffer(out_head_) + written_, asio::buffer(out_body_)};
    } else {
      buffers = {asio::buffer(out_body_) + (written_ - head), asio::const_buffer()};
    }
    auto on_written = [s = self()](error_code ec, size_t n) {
      if (ec) {
        s->disarm();
        auto done = std::move(s->write_done_);
        s->write_done_ = nullptr;
        return done(false);
      }
      s->written_ += n;
      s->write_more();
    };
    if (write_raw_) {
      lowest().async_write_some(buffers, std::move(on_written));
    } else {
      stream_.async_write_some(buffers, std::move(on_written));
    }
  }

  // Answers an error and closes. `raw` writes around TLS (before any handshake).
  void answer_and_close(int status, const std::string& message, bool raw = false) {
    core_.book.closing(id_);
    busy_ = false;
    phase_ = Phase::kClosing;
    Response response{status, "application/json", {}, json_message(message)};
    out_head_ = head_text(response, version_, false, response.body.size());
    out_body_ = std::move(response.body);
    write_out(raw, kAnswerLimit, [s = self()](bool ok) {
      if (!ok) return s->close();
      s->linger();
    });
  }

  // Closing a socket with unread bytes resets it, and the peer may lose our answer: stop
  // sending, read what is still coming for a moment, then close.
  void linger() {
    error_code ec;
    lowest().shutdown(asio::socket_base::shutdown_send, ec);
    arm(kLingerLimit, Phase::kClosing);
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    lowest().async_read_some(buffer_.prepare(kDrainBytes), [s = self()](error_code ec, size_t) {
      if (ec || s->closed()) return s->close();
      s->drain();
    });
  }

  // The end of a `Connection: close` exchange. TLS says goodbye (close_notify) first, for at
  // most kLingerLimit.
  void finish_and_close() {
    if (closed()) return;
    core_.book.closing(id_);
    busy_ = false;
    if constexpr (kTls) {
      if (!core_.stopping) {
        arm(kLingerLimit, Phase::kClosing);
        stream_.async_shutdown([s = self()](error_code) { s->close(); });
        return;
      }
    }
    close();
  }

  EngineCore& core_;
  const uint64_t id_;
  const std::string remote_;
  Stream stream_;
  asio::steady_timer timer_;
  const int fd_;
  std::atomic<bool> closed_{false};  // read by the worker thread
  uint64_t timer_generation_ = 0;
  Phase phase_ = Phase::kWaitFirst;
  bool timed_out_ = false;
  bool handshaken_ = false;
  bool busy_ = false;
  bool keep_alive_ = false;
  unsigned version_ = 11;  // of the last request
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_head_;
  std::string out_body_;
  size_t written_ = 0;
  bool write_raw_ = false;
  milliseconds write_stall_{0};
  std::function<void(bool)> write_done_;
  std::shared_ptr<ReplyLink> link_;         // while deferred
  std::shared_ptr<Session> deferred_self_;  // while deferred
  std::optional<Response> early_;           // an answer that came before enter_deferred()
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // of the deferred answer
  bool recheck_ = false;  // look at the deferred peer by timer
  uint64_t watch_generation_ = 0;
};

// Makes room for a connection from `client` by closing idle ones; false when there is none.
bool make_room(EngineCore& core, const std::string& client) {
  while (true) {
    ConnectionBook::Room room = core.book.make_room(client);
    if (room.kind == ConnectionBook::Room::kAdmit) return true;
    if (room.kind == ConnectionBook::Room::kRefuse) return false;
    auto it = core.open.find(room.victim);
    std::shared_ptr<SessionBase> victim = it == core.open.end() ? nullptr : it->second.lock();
    if (victim) {
      victim->close();
    } else {
      core.book.remove(room.victim);
      if (it != core.open.end()) core.open.erase(it);
    }
  }
}

template <class Stream, class... Args>
void admit(EngineCore& core, const std::string& client, std::string remote, Args&&... stream_args) {
  if (core.stopping || !make_room(core, client)) return;  // the caller's socket closes
  uint64_t id = core.next_id++;
  auto session = std::make_shared<Session<Stream>>(core, id, std::move(remote),
                                                   std::forward<Args>(stream_args)...);
  core.book.add(id, client);
  core.open.emplace(id, session);
  session->start();
}

}  // namespace

ConnectionEngine::ConnectionEngine(const ServerOptions& options, Handler handler,
                                   std::shared_ptr<ssl::context> tls)
    : core_(std::make_unique<EngineCore>(options, std::move(handler), std::move(tls))) {}

ConnectionEngine::~ConnectionEngine() { stop(); }

asio::io_context& ConnectionEngine::io() { return core_->io; }

void ConnectionEngine::start() {
  io_thread_ = std::thread([core = core_.get()] { core->io.run(); });
}

bool ConnectionEngine::stopping() const { return core_->stopping; }

void ConnectionEngine::adopt(tcp::socket socket) {
  error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;
  asio::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  std::string client = address.to_string();
  std::string remote = client + ":" + std::to_string(peer.port());
  socket.set_option(tcp::no_delay(true), ec);
  if (core_->tls) {
    admit<ssl::stream<tcp::socket>>(*core_, client, std::move(remote), std::move(socket),
                                    *core_->tls);
  } else {
    admit<tcp::socket>(*core_, client, std::move(remote), std::move(socket));
  }
}

void ConnectionEngine::adopt(unix_stream::socket socket, const std::string& remote) {
  admit<unix_stream::socket>(*core_, "unix", remote, std::move(socket));
}

void ConnectionEngine::run_on_io(const std::function<void()>& work) {
  if (!io_thread_.joinable()) return work();
  std::promise<void> done;
  std::future<void> result = done.get_future();
  asio::post(core_->io, [&] {
    work();
    done.set_value();
  });
  result.wait();
}

void ConnectionEngine::stop() {
  if (core_->stopping.exchange(true)) return;
  if (io_thread_.joinable()) {
    asio::post(core_->io, [core = core_.get()] {
      std::vector<std::shared_ptr<SessionBase>> sessions;
      for (auto& [id, weak] : core->open) {
        if (auto session = weak.lock()) sessions.push_back(std::move(session));
      }
      for (auto& session : sessions) session->shut_down_for_stop();
    });
    std::unique_lock<std::mutex> lock(core_->mu);
    core_->drained.wait(lock, [this] { return core_->live == 0; });
  }
  core_->work.reset();
  core_->io.stop();
  if (io_thread_.joinable()) io_thread_.join();
  core_->pool.shut_down();
}

}  // namespace berth::http::internal
