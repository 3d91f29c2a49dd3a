// Internal to src/http, for connection_engine.cpp alone: the state the engine shares with its
// connections (EngineCore) and the connection itself. Each connection is a Session: an
// asynchronous state machine on the one I/O thread that waits for a request, reads it under
// deadlines, hands it to a worker thread and writes the answer. Its steps, with the limit on each:
//   wait for the first byte   new_connection_timeout (keep_alive_timeout between requests)
//   TLS handshake and header  header_timeout from the first byte
//   body                      body_timeout from the end of the header
//   handler                   none (handlers may block; the worker thread is the cost)
//   deferred answer           the handler's defer_timeout (no thread: watched on the I/O thread)
//   answer                    kStreamStallLimitMs without progress
//   streamed answer           each chunk as an answer; between chunks no thread and no limit
//                             (the producer is called again when it wakes, or every second)
// Until its request is complete a connection is idle in the ConnectionBook and may be
// closed to make room for a new one. Only the I/O thread touches sockets; worker threads run
// handlers and streamed answers' producers, and post what they produced back to it.
#pragma once

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
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "http/connection_book.h"
#include "http/connection_engine.h"
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

constexpr size_t kHeaderLimitBytes = 64 * 1024;
constexpr size_t kTlsReadBytes = 4096;      // one read of a keep-alive TLS connection
constexpr size_t kDrainBytes = 4096;        // one read while lingering before a close
constexpr milliseconds kAnswerLimit{1000};  // to write an error answer (408, 413, 503...)
constexpr milliseconds kLingerLimit{1000};  // to let the peer read it before we close
constexpr milliseconds kStreamStall{kStreamStallLimitMs};
constexpr milliseconds kWorkerIdleExit{10000};
// How often a deferred connection whose peer sent more bytes is looked at for a close.
constexpr milliseconds kDeferredRecheck{200};
// How long a streamed answer whose producer had nothing waits for a wake before asking again.
constexpr milliseconds kStreamIdlePoll{1000};

// The status line and headers of `response`; no Content-Length when `content_length` is
// empty (a streamed answer: chunked for HTTP/1.1, delimited by the close for HTTP/1.0).
// `version` is the request's (11 for HTTP/1.1), so an HTTP/1.0 client hears keep-alive.
inline std::string head_text(const Response& response, unsigned version, bool keep_alive,
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

inline Request to_request(bhttp::request<bhttp::string_body>& message, const std::string& remote) {
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
  request.received = std::chrono::steady_clock::now();
  return request;
}

inline bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

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
        pool(std::max<size_t>(o.worker_threads, 1), kWorkerIdleExit),
        reserved_pool(o.reserved_worker_threads, kWorkerIdleExit),
        urgent_pool(o.urgent_worker_threads, kWorkerIdleExit) {}

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
  WorkerPool reserved_pool;  // for requests `reserved` picks, when reserved_worker_threads > 0
  WorkerPool urgent_pool;    // for requests `urgent` picks, when urgent_worker_threads > 0
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{asio::make_work_guard(io)};
};

enum class Phase {
  kWaitFirst,
  kWaitNext,
  kHeader,
  kBody,
  kHandler,
  kDeferred,
  kStream,
  kWrite,
  kClosing
};

// A streamed answer's producer (Response::stream, finish), called by one worker at a time.
struct Producer {
  Response response;
};

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
    if (waker_) waker_->detach();
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
    release_stream();
    std::shared_ptr<Session> waiting = std::move(held_self_);  // released on return
    core_.book.remove(id_);
    core_.open.erase(id_);
    disarm();
    error_code ec;
    lowest().close(ec);
  }

  // A handler may still be running: its connection is shut down, not closed, so the answer
  // the handler posts fails to go out and the connection closes.
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
    if (phase_ == Phase::kStream) return on_stream_timer();
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
    const ServerOptions& o = core_.options;
    WorkerPool& pool = o.urgent_worker_threads > 0 && o.urgent && o.urgent(request)
                           ? core_.urgent_pool
                       : may_reserve && o.reserved_worker_threads > 0 ? core_.reserved_pool
                                                                      : core_.pool;
    bool submitted = pool.submit([s = self(), request = std::move(request)]() mutable {
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

  // The connection gives its busy slot back and waits, held alive by held_self_, for its
  // answer, its deadline, its client's close or the server's stop.
  void enter_deferred(std::shared_ptr<ReplyLink> link, milliseconds timeout) {
    if (closed() || core_.stopping) {
      link->abandon();
      return close();
    }
    link_ = std::move(link);
    busy_ = false;
    core_.book.defer(id_);
    held_self_ = self();
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
    held_self_.reset();  // every caller holds the session
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

  // --- streamed answers ------------------------------------------------------------------
  // HTTP/1.1 clients get each piece the producer hands over as one chunk of a chunked body (so a
  // client reading whole chunks, as Python's requests does, sees every event as it is sent),
  // ended by the last chunk. A finite body (Response::finish) gets its last chunk only when the
  // producer completed it. Like a deferred one, a streaming connection holds no busy slot and
  // is never closed to make room: it holds no thread either, except while its producer runs.

  // On a worker thread: hands the producer its wake and the connection to the I/O thread.
  static void stream_response(std::shared_ptr<Session> s, Response response) {
    auto producer = std::make_shared<Producer>();
    producer->response = std::move(response);
    auto waker = std::make_shared<StreamWaker>(s->core_.io, s);
    if (producer->response.notify) {
      auto notify = std::move(producer->response.notify);
      producer->response.notify = nullptr;
      try {
        notify([waker] { waker->wake(); });
      } catch (...) {  // then the producer is asked once a second
      }
    }
    asio::io_context& io = s->core_.io;
    asio::post(
        io, [s = std::move(s), producer = std::move(producer), waker = std::move(waker)]() mutable {
          s->start_stream(std::move(producer), std::move(waker));
        });
  }

  void start_stream(std::shared_ptr<Producer> producer, std::shared_ptr<StreamWaker> waker) {
    producer_ = std::move(producer);
    waker_ = std::move(waker);
    if (closed() || core_.stopping) return close();
    busy_ = false;
    core_.book.defer(id_);
    held_self_ = self();
    out_head_ = head_text(producer_->response, version_, false, std::nullopt);
    out_body_.clear();
    write_out(false, kStreamStall, [s = self()](bool ok) {
      if (!ok) return s->close();
      s->pull_stream();
    });
  }

  // Calls the producer on a worker thread; its piece comes back to on_stream_piece().
  void pull_stream() {
    if (closed()) return;
    if (core_.stopping) return close();
    stream_waiting_ = false;
    disarm();
    phase_ = Phase::kStream;
    waker_->take();
    bool submitted = core_.pool.submit([s = self(), producer = producer_]() mutable {
      std::string chunk;
      bool more = false;
      std::optional<Fields> trailer;  // nullopt: cut the body
      try {
        // A connection closed while this waited for a thread asks nothing more of its producer.
        if (!s->closed()) {
          more = producer->response.stream(&chunk);
          if (!more) {
            chunk.clear();  // a chunk that comes with false is dropped
            trailer = Fields{};
            if (producer->response.finish) trailer = producer->response.finish();
          }
        }
      } catch (...) {
        more = false;
        trailer.reset();
      }
      producer.reset();  // the last copy may be the connection's to release (release_stream)
      asio::io_context& io = s->core_.io;
      asio::post(io, [s = std::move(s), more, chunk = std::move(chunk),
                      trailer = std::move(trailer)]() mutable {
        s->on_stream_piece(more, std::move(chunk), std::move(trailer));
      });
    });
    if (!submitted) close();
  }

  void on_stream_piece(bool more, std::string chunk, std::optional<Fields> trailer) {
    if (closed()) return;
    if (!more) return end_stream(std::move(trailer));
    if (chunk.empty()) {
      if (waker_->take()) return pull_stream();
      stream_waiting_ = true;
      return arm(kStreamIdlePoll, Phase::kStream);
    }
    const bool chunked = version_ >= 11;
    // The size line goes out as the head, so the chunk's bytes are not copied again.
    out_head_ = chunked ? chunk_size_line(chunk.size()) : "";
    if (chunked) chunk += "\r\n";
    out_body_ = std::move(chunk);
    write_out(false, kStreamStall, [s = self()](bool ok) {
      if (!ok) return s->close();
      s->pull_stream();
    });
  }

  void stream_woken() override {
    if (!closed() && stream_waiting_) pull_stream();
  }

  void on_stream_timer() {
    if (peer_gone(fd_)) return close();
    pull_stream();
  }

  void end_stream(std::optional<Fields> trailer) {
    release_stream();
    if (!trailer) return close();
    if (version_ < 11) return finish_and_close();
    out_head_.clear();
    out_body_ = last_chunk(*trailer);
    write_out(false, kStreamStall, [s = self()](bool ok) {
      if (!ok) return s->close();
      s->finish_and_close();
    });
  }

  // The producer's state may do work as it ends (an event stream says goodbye), so a worker
  // releases it; a worker still calling it holds it until that call returns.
  void release_stream() {
    if (waker_) waker_->detach();
    stream_waiting_ = false;
    if (producer_) core_.pool.submit([producer = std::move(producer_)] {});
    producer_.reset();  // when the pool refused it (stopped), right here
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
  std::shared_ptr<ReplyLink> link_;     // while deferred
  std::shared_ptr<Session> held_self_;  // while deferred or streaming
  std::shared_ptr<Producer> producer_;  // while streaming
  std::shared_ptr<StreamWaker> waker_;  // from the start of a stream
  bool stream_waiting_ = false;         // for a wake or kStreamIdlePoll
  std::optional<Response> early_;       // an answer that came before enter_deferred()
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // of the deferred answer
  bool recheck_ = false;  // look at the deferred peer by timer
  uint64_t watch_generation_ = 0;
};

}  // namespace berth::http::internal
