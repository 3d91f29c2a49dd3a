// HTTP/1.1 (optionally over TLS) types and the server/client entry points. Only .cpp files and
// internal headers in src/http include Boost.Beast, Asio or OpenSSL; everything else in berth
// speaks these structs. Used by the master (Marathon/berth APIs), the agent (its link to the
// master and, over a unix socket, Docker), the CLI and the demo apps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace berth::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw, e.g. "/v2/apps/prod%2Fweb?embed=apps.tasks"
  std::string path;    // percent-decoded path without the query
  std::multimap<std::string, std::string> query;  // percent-decoded
  std::map<std::string, std::string> headers;     // lower-case names
  std::string body;
  std::string remote_address;
  // When the server had read the whole request; a handler that waits for something within a
  // budget can count the time the request waited for a thread (unset: unknown).
  std::chrono::steady_clock::time_point received{};

  // The first value of a query parameter, or `fallback`.
  std::string query_value(const std::string& name, const std::string& fallback = "") const;
  bool query_flag(const std::string& name, bool fallback) const;  // "true"/"false" any case, 1/0
  std::string header(const std::string& lower_name) const;
};

// Header or trailer fields in the order they are sent.
using Fields = std::vector<std::pair<std::string, std::string>>;

class Reply;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  Fields headers;
  std::string body;
  // Set for a streamed answer (Server-Sent Events, a download); `body` is then ignored. The
  // server sends the status line and headers with `Connection: close` and no Content-Length,
  // then calls `stream` on a worker thread, one call at a time, and writes each chunk it appends:
  // again as soon as the last chunk is written, and, after a call that appended nothing, when
  // `notify`'s wake is called or a second later (so an event stream can send a keep-alive and
  // the server can notice a client that went away). Between calls the stream holds no thread:
  // the I/O thread writes it. So `stream` must not wait for data; a read from a file is fine,
  // waiting for the next event is not (it would hold one of the server's few worker threads).
  // Returning false ends the response and closes the connection. The server stops calling it
  // and destroys the Response (on a worker thread) when the client disconnects, a write fails
  // or stalls for kStreamStallLimitMs, or the server stops: state captured by `stream` learns
  // of the end by being destroyed.
  std::function<bool(std::string* chunk)> stream = nullptr;
  // Set with `stream` for a finite streamed body, such as a download, rather than an event
  // stream whose every end is a normal one. Called once after `stream` returned false, it says
  // whether the body is complete. Fields (maybe none): it is, and the chunked body ends with its
  // last chunk carrying them as trailer fields (announce their names in a `Trailer` header).
  // nullopt: the producer failed part way, and the connection is cut without the last chunk,
  // so the client sees a broken body, never a complete one. A body the server itself ends (a
  // client that stalls, the server's stop) is cut in the same way and `finish` is not called.
  // An HTTP/1.0 client gets no trailer: its body ends with the connection either way.
  std::function<std::optional<Fields>()> finish = nullptr;
  // Set with `stream` by a producer that waits for its data (an event stream). The server calls
  // it once, before the first call of `stream`, with `wake`: any thread may call `wake` at any
  // time, as often as it likes (also after the end, when it does nothing), to say that `stream`
  // has more to give. Wakes that come while `stream` runs or a chunk is written are not lost.
  std::function<void(std::function<void()> wake)> notify = nullptr;
  // Set for an answer that comes later (a long poll) without holding a thread while it waits.
  // The handler returns at once; then, on the worker thread, the server calls `defer` once with
  // the Reply that carries the answer, and the connection waits on the I/O thread alone.
  // `defer` must not block: it hands the Reply to whoever will answer. The rest of this
  // Response (status, content type, headers, body) is the fallback: the server sends it when no
  // answer came within `defer_timeout` of the handler's return (zero: no deadline), or at once
  // when every copy of the Reply is dropped unanswered. An exception from `defer` answers 500.
  // Keep-alive continues after the answer, whichever one it is. Ignored with `stream`.
  std::function<void(std::shared_ptr<Reply>)> defer = nullptr;
  std::chrono::milliseconds defer_timeout{0};
};

// The answer to a deferred request (Response::defer). Any thread may call it at any time, even
// after the server stopped; only the first answer (complete() or the deadline's fallback) goes
// out.
class Reply {
 public:
  virtual ~Reply() = default;
  // Sends `response` (its `stream`, `finish`, `notify` and `defer` are ignored) on the waiting
  // connection. True when this call's answer was taken; false when the request was answered
  // already, its client went away or the server stopped: the call then does nothing.
  virtual bool complete(Response response) = 0;
  // True once no complete() can be taken: the client disconnected (or half-closed its side), the
  // server stopped, or the deadline sent the fallback. An owner that keeps Replies (a registry
  // of waiting polls) drops these; a Reply answered by complete() is not abandoned.
  virtual bool abandoned() const = 0;
};

// A streamed response whose client accepts no bytes for this long is cut off.
inline constexpr int kStreamStallLimitMs = 30000;

using Handler = std::function<Response(const Request&)>;

inline constexpr std::chrono::milliseconds kDefaultHeaderTimeout{10000};
inline constexpr std::chrono::milliseconds kDefaultBodyTimeout{30000};

// How a server treats its connections. A connection is *idle* while it holds no thread: from
// accept until its request has arrived in full, and between keep-alive requests. It is *busy*
// from then until its answer is written; a busy connection holds a worker thread while its
// handler runs. A *deferred* connection (see Response::defer) and a *streaming* one (see
// Response::stream) are busy only while the handler runs; while the first waits for its answer,
// and as that is written, and while the second streams, neither holds a busy slot, nor a thread
// (except while a stream's producer runs), and neither is closed to make room: they count
// against max_connections only, which bounds them. Counting is per client IP address. A
// duration of zero means no limit.
struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;  // 0 = any free port
  // Open connections of every kind. A new connection past any idle limit below, or past
  // this one, closes the oldest idle connection of its own client IP if that client is at
  // max_idle_connections_per_client, else the oldest idle connection overall; with none idle
  // it is closed at once. So a fresh client is served while a flood churns its own sockets.
  size_t max_connections = 4096;
  size_t max_body_bytes = 8 << 20;  // larger bodies get 413
  size_t max_idle_connections = 1024;
  size_t max_idle_connections_per_client = 256;
  // A complete request past these gets 503 at once and its connection is closed.
  size_t max_busy_connections = 512;
  size_t max_busy_connections_per_client = 256;
  // Room kept for requests that `reserved` picks (the master keeps it for its agents): when
  // the limits above refuse such a request it may take one of reserved_busy_connections
  // slots that no other request can use. The predicate runs on the I/O thread: keep it
  // cheap (no locks held for long, no I/O).
  size_t reserved_busy_connections = 0;
  std::function<bool(const Request&)> reserved = nullptr;  // initialised: see tls_key_file
  // The threads that run handlers and streams' producers: at most this many run at once, and
  // admitted requests past it wait their turn. Each starts when a request finds every other one
  // taken, and ends after 10 s without work. A handler inside a WaitingScope (this library's
  // client calls open one) does not count while it waits: another thread may start meanwhile,
  // so a slow peer never holds up the other requests.
  size_t worker_threads = 16;
  // Non-zero: this many more threads run only the requests `reserved` picks (all of them, within
  // the busy limits or not), and worker_threads never do, so those never wait behind others.
  size_t reserved_worker_threads = 0;
  // Non-zero: this many more threads run only the requests `urgent` picks, and no other pool
  // runs them, so they never wait behind slower requests of the same client (the master's
  // agents' heartbeats, behind their command polls and status reports). The predicate runs on
  // the I/O thread, like `reserved`.
  std::function<bool(const Request&)> urgent = nullptr;  // initialised: see tls_key_file
  size_t urgent_worker_threads = 0;
  // An accepted connection must send its first byte within new_connection_timeout, and a
  // keep-alive connection its next request within keep_alive_timeout, or it is closed.
  std::chrono::milliseconds new_connection_timeout{10000};
  std::chrono::milliseconds keep_alive_timeout{30000};
  // A request's header (and, with TLS, the handshake) must arrive within header_timeout of
  // its first byte, and its body within body_timeout of the header's end; else the server
  // answers 408 where it still can and closes the connection.
  std::chrono::milliseconds header_timeout = kDefaultHeaderTimeout;
  std::chrono::milliseconds body_timeout = kDefaultBodyTimeout;
  // PEM files: the certificate chain (server first) and its private key. Both empty = plain
  // HTTP; both set = the port speaks only HTTPS (TLS 1.2 or newer), and a plain HTTP request
  // gets a 400 that says so.
  std::string tls_cert_file = "";  // initialised, so ServerOptions{host, port} draws no warning
  std::string tls_key_file = "";
};

namespace internal {
class WorkerPool;
}  // namespace internal

// Marks a handler's wait for something that is not this thread's work and may last (an answer
// from another server, a lock another thread holds): while the scope lasts, the server may start
// another worker thread, so the requests queued behind this one do not wait for it
// (ServerOptions::worker_threads). This library's client calls (request, download,
// unix_request...) open one themselves. Off a server's worker threads, or inside another
// scope, it does nothing.
class WaitingScope {
 public:
  WaitingScope();
  ~WaitingScope();
  WaitingScope(const WaitingScope&) = delete;
  WaitingScope& operator=(const WaitingScope&) = delete;

 private:
  internal::WorkerPool* pool_;
};

// Serves `handler` on a TCP port. Connections cost no thread: one I/O thread reads requests and
// writes answers for all of them, and a request that has arrived in full runs on one of a few
// worker threads (ServerOptions::worker_threads). Handlers may block, but each one blocking
// holds one of those threads and others wait for it: a long poll should defer its answer
// (Response::defer), and an event stream wait for its wake (Response::notify). Stopping drops
// every deferred request unanswered and closes its connection. Stops and joins on destruction.
class Server {
 public:
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  virtual void stop() = 0;
};

// kInvalidArgument for a bad address or unusable TLS files (the message names them);
// kUnavailable when the port cannot be bound. Raises the process's RLIMIT_NOFILE soft limit
// to its hard limit.
Result<std::unique_ptr<Server>> serve(const ServerOptions& options, Handler handler);

// Splits "a%2Fb?x=1&y=%20" into a decoded path and query.
void split_target(const std::string& target, std::string* path,
                  std::multimap<std::string, std::string>* query);
std::string percent_decode(const std::string& text);
std::string percent_encode(const std::string& text);  // for path segments and query values

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

inline constexpr size_t kDefaultMaxResponseBytes = size_t{256} << 20;

// One blocking request. `base_url` is "http://host:port" or "https://host:port" (default
// ports 80 and 443). With https the server's certificate must chain to the CA file set with
// set_client_ca_file() and name the host (a DNS name or an IP address SAN). kUnavailable
// when the peer cannot be reached, fails TLS certificate verification (the message says
// "certificate verification"), does not answer within timeout_ms, or answers with a body
// larger than `max_response_bytes` (the message says so). kInvalidArgument for a bad URL or
// an unreadable CA file.
Result<ClientResponse> request(const std::string& base_url, const std::string& method,
                               const std::string& target, const std::string& body = "",
                               int timeout_ms = 10000,
                               const std::vector<std::pair<std::string, std::string>>& headers = {},
                               size_t max_response_bytes = kDefaultMaxResponseBytes);

// GET `target` as an event stream: the answer's body goes to `on_data` piece by piece as it
// arrives, until the server ends it or `on_data` returns false. No deadline once the header
// has arrived (connecting and the header must come within connect_timeout_ms). Returns the
// status and headers; for a status other than 200 the body (its first MiB) is in
// ClientResponse::body and `on_data` is not called. Errors as request().
Result<ClientResponse> stream_get(const std::string& base_url, const std::string& target,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::function<bool(std::string_view)>& on_data,
                                  int connect_timeout_ms = 10000);

// The body of an answer as download() hands it to its caller, who pulls it at its own pace:
// one piece of the socket's bytes at a time, so memory stays flat whatever the body's size.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // The next bytes of the body, valid until the next call; empty once the body is complete (a
  // chunked body's last chunk, or Content-Length bytes). kUnavailable, saying which, when the
  // connection breaks or closes before the body's end, or no byte arrives for the stall limit.
  virtual Result<std::string_view> read() = 0;
  // A chunked body's trailer fields (lower-case names); empty until read() has returned empty.
  virtual const std::map<std::string, std::string>& trailer() const = 0;
};

struct DownloadOptions {
  // Connecting, sending the request and receiving the answer's header, each step.
  int header_timeout_ms = 10000;
  // While the body arrives: a read() that waits longer than this for a byte fails.
  int stall_timeout_ms = 30000;
};

// GET `target` for a body too large to hold in memory. With status 200, `consume` gets the
// status and headers and pulls the body through the BodyReader before the connection closes;
// download() then returns consume's error, or the status and headers. For any other status
// the body (its first MiB) is in ClientResponse::body and `consume` is not called. Errors before
// the body as request().
Result<ClientResponse> download(
    const std::string& base_url, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::function<Status(const ClientResponse& head, BodyReader& body)>& consume,
    const DownloadOptions& options = {});

// HTTP/1.1 over a unix stream socket, for a local daemon's API (Docker's Engine API on
// /var/run/docker.sock is the user): one connection per call, closed after the answer, so calls
// may run concurrently from any thread. One deadline, `timeout` after the call starts, bounds
// the whole call (connecting, sending, the answer); a step still running then is cut off.
struct UnixRequest {
  std::string method = "GET";
  std::string target;              // e.g. "/v1.41/containers/json?all=1"
  std::string body;                // sent as application/json when not empty
  std::string host = "localhost";  // the Host header, which Go servers require
  std::chrono::milliseconds timeout{10000};
  size_t max_header_bytes = size_t{64} << 10;
  size_t max_response_bytes = kDefaultMaxResponseBytes;
};

// Why a unix-socket call failed, in parts, so that the caller can word it for its own user.
struct UnixFailure {
  enum class Step { kConnect, kSend, kReceive, kStream };  // kStream: a streamed answer's body
  enum class Kind { kTimedOut, kTooLarge, kBroken, kException };
  Step step = Step::kConnect;
  Kind kind = Kind::kBroken;
  std::string reason;  // the system's words (e.g. "Connection refused") or the exception's
};

struct UnixAnswer {
  std::optional<UnixFailure> failure;  // unset when the call succeeded
  // The answer; with a failure in Step::kStream its status and headers are set already.
  ClientResponse response;
};

// One request and its whole answer. A body over max_response_bytes fails with kTooLarge.
UnixAnswer unix_request(const std::string& socket_path, const UnixRequest& request);

// The same for an answer that streams (e.g. a followed log): the body goes to `on_data` piece by
// piece as it arrives (chunked transfer encoding undone) until the answer ends, `on_data`
// returns false, or the deadline passes (a kTimedOut failure, with the status already in the
// response when the header had arrived). For a status other than 200 the body (up to
// max_response_bytes of it) is in the response instead and `on_data` is not called.
UnixAnswer unix_stream(const std::string& socket_path, const UnixRequest& request,
                       const std::function<bool(std::string_view)>& on_data);

// The PEM file of CA certificates that https requests trust; empty (the default) = the
// system's default verify paths. Process-wide: main() sets it once at startup, before any
// request; a later call takes effect for requests that start after it.
void set_client_ca_file(std::string path);

// Serves `handler` on a unix stream socket at `socket_path` (the Docker volume plugin socket,
// /run/docker/plugins/berth.sock, is the user): HTTP/1.1 with keep-alive (no idle limit:
// Docker keeps connections open), requests read by one I/O thread and handled on worker
// threads like serve(), at most 1,024 connections. Bodies over `max_body_bytes` get 413; a
// header must arrive within `header_timeout` of its first byte and a body within
// `body_timeout` of the header's end, else 408 and the connection is closed. Creates the
// parent directory if missing.
// Only the owner (root, for the agent) may connect: the socket is bound under a temporary
// name, set to mode 0600 and renamed into place, which also replaces a stale socket file
// atomically. kConflict when another process answers on `socket_path` or the path is not a
// socket; kInvalidArgument when the path is too long for a unix socket. port() returns 0;
// stop() (and destruction) stops, joins and removes the socket file if it is still ours.
Result<std::unique_ptr<Server>> serve_unix(
    const std::string& socket_path, Handler handler, size_t max_body_bytes = 1 << 20,
    std::chrono::milliseconds header_timeout = kDefaultHeaderTimeout,
    std::chrono::milliseconds body_timeout = kDefaultBodyTimeout);

}  // namespace berth::http
