// Plain HTTP/1.1 types and the server/client entry points. Only server.cpp and client.cpp
// include Boost.Beast; everything else in berth speaks these structs.
// Used by the master (Marathon/berth APIs), the agent (its link to the master) and the CLI.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
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

  // The first value of a query parameter, or `fallback`.
  std::string query_value(const std::string& name, const std::string& fallback = "") const;
  bool query_flag(const std::string& name, bool fallback) const;  // "true"/"false"/"1"/"0"
  std::string header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set for a streamed answer (Server-Sent Events); `body` is then ignored. The server sends
  // the status line and headers with `Connection: close` and no Content-Length, then calls
  // `stream` on the connection's thread again and again and writes each chunk it appends as
  // soon as it returns. `stream` may block, but should return within about a second (with
  // nothing appended if it has nothing) so the server can notice a client that went away or
  // its own stop. Returning false ends the response and closes the connection. The server
  // stops calling it and destroys the Response when the client disconnects, a write fails or
  // stalls for kStreamStallLimitMs: state captured by `stream` learns of the end by being
  // destroyed.
  std::function<bool(std::string* chunk)> stream = nullptr;
};

// A streamed response whose client accepts no bytes for this long is cut off.
inline constexpr int kStreamStallLimitMs = 30000;

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;                  // 0 = any free port
  size_t max_connections = 4096;      // further connections are closed at once
  size_t max_body_bytes = 8 << 20;    // larger bodies get 413
};

// Serves `handler` on a TCP port, one thread per connection (handlers may block, e.g. a
// long poll). Stops and joins on destruction.
class Server {
 public:
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  virtual void stop() = 0;
};

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

// One blocking request. `base_url` is "http://host:port". kUnavailable when the peer cannot
// be reached, does not answer within timeout_ms, or answers with a body larger than
// `max_response_bytes` (the message says so).
Result<ClientResponse> request(const std::string& base_url, const std::string& method,
                               const std::string& target, const std::string& body = "",
                               int timeout_ms = 10000,
                               const std::vector<std::pair<std::string, std::string>>& headers = {},
                               size_t max_response_bytes = kDefaultMaxResponseBytes);

// Serves `handler` on a unix stream socket at `socket_path` (the Docker volume plugin socket,
// /run/docker/plugins/berth.sock, is the user): HTTP/1.1 with keep-alive, one thread per
// connection, bodies over `max_body_bytes` get 413. Creates the parent directory if missing.
// Only the owner (root, for the agent) may connect: the socket is bound under a temporary
// name, set to mode 0600 and renamed into place, which also replaces a stale socket file
// atomically. kConflict when another process answers on `socket_path` or the path is not a
// socket; kInvalidArgument when the path is too long for a unix socket. port() returns 0;
// stop() (and destruction) stops, joins and removes the socket file if it is still ours.
Result<std::unique_ptr<Server>> serve_unix(const std::string& socket_path, Handler handler,
                                           size_t max_body_bytes = 1 << 20);

}  // namespace berth::http
